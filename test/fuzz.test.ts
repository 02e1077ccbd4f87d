// A short network fuzz run inside npm test (npm run fuzz is the long one): random and mutated
// HTTP requests against the real server; the process stays up, nothing answers 5xx, memory and
// event-loop delay stay bounded.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ADMIN_TOKEN, removeDir, send, startServer } from './support/harness.ts';
import { fuzzServer } from './support/fuzz.ts';
import { processFigures } from './fuzz-many.ts';

test('3000 fuzzed requests: no 5xx, no crash, memory and event-loop delay bounded', async () => {
  const server = await startServer({ HTTP_BODY_TIMEOUT_MS: '1000' });
  const seed = Date.now();
  try {
    assert.equal((await send(`${server.url}/lead`, { phone: '+905321234567', message: 'seed lead' }, { 'Content-Type': 'application/json' })).status, 201);
    const before = await processFigures(server.url);
    const stats = await fuzzServer(server, 3000, seed);
    const after = await processFigures(server.url);
    assert.equal(stats.fiveXx.length, 0, `seed ${seed}: ${JSON.stringify(stats.fiveXx.slice(0, 3))}`);
    assert.equal((await fetch(`${server.url}/healthz`)).status, 200, 'still up');
    assert.ok(stats.byClass['4xx']! > 1000 && stats.byClass['2xx']! > 10, JSON.stringify(stats));
    assert.ok(after.rssMb - before.rssMb < 150, `RSS ${before.rssMb} → ${after.rssMb} MB`);
    assert.ok(after.maxLoopDelayMs < 1000, `event loop stalled ${after.maxLoopDelayMs} ms`);
    const status = await fetch(`${server.url}/api/admin/status`, { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } });
    assert.equal(status.status, 200);
  } finally {
    await server.stop();
    removeDir(server.dataDir);
  }
});
