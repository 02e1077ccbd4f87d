// npm run bench:server-memory: the server's memory with ClickHouse in another process
// (CLICKHOUSE_URL; here the chdb-backed stand-in of test/support/clickhouse-http.ts, on core 1):
// RSS idle after start, the peak while wrk sends beacons as fast as it can for BENCH_SECONDS
// (server on core 0, wrk on core 1), and idle again after. Prints one summary line.
// Needs wrk and taskset (Debian: apt-get install -y wrk util-linux).
import { spawn } from 'node:child_process';
import { BENCH_TOKEN, startPinned } from './child.ts';
import { rate, requireTools, Wrk } from './wrk.ts';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
requireTools();
const work = mkdtempSync(join(tmpdir(), 'lc-bench-mem-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));

const rssMb = (pid: number) => Number(/^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
const settle = (ms: number) => new Promise((r) => setTimeout(r, ms));

const clickhouse = await startPinned('1', 'test/support/clickhouse-http.ts', [join(work, 'ch'), 'bench', 'bench-pass'], {}, /^listening (\d+)$/, work);
const server = await startPinned('0', 'scripts/start.mjs', [], {
  PORT: '0', HOST: '127.0.0.1', DATA_DIR: join(work, 'data'), LOG_LEVEL: 'info', ADMIN_TOKEN: BENCH_TOKEN,
  CLICKHOUSE_URL: `http://127.0.0.1:${clickhouse.port}`, CLICKHOUSE_USER: 'bench', CLICKHOUSE_PASSWORD: 'bench-pass',
  CONNECTIONS_CHECK_DELAY_MS: '0', SPEND_SYNC_MINUTES: '0', RATE_LIMIT_COLLECT: '0', RATE_LIMIT_GLOBAL: '0',
  ...(process.env.BENCH_NODE_OPTIONS ? { NODE_OPTIONS: process.env.BENCH_NODE_OPTIONS } : {}),
}, /"port":(\d+),"msg":"listening"/, work);
const pid = server.child.pid!;
await settle(5000);
const idle = rssMb(pid);
const chdbMapped = readFileSync(`/proc/${pid}/maps`, 'utf8').includes('chdb');

const sampler = spawn('sh', ['-c', `while kill -0 ${pid} 2>/dev/null; do grep VmRSS /proc/${pid}/status; sleep 0.1; done`], { stdio: ['ignore', 'pipe', 'ignore'] });
let peakKb = 0;
sampler.stdout!.on('data', (chunk: Buffer) => {
  for (const m of chunk.toString().matchAll(/VmRSS:\s+(\d+) kB/g)) peakKb = Math.max(peakKb, Number(m[1]));
});
const result = new Wrk(work).run({ port: server.port, seconds: SECONDS, connections: 64 });
sampler.kill();
await settle(10_000);
const after = rssMb(pid);
console.log(
  `bench server mode: RSS idle ${idle.toFixed(0)} MB, peak ${(peakKb / 1024).toFixed(0)} MB at ${rate(result).toFixed(0)} beacons/s (${result.status_errors} errors), ` +
    `${after.toFixed(0)} MB 10 s after | chdb loaded: ${chdbMapped ? 'yes' : 'no'}`,
);
process.exit(0);
