// npm run test:crash [runs]: the crash harness of test/crash.test.ts, many times (default 50).
// Prints one line per run and the totals; exits 1 if any acknowledged beacon was lost or doubled.
import { crashRuns } from './support/crash.ts';

const runs = Number(process.argv[2] ?? 50);
const started = Date.now();
const totals = await crashRuns(runs, (i, r) => console.log(`run ${i + 1}/${runs}: acked ${r.acked}, lost ${r.lost}, duplicated ${r.duplicated}`));
console.log(
  `crash harness: ${totals.runs} runs of kill -9 under load in ${Math.round((Date.now() - started) / 1000)} s: ` +
    `acked ${totals.acked}, lost ${totals.lost}, duplicated ${totals.duplicated}`,
);
process.exit(totals.lost === 0 && totals.duplicated === 0 ? 0 : 1);
