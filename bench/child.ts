// Processes a benchmark starts: pinned to a core, in a work directory, killed when the bench
// exits; resolved once a line of their output says they are ready.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SERVER_NODE_FLAGS } from '../test/support/harness.ts';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
const children: ChildProcess[] = [];
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

/**
 * Runs `script` (a path under the repository, then its arguments) on `core`: the server as it
 * ships (scripts/start.mjs, plain JavaScript, with the node options and MALLOC_ARENA_MAX=2 that npm
 * start, the Dockerfile and the systemd unit give it), anything else through tsx. `ready`'s first group is the port.
 */
export function startPinned(core: string, script: string, args: string[], env: Record<string, string>, ready: RegExp, cwd: string): Promise<{ child: ChildProcess; port: number; output: string[] }> {
  const loader = script.endsWith('.mjs') ? SERVER_NODE_FLAGS : ['--import', import.meta.resolve('tsx')];
  const child = spawn('taskset', ['-c', core, process.execPath, ...loader, join(ROOT, script), ...args], {
    cwd,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', MALLOC_ARENA_MAX: process.env.MALLOC_ARENA_MAX ?? '2', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  const output: string[] = [];
  return new Promise((resolve, reject) => {
    for (const stream of [child.stdout!, child.stderr!]) {
      createInterface({ input: stream }).on('line', (line) => {
        output.push(line);
        const m = ready.exec(line);
        if (m) resolve({ child, port: Number(m[1]), output });
      });
    }
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code}:\n${output.join('\n')}`)));
  });
}

export const BENCH_TOKEN = 'bench-admin-token-0123456789';

/**
 * The embedded server's environment in the benchmarks: its defaults but for the rate limits (wrk
 * is one client) and the connections check, which would run during the measurement.
 */
export function benchServerEnv(dataDir: string, geoPath: string, more: Record<string, string> = {}): Record<string, string> {
  return {
    PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, GEOIP_CITY_DB: geoPath, TRUST_PROXY: '1', ADMIN_TOKEN: BENCH_TOKEN, LOG_LEVEL: 'info',
    RATE_LIMIT_COLLECT: '0', RATE_LIMIT_GLOBAL: '0', CONNECTIONS_CHECK_DELAY_MS: '0', ...more,
  };
}

/** A metric's value; `name` may carry its labels, e.g. lc_clickhouse_insert_seconds_count{outcome="ok"}. */
export async function metric(port: number, name: string): Promise<number> {
  const scrape = () => fetch(`http://127.0.0.1:${port}/metrics`, { headers: { Authorization: `Bearer ${BENCH_TOKEN}` } });
  // Once more on a fresh connection when the kept-alive one was closed for idling while wrk ran.
  const text = await (await scrape().catch(scrape)).text();
  const m = new RegExp(`^${name.replace(/[{}"]/g, (c) => '\\' + c)} ([0-9.e+-]+)$`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
}

/** Waits until no row waits for ClickHouse (at most 60 s); returns the rows that waited and how long it took (undefined: some still wait). */
export async function drainBacklog(port: number): Promise<{ rows: number; clearedMs: number | undefined }> {
  const started = performance.now();
  const rows = await metric(port, 'lc_batch_pending_rows');
  let pending = rows;
  while (pending > 0 && performance.now() - started < 60_000) {
    await new Promise((r) => setTimeout(r, 100));
    pending = await metric(port, 'lc_batch_pending_rows');
  }
  return { rows, clearedMs: pending > 0 ? undefined : performance.now() - started };
}
