// Loaded into the server by bench/stalls.ts (NODE_OPTIONS=--import=…): a 1 ms timer that reports
// each gap between its ticks longer than 4 ms on stderr, with the window's ends in CLOCK_MONOTONIC
// seconds (process.hrtime), the clock the bench samples the host's steal time on. The gap, not the
// lateness past 1 ms: it is what npm run bench's stall (monitorEventLoopDelay's max) measures.
let last = process.hrtime.bigint();
setInterval(() => {
  const now = process.hrtime.bigint();
  const gapMs = Number(now - last) / 1e6;
  if (gapMs > 4) process.stderr.write(`LATE ${gapMs.toFixed(2)} ${Number(last) / 1e9} ${Number(now) / 1e9}\n`);
  last = now;
}, 1).unref();
