// npm run fuzz [-- requests] [seed]: a long network fuzz run against the real server (default
// 50 000 requests); prints one line: requests, crashes, 5xx, answers by class, memory (before, right
// after, and at rest 30 s later) and the worst event-loop delay. Exit code 1 on any crash or 5xx
// (with the first few requests that did it).
import { ADMIN_TOKEN, removeDir, send, startServer } from './support/harness.ts';
import { FUZZ_SECRETS, fuzzServer, ingestStillFlows } from './support/fuzz.ts';

/** Resident memory and the worst event-loop delay since the previous scrape, from /metrics. */
export async function processFigures(url: string): Promise<{ rssMb: number; maxLoopDelayMs: number }> {
  const text = await (await fetch(`${url}/metrics`, { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } })).text();
  const value = (name: string) => Number(new RegExp(`^${name} ([0-9.e+-]+)$`, 'm').exec(text)?.[1] ?? NaN);
  return { rssMb: Math.round(value('process_resident_memory_bytes') / 1e6), maxLoopDelayMs: Math.round(value('lc_event_loop_delay_max_seconds') * 1000) };
}

const AT_REST_MS = 30_000;

if (import.meta.url === `file://${process.argv[1]}`) {
  const requests = Number(process.argv[2] ?? 50_000);
  const seed = Number(process.argv[3] ?? Date.now());
  const server = await startServer({ HTTP_BODY_TIMEOUT_MS: '1000', ...FUZZ_SECRETS });
  let crashes = 0;
  void server.exited.then((code) => {
    if (code !== null && code !== 0) crashes++;
  });
  try {
    await send(`${server.url}/lead`, { phone: '+905321234567', message: 'seed lead' }, { 'Content-Type': 'application/json' });
    const before = await processFigures(server.url);
    let worstDelay = 0;
    const stats = await fuzzServer(server, requests, seed, 16, (s) => {
      void processFigures(server.url).then((f) => (worstDelay = Math.max(worstDelay, f.maxLoopDelayMs)), () => crashes++);
      process.stderr.write(`\r${s.requests} requests…`);
    });
    const after = await processFigures(server.url).catch(() => ({ rssMb: NaN, maxLoopDelayMs: NaN }));
    if ((await fetch(`${server.url}/healthz`).then((r) => r.status, () => 0)) !== 200) crashes++;
    const flow = await ingestStillFlows(server).catch((err: Error) => ({ error: err.message }));
    // What the run grew and the server still holds once it rests.
    await new Promise((r) => setTimeout(r, AT_REST_MS));
    const rested = await processFigures(server.url).catch(() => ({ rssMb: NaN }));
    const classes = Object.entries(stats.byClass).sort().map(([c, n]) => `${c} ${n}`).join(', ');
    process.stderr.write('\n');
    process.stdout.write(
      `fuzz: ${stats.requests} requests, ${crashes} crashes, ${stats.fiveXx.length} 5xx | ${classes}, closed without answer ${stats.closedWithoutAnswer} | ` +
        `RSS ${before.rssMb} → ${after.rssMb} MB, ${rested.rssMb} MB at rest ${AT_REST_MS / 1000} s later, worst event-loop delay ${Math.max(worstDelay, after.maxLoopDelayMs)} ms | ` +
        `${'error' in flow ? `ingest STOPPED: ${flow.error}` : `ingest after: poison + 10 beacons confirmed in ${flow.confirmedInMs} ms, ${flow.parkedRows} rows parked`} | seed ${seed}\n`,
    );
    for (const f of stats.fiveXx.slice(0, 3)) process.stdout.write(`5xx for:\n${f.request}\n→ ${f.response}\n`);
    process.exitCode = crashes > 0 || stats.fiveXx.length > 0 || 'error' in flow ? 1 : 0;
  } finally {
    await server.stop();
    removeDir(server.dataDir);
  }
}
