// npm run bench:stalls: what the event loop's stalls at half the peak rate are made of on this
// machine. The server (as it ships, on core 0) carries a 1 ms timer that reports each gap longer
// than 4 ms between its ticks (bench/late-ticks.mjs: the gap, as npm run bench's stall counts it),
// while this process samples core 0's steal time every 2 ms:
// the time the host gave this virtual machine's core to another guest, when nothing of ours runs.
// The sequence is bench/ingest.ts's: a burst at full rate, the backlog drained, then half that
// rate. For the stalls at half rate, the steal inside their windows is compared with the steal in
// the same windows moved ±0.5–1.5 s (what chance gives). Prints one summary line.
// Needs wrk and taskset (Debian: apt-get install -y wrk util-linux).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { writeBenchCityDb } from './beacons.ts';
import { benchServerEnv, drainBacklog, ROOT, startPinned } from './child.ts';
import { rate, requireTools, stolenMs, TICK_MS, WARMUP_SECONDS, Wrk } from './wrk.ts';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = 64;
const PACED_DELAY_MS = 10;
// As npm run bench's main figure: exponential waits; BENCH_PACING=fixed for its second (bench/beacons.lua).
const PACING = process.env.BENCH_PACING === 'fixed' ? 'fixed' : 'exponential';
const MOVES_S = [-1.5, -1, -0.5, 0.5, 1, 1.5];

requireTools();
const work = mkdtempSync(join(tmpdir(), 'lc-bench-stalls-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));
// This process samples every 2 ms: on wrk's core, not the server's.
spawnSync('taskset', ['-a', '-p', '-c', '1', String(process.pid)], { stdio: 'ignore' });

const env = benchServerEnv(join(work, 'data'), writeBenchCityDb(work), { NODE_OPTIONS: `--import=${join(ROOT, 'bench/late-ticks.mjs')}` });
const server = await startPinned('0', 'scripts/start.mjs', [], env, /"port":(\d+),"msg":"listening"/, work);
const load = new Wrk(work);
load.run({ port: server.port, seconds: WARMUP_SECONDS, connections: CONNECTIONS });
const peak = load.run({ port: server.port, seconds: SECONDS, connections: CONNECTIONS });
await drainBacklog(server.port);

// Half the peak rate, core 0's steal sampled throughout (CLOCK_MONOTONIC seconds, as the server's ticks).
const clock = () => Number(process.hrtime.bigint()) / 1e9;
const samples: Array<{ at: number; stolen: number }> = [];
const sample = () => samples.push({ at: clock(), stolen: stolenMs() });
const firstLine = server.output.length;
const sampler = setInterval(sample, 2);
sample();
const paced = await load.start({ port: server.port, seconds: SECONDS, connections: Math.max(1, Math.round(((rate(peak) / 2) * PACED_DELAY_MS) / 1000)), delayMs: PACED_DELAY_MS, pacing: PACING });
await sleep(3 * TICK_MS); // steal is counted when the core is back: a tick after a window
clearInterval(sampler);
sample();

/** Core 0's steal counter at `at` (the last sample before it). */
function stolenAt(at: number): number {
  let lo = 0;
  let hi = samples.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (samples[mid]!.at <= at) lo = mid;
    else hi = mid - 1;
  }
  return samples[lo]!.stolen;
}
const first = samples[0]!.at;
const last = samples.at(-1)!.at - TICK_MS / 1000;
/** Steal from a window's start to one tick past its end, when the counter has caught up. */
const stolenIn = (from: number, to: number) => stolenAt(to + TICK_MS / 1000) - stolenAt(from);

const stalls = server.output
  .slice(firstLine)
  .map((line) => /^LATE ([\d.]+) ([\d.]+) ([\d.]+)$/.exec(line))
  .filter((m) => m !== null)
  .map((m) => ({ gapMs: Number(m[1]), from: Number(m[2]), to: Number(m[3]) }))
  .filter((s) => s.from >= first && s.to <= last);

function describe(label: string, group: typeof stalls): string {
  if (group.length === 0) return `${label}: none`;
  const totalMs = group.reduce((n, s) => n + (s.to - s.from) * 1000, 0);
  const stolen = group.reduce((n, s) => n + stolenIn(s.from, s.to), 0);
  let moved = 0;
  for (const s of group) {
    const fits = MOVES_S.filter((d) => s.from + d >= first && s.to + d <= last);
    moved += fits.reduce((n, d) => n + stolenIn(s.from + d, s.to + d), 0) / Math.max(1, fits.length);
  }
  // Of the time looked at: each window and the tick after it.
  const share = (ms: number) => `${((100 * ms) / (totalMs + group.length * TICK_MS)).toFixed(0)} %`;
  return `${label}: ${group.length}, ${totalMs.toFixed(0)} ms in all, longest ${Math.max(...group.map((s) => s.gapMs)).toFixed(1)} ms; ` +
    `core 0 stolen ${stolen.toFixed(0)} ms (${share(stolen)}) in them and the tick after each, ${moved.toFixed(0)} ms (${share(moved)}) in the same moved ±0.5–1.5 s`;
}

const phaseStolen = (samples.at(-1)!.stolen - samples[0]!.stolen) / ((samples.at(-1)!.at - samples[0]!.at) * 1000);
console.log(
  `bench stalls: at ${rate(paced).toFixed(0)}/s for ${SECONDS} s (half the peak of ${rate(peak).toFixed(0)}/s, ${PACING} waits): p99 ${(paced.p99_us / 1000).toFixed(2)} ms, ` +
    `core 0 stolen by the host ${(phaseStolen * 100).toFixed(1)} % of the time (steal counted in ${TICK_MS} ms ticks)` +
    ` | event-loop stalls (gaps between 1 ms ticks) ≥ 10 ms — ${describe('count', stalls.filter((s) => s.gapMs >= 10))}` +
    ` | 4–10 ms — ${describe('count', stalls.filter((s) => s.gapMs < 10))}`,
);
process.exit(0);
