// Process crash: a beacon answered 204 is in ClickHouse after kill -9 and restart, exactly once.
// `npm run test:crash` runs the same harness many more times.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { crashRuns } from './support/crash.ts';

test('beacons acknowledged before kill -9 are in ClickHouse exactly once after the restart (3 runs)', async () => {
  const totals = await crashRuns(3, (i, r) => console.log(`# crash run ${i + 1}: acked ${r.acked}, lost ${r.lost}, duplicated ${r.duplicated}`));
  console.log(`# crash totals: runs ${totals.runs}, acked ${totals.acked}, lost ${totals.lost}, duplicated ${totals.duplicated}`);
  assert.ok(totals.acked > 100, 'the client had beacons acknowledged before each kill');
  assert.equal(totals.lost, 0);
  assert.equal(totals.duplicated, 0);
});
