// wrk as the benchmarks run it: on core 1, posting the beacons a browser sends (bench/beacons.lua
// reads them from a file), with what the lua script reports, and how much of the run this virtual
// machine's cores were not running at all because the host gave them to another guest: core 0 (the
// server's) and core 1 (wrk's own: while it is stolen, answers wait unread and count as latency).
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './child.ts';
import { BEACON_AGENT, writeWrkBeacons } from './beacons.ts';

export interface WrkResult {
  requests: number;
  duration_us: number;
  status_errors: number;
  connect_errors: number;
  read_errors: number;
  write_errors: number;
  timeouts: number;
  p50_us: number;
  p99_us: number;
  max_us: number;
  /** The share of the run core 0 (the server's) was stolen by the host ("steal" in /proc/stat). */
  stolen: number;
  /** The same for core 1, wrk's. */
  wrkStolen: number;
}

export interface WrkRun {
  port: number;
  seconds: number;
  connections: number;
  /** Each connection waits this long between requests (paced load); 0: as fast as the server answers. */
  delayMs?: number;
  /**
   * How the waits are drawn (bench/beacons.lua): exponentially around delayMs, as independent
   * visitors arrive (the default), or all exactly delayMs, which puts the connections in step.
   */
  pacing?: 'exponential' | 'fixed';
}

// A fresh server runs at a third to half its speed for its first seconds while V8 compiles the hot
// path (measured: 7–25k beacons/s in its first second, 25–38k after ten); a running server is warm.
export const WARMUP_SECONDS = 8;

export const TICK_MS = 1000 / (Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout?.trim()) || 100);

/** A core's steal time so far, in ms (counted in ticks of TICK_MS): while it grows, that core runs nothing of ours. */
export function stolenMs(core = 0): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n').find((l) => l.startsWith(`cpu${core} `));
  return Number(line?.split(/\s+/)[8] ?? 0) * TICK_MS;
}

/** Runs wrk and returns its result; `dir` is where the beacons file is written (once per directory). */
export class Wrk {
  private readonly env: NodeJS.ProcessEnv;

  constructor(dir: string) {
    this.env = { ...process.env, BEACONS: writeWrkBeacons(dir), BEACON_AGENT };
  }

  /** Blocks until wrk is done (nothing else of the bench runs meanwhile). */
  run(r: WrkRun): WrkResult {
    const stolenBefore = [stolenMs(0), stolenMs(1)] as const;
    const { stdout, stderr } = spawnSync('taskset', this.args(r), { env: this.envOf(r), encoding: 'utf8' });
    return this.result(stdout, stderr, stolenBefore);
  }

  /** Lets the bench do other work (sample, scrape) while wrk runs. */
  start(r: WrkRun): Promise<WrkResult> {
    const stolenBefore = [stolenMs(0), stolenMs(1)] as const;
    const child = spawn('taskset', this.args(r), { env: this.envOf(r), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
    return new Promise((resolve, reject) => {
      child.once('error', reject);
      child.once('close', () => {
        try {
          resolve(this.result(stdout, stderr, stolenBefore));
        } catch (err) {
          reject(err as Error);
        }
      });
    });
  }

  private args(r: WrkRun): string[] {
    return ['-c', '1', 'wrk', '-t1', `-c${r.connections}`, `-d${r.seconds}s`, '--timeout', '5s', '-s', join(ROOT, 'bench/beacons.lua'), `http://127.0.0.1:${r.port}/collect`];
  }

  private envOf(r: WrkRun): NodeJS.ProcessEnv {
    return { ...this.env, DELAY_MS: String(r.delayMs ?? 0), PACING: r.pacing ?? 'exponential' };
  }

  private result(stdout: string, stderr: string, stolenBefore: readonly [number, number]): WrkResult {
    const line = stdout.split('\n').find((l) => l.startsWith('WRK '));
    if (!line) throw new Error(`wrk failed:\n${stdout}\n${stderr}`);
    const result = JSON.parse(line.slice(4)) as Omit<WrkResult, 'stolen' | 'wrkStolen'>;
    const ms = result.duration_us / 1000;
    return { ...result, stolen: (stolenMs(0) - stolenBefore[0]) / ms, wrkStolen: (stolenMs(1) - stolenBefore[1]) / ms };
  }
}

/** Exits with a clear message when wrk or taskset is missing. */
export function requireTools(): void {
  for (const tool of ['wrk', 'taskset']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) {
      console.error(`bench: ${tool} is not installed (Debian: apt-get install -y ${tool === 'wrk' ? 'wrk' : 'util-linux'})`);
      process.exit(2);
    }
  }
}

export const rate = (r: WrkResult) => r.requests / (r.duration_us / 1e6);
