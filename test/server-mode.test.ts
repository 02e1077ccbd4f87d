// End to end with CLICKHOUSE_URL: the same server writes to a ClickHouse server through
// @clickhouse/client. Runs against the chdb-backed stand-in, or a real server from CLICKHOUSE_TEST_URL.
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { createClient, type ClickHouseClient } from '@clickhouse/client';
import { adminGet, eventually, removeDir, send, startClickHouseServer, startServer, type ClickHouseUnderTest, type RunningServer } from './support/harness.ts';
import { startProxy, type CuttableProxy } from './support/tcp-proxy.ts';
import { HOTTOK, hotmartBody, post } from './support/checkouts.ts';

describe('ingest on a ClickHouse server', () => {
  let clickhouse: ClickHouseUnderTest;
  let proxy: CuttableProxy;
  let server: RunningServer;
  let direct: ClickHouseClient;
  const database = `lc_test_${randomBytes(4).toString('hex')}`;
  const count = async () => {
    const rs = await direct.query({ query: `SELECT count() AS n FROM ${database}.events`, format: 'JSONEachRow' });
    return Number((await rs.json<{ n: string }>())[0]!.n);
  };

  before(async () => {
    clickhouse = await startClickHouseServer();
    proxy = await startProxy(clickhouse.url);
    direct = createClient({ url: clickhouse.url, username: clickhouse.user, password: clickhouse.password });
    server = await startServer({
      CLICKHOUSE_URL: proxy.url,
      CLICKHOUSE_DATABASE: database,
      CLICKHOUSE_USER: clickhouse.user,
      CLICKHOUSE_PASSWORD: clickhouse.password,
      FLUSH_INTERVAL_MS: '200',
      TIMEZONE: 'Europe/Istanbul',
      HOTMART_HOTTOK: HOTTOK,
    });
  });
  after(async () => {
    await server.stop();
    removeDir(server.dataDir);
    await direct.command({ query: `DROP DATABASE IF EXISTS ${database}` }).catch(() => undefined);
    await direct.close();
    await proxy.close();
    await clickhouse.stop();
  });

  test('the database is created, migrated, and beacons become rows', async () => {
    const beacon = {
      id: '0f8fad5b-d9cb-469f-a165-70867728950e',
      type: 'whatsapp',
      url: 'https://plumber.example.com/?wbraid=WB-3&utm_source=meta',
      visitorId: 'v-1',
      props: { ref: 'K7Q2M' },
    };
    assert.equal((await send(`${server.url}/collect`, beacon)).status, 204);
    const rows = await eventually(async () => {
      const rs = await direct.query({
        query: `SELECT event_id, type, wbraid, utm_source, props, device FROM ${database}.events WHERE event_id = {id:UUID}`,
        query_params: { id: beacon.id },
        format: 'JSONEachRow',
      });
      const found = await rs.json<Record<string, unknown>>();
      return found.length > 0 ? found : undefined;
    }, 10_000, 'the row in the ClickHouse server');
    assert.deepEqual(rows, [{ event_id: beacon.id, type: 'whatsapp', wbraid: 'WB-3', utm_source: 'meta', props: { ref: 'K7Q2M' }, device: 'mobile' }]);

    const status = await adminGet<{ clickhouse: Record<string, unknown> }>(server, '/api/admin/status');
    assert.equal(status.clickhouse.mode, 'server');
    assert.equal(status.clickhouse.reachable, true);
    assert.match(String(status.clickhouse.version), /^\d+\.\d+/);
    const events = await adminGet<{ events: Array<Record<string, unknown>> }>(server, '/api/admin/events?limit=5');
    assert.ok(events.events.some((e) => e.event_id === beacon.id));
    assert.ok(events.events.some((e) => e.type === 'lead' && e.name === 'whatsapp'), 'the WhatsApp click became a lead');

    // The connections check in server mode: the test query and the user's rights (insert, and alter for erasure).
    const doctor = await adminGet<{ checks: Array<{ status: string; integration: string; tried: string }> }>(server, '/api/admin/doctor');
    const clickhouseChecks = doctor.checks.filter((c) => c.integration === 'ClickHouse').map((c) => `${c.status} ${c.tried}`);
    assert.match(clickhouseChecks[0]!, /^ok server mode: a test query answered; schema at version \d+; \d+ active parts$/);
    assert.ok(clickhouseChecks.some((c) => /^ok the user may insert into and alter \w+$/.test(c)), clickhouseChecks.join('\n'));
  });

  test("a visit at 23:30 in Istanbul counts on Istanbul's day, and one at 01:30 on the next", async () => {
    // ClickHouse keeps UTC; 20:30 UTC is 23:30 in Istanbul (UTC+3), 22:30 UTC is 01:30 the next day there.
    const visit = (session: string, at: string) => ({ event_id: randomUUID(), event_time: at, received_at: at, type: 'pageview', session_id: session, visitor_id: session, url: 'https://usta.example.com/', path: '/' });
    await direct.insert({ table: `${database}.events`, values: [visit('late', '2026-11-30 20:30:00.000'), visit('after-midnight', '2026-11-30 22:30:00.000')], format: 'JSONEachRow' });
    const stats = await adminGet<{ byDay: Array<{ day: string; visits: number }>; timeZone: string }>(server, '/api/admin/stats?from=2026-11-29T21:00:00Z&to=2026-12-01T21:00:00Z');
    assert.equal(stats.timeZone, 'Europe/Istanbul');
    assert.deepEqual(stats.byDay.map(({ day, visits }) => ({ day, visits })), [{ day: '2026-11-30', visits: 1 }, { day: '2026-12-01', visits: 1 }]);
  });

  test('during a ClickHouse outage beacons are still accepted, /readyz says so, and every row arrives once after it', async () => {
    const before = await count();
    await proxy.cut();
    const outageBeacons = Array.from({ length: 25 }, (_, i) => ({ type: 'pageview', url: `https://plumber.example.com/outage/${i}` }));
    for (const b of outageBeacons) assert.equal((await send(`${server.url}/collect`, b)).status, 204);

    const notReady = await eventually(async () => {
      const res = await fetch(`${server.url}/readyz`);
      return res.status === 503 ? ((await res.json()) as { pendingRows: number; type: string }) : undefined;
    }, 10_000, '/readyz to report the outage');
    assert.equal(notReady.type, '/problems/not-ready');
    assert.equal(notReady.pendingRows, 25);
    assert.doesNotMatch(JSON.stringify(notReady), /ECONN|socket|Error|Code: \d+|127\.0\.0\.1/, 'public readiness tells no internals');

    // A checkout's sale that names a visitor waits for ClickHouse to say who that was: 503, so the
    // platform sends it again, and nothing is recorded half-way.
    const sale = hotmartBody('PURCHASE_APPROVED', { transaction: 'HP-OUTAGE-1', price: 97, sck: 'v-outage', buyer: { name: 'Ana', email: 'ana.outage@gmail.com', phone: '11987650001' } });
    const waiting = await post.hotmart(server.url, sale);
    assert.equal(waiting.status, 503);
    assert.equal(waiting.headers.get('retry-after'), '60');
    assert.equal((await adminGet<{ leads: unknown[] }>(server, '/api/admin/leads?q=ana.outage')).leads.length, 0);

    await proxy.restore();
    await eventually(async () => ((await count()) === before + 25 ? true : undefined), 60_000, 'the backlog to drain');
    const ready = await fetch(`${server.url}/readyz`);
    assert.equal(ready.status, 200);
    assert.equal(((await ready.json()) as { pendingRows: number }).pendingRows, 0);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(await count(), before + 25, 'no row inserted twice');
    assert.equal((await post.hotmart(server.url, sale)).status, 200, 'the sale, sent again once ClickHouse answers');
    assert.equal((await adminGet<{ leads: unknown[] }>(server, '/api/admin/leads?q=ana.outage')).leads.length, 1);
  });
});

test('a wrong ClickHouse password stops the server at start with the reason', async () => {
  const clickhouse = await startClickHouseServer();
  try {
    await assert.rejects(
      startServer({ CLICKHOUSE_URL: clickhouse.url, CLICKHOUSE_USER: clickhouse.user, CLICKHOUSE_PASSWORD: 'wrong' }),
      /exited with 1[\s\S]*(Authentication failed|AUTHENTICATION_FAILED)/,
    );
  } finally {
    await clickhouse.stop();
  }
});
