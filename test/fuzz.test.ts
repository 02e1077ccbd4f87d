// A short network fuzz run inside npm test (npm run fuzz is the long one): random and mutated
// HTTP requests against the real server; the process stays up, nothing answers 5xx, memory and
// event-loop delay stay bounded.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { test } from 'node:test';
import { ADMIN_TOKEN, removeDir, send, startServer } from './support/harness.ts';
import { FUZZ_SECRETS, fuzzServer, ingestStillFlows } from './support/fuzz.ts';
import { processFigures } from './fuzz-many.ts';

test('3000 fuzzed requests, hostile bodies among them: no 5xx, no crash, memory and event-loop delay bounded, and ingest still confirms rows', async () => {
  const server = await startServer({ HTTP_BODY_TIMEOUT_MS: '1000', ...FUZZ_SECRETS });
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
    const flow = await ingestStillFlows(server);
    assert.equal(flow.parkedRows, 0, 'every hostile text was made well-formed at the edge');
  } finally {
    await server.stop();
    removeDir(server.dataDir);
  }
});

test('inputs fuzzing once turned into 500s now get a 2xx or a 4xx', async () => {
  const server = await startServer({ ...FUZZ_SECRETS });
  try {
    // Google lead form: a null column and ids that are not ids (String() of {toString: 1} throws).
    const google = await send(`${server.url}/hooks/google-lead-form`, { google_key: FUZZ_SECRETS.GOOGLE_LEAD_FORM_KEY, lead_id: 'L-1', user_column_data: [null, 3, { column_id: 'PHONE_NUMBER', string_value: '+905321234567' }], campaign_id: { toString: 1 }, form_id: [1] }, { 'Content-Type': 'application/json' });
    assert.equal(google.status, 200);
    // Stripe: signed, but not an object; or an object whose currency is not text.
    for (const event of [null, { id: 'evt_1', type: 'payment_intent.succeeded', data: { object: { amount_received: 100, currency: { toString: 1 } } } }, { id: 'evt_2', type: 'payment_intent.succeeded', data: { object: { amount_received: -5, currency: 'try' } } }]) {
      const body = JSON.stringify(event);
      const t = Math.floor(Date.now() / 1000);
      const signature = `t=${t},v1=${createHmac('sha256', FUZZ_SECRETS.STRIPE_WEBHOOK_SECRET).update(`${t}.${body}`).digest('hex')}`;
      const res = await fetch(`${server.url}/hooks/stripe`, { method: 'POST', headers: { 'Content-Type': 'application/json', 'Stripe-Signature': signature }, body });
      assert.equal(res.status, 400, body);
    }
  } finally {
    await server.stop();
    removeDir(server.dataDir);
  }
});
