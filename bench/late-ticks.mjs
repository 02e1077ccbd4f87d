// Loaded into the server by bench/stalls.ts (NODE_OPTIONS=--import=…): a 1 ms timer that reports
// each tick more than 4 ms late on stderr, with the window's ends in CLOCK_MONOTONIC seconds
// (process.hrtime), the clock the bench samples the host's steal time on.
let last = process.hrtime.bigint();
setInterval(() => {
  const now = process.hrtime.bigint();
  const lateMs = Number(now - last) / 1e6 - 1;
  if (lateMs > 4) process.stderr.write(`LATE ${lateMs.toFixed(2)} ${Number(last) / 1e9} ${Number(now) / 1e9}\n`);
  last = now;
}, 1).unref();
