// End to end on the default (embedded ClickHouse) setup: beacons over HTTP → rows in ClickHouse.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { cityRecord, writeMmdb } from './support/mmdb.ts';
import {
  adminGet, DESKTOP_UA, eventually, queryEmbedded, removeDir, send, startServer, tempDir, type RunningServer,
} from './support/harness.ts';

type Row = Record<string, unknown>;

function geoFixture(dir: string): string {
  const path = join(dir, 'city.mmdb');
  writeFileSync(path, writeMmdb({
    '81.214.0.0/16': cityRecord('TR', 'Istanbul', 'Istanbul'),
    '2a02:e0::/32': cityRecord('DE', 'Bavaria', 'Munich'),
  }));
  return path;
}

describe('ingest on embedded ClickHouse', () => {
  let fixtures: string;
  let server: RunningServer;

  before(async () => {
    fixtures = tempDir('fixtures');
    server = await startServer({ GEOIP_CITY_DB: geoFixture(fixtures), TRUST_PROXY: '1', FLUSH_INTERVAL_MS: '200' });
  });
  after(async () => {
    await server.stop();
    removeDir(server.dataDir);
    removeDir(fixtures);
  });

  const pageview = {
    id: '3b241101-e2bb-4255-8caf-4136c566a962',
    type: 'pageview',
    url: 'https://plumber.example.com/emergency?gclid=Cj0KCQ-test&utm_source=google&utm_medium=cpc&utm_campaign=leak-repair',
    referrer: 'https://www.google.com/search?q=plumber',
    visitorId: 'v-123',
    sessionId: 's-456',
    ts: Date.now() - 1500,
    lang: 'tr-TR',
    screen: { w: 390, h: 844 },
    props: { variant: 'b', price: 120, returning: true },
    attribution: { utm_campaign: 'older-campaign', utm_term: 'boiler repair', gbraid: 'GB-1', fbclid: 'FB-9' },
  };

  test('a single beacon and a batch are answered 204 and stored with every field enriched', async () => {
    const single = await send(`${server.url}/collect`, pageview, { 'X-Forwarded-For': '81.214.10.20' });
    assert.equal(single.status, 204);
    assert.equal(single.headers.get('access-control-allow-origin'), '*');

    const batch = [
      { type: 'click', name: 'cta', url: 'https://plumber.example.com/emergency', visitorId: 'v-123', sessionId: 's-456' },
      { type: 'call', url: 'https://plumber.example.com/emergency', visitorId: 'v-123', props: { href: 'tel:+905551112233' } },
      { type: 'custom', name: 'quote_opened', url: 'https://plumber.example.com/quote?msclkid=MS-7', visitorId: 'v-999' },
    ];
    const res = await send(`${server.url}/collect`, batch, {
      'Content-Type': 'application/json',
      'User-Agent': DESKTOP_UA,
      'X-Forwarded-For': '2a02:e0::55',
    });
    assert.equal(res.status, 204);

    const { events } = await eventually(async () => {
      const body = await adminGet<{ events: Row[] }>(server, '/api/admin/events?limit=10');
      return body.events.length === 5 ? body : undefined;
    }, 10_000, 'four events and the lead the call click made, in /api/admin/events');

    const pv = events.find((e) => e.type === 'pageview')!;
    assert.deepEqual(
      { ...pv, received_at: undefined },
      {
        event_id: pageview.id,
        event_time: new Date(pageview.ts).toISOString(),
        received_at: undefined,
        type: 'pageview',
        name: '',
        visitor_id: 'v-123',
        session_id: 's-456',
        url: pageview.url,
        path: '/emergency',
        hostname: 'plumber.example.com',
        referrer: 'https://www.google.com/search?q=plumber',
        referrer_host: 'www.google.com',
        utm_source: 'google',
        utm_medium: 'cpc',
        utm_campaign: 'leak-repair', // the page URL wins over the stored attribution
        utm_term: 'boiler repair', // what the URL lacks comes from the attribution
        utm_content: '',
        gclid: 'Cj0KCQ-test',
        gbraid: 'GB-1',
        wbraid: '',
        fbclid: 'FB-9',
        msclkid: '',
        country: 'TR',
        region: 'Istanbul',
        city: 'Istanbul',
        browser: 'Safari',
        os: 'iOS',
        device: 'mobile',
        screen_width: 390,
        screen_height: 844,
        language: 'tr-TR',
        props: { variant: 'b', price: '120', returning: 'true' },
      },
    );
    const receivedAt = Date.parse(pv.received_at as string);
    assert.ok(Math.abs(receivedAt - Date.now()) < 60_000, 'received_at is the server clock');

    const custom = events.find((e) => e.type === 'custom')!;
    assert.equal(custom.name, 'quote_opened');
    assert.equal(custom.msclkid, 'MS-7');
    assert.equal(custom.city, 'Munich');
    assert.equal(custom.country, 'DE');
    assert.equal(custom.browser, 'Chrome');
    assert.equal(custom.os, 'Windows');
    assert.equal(custom.device, 'desktop');
    assert.match(custom.event_id as string, /^[0-9a-f-]{36}$/, 'an id is assigned when the beacon has none');
    assert.deepEqual(events.find((e) => e.type === 'call')!.props, { href: 'tel:+905551112233' });
    const lead = events.find((e) => e.type === 'lead')!;
    assert.deepEqual([lead.name, lead.visitor_id, lead.city, lead.device], ['call', 'v-123', 'Munich', 'desktop']);
  });

  test('SIGTERM flushes and exits 0; the rows are in ClickHouse and hold no raw IP', async () => {
    assert.equal(await server.stop('SIGTERM'), 0);
    const rows = await queryEmbedded<Row>(server.dataDir, 'SELECT * FROM lean_capture.events ORDER BY type');
    assert.deepEqual(rows.map((r) => r.type), ['call', 'click', 'custom', 'lead', 'pageview']);
    const pv = rows.find((r) => r.type === 'pageview')!;
    assert.equal(pv.event_time, new Date(pageview.ts).toISOString().replace('T', ' ').replace('Z', ''));
    assert.equal(pv.gclid, 'Cj0KCQ-test');
    assert.equal(pv.city, 'Istanbul');
    assert.deepEqual(pv.props, { variant: 'b', price: '120', returning: 'true' });
    const everything = JSON.stringify(rows);
    assert.ok(!everything.includes('81.214.10.20') && !everything.includes('2a02:e0::55'), 'no client IP is stored');
    const migrations = await queryEmbedded<Row>(server.dataDir, 'SELECT version FROM lean_capture.schema_migrations');
    assert.deepEqual(migrations.map((m) => m.version).sort(), [1, 2]);
  });
});

describe('batching', () => {
  test('rows still waiting for the flush interval are written on SIGTERM', async () => {
    const server = await startServer({ FLUSH_INTERVAL_MS: '60000', FLUSH_MAX_ROWS: '100000' });
    try {
      for (let i = 0; i < 5; i++) {
        const batch = Array.from({ length: 10 }, (_, j) => ({ type: 'pageview', url: `https://a.example/${i}/${j}` }));
        assert.equal((await send(`${server.url}/collect`, batch)).status, 204);
      }
      assert.equal(await server.stop('SIGTERM'), 0);
      const [row] = await queryEmbedded<{ n: string }>(server.dataDir, 'SELECT count() AS n FROM lean_capture.events');
      assert.equal(Number(row!.n), 50);
    } finally {
      await server.stop();
      removeDir(server.dataDir);
    }
  });

  test('FLUSH_MAX_ROWS rows are inserted without waiting for the interval', async () => {
    const server = await startServer({ FLUSH_INTERVAL_MS: '60000', FLUSH_MAX_ROWS: '10' });
    try {
      const batch = Array.from({ length: 10 }, (_, j) => ({ type: 'pageview', url: `https://a.example/${j}` }));
      assert.equal((await send(`${server.url}/collect`, batch)).status, 204);
      const events = await eventually(async () => {
        const body = await adminGet<{ events: Row[] }>(server, '/api/admin/events?limit=100');
        return body.events.length === 10 ? body.events : undefined;
      }, 5_000, 'ten events well before the 60 s interval');
      assert.equal(events.length, 10);
      const status = await adminGet<{ batch: { confirmedRows: number; inserts: number } }>(server, '/api/admin/status');
      assert.equal(status.batch.confirmedRows, 10);
      assert.equal(status.batch.inserts, 1);
    } finally {
      await server.stop();
      removeDir(server.dataDir);
    }
  });

  test('a second server cannot open the same DATA_DIR and says why', async () => {
    const first = await startServer();
    try {
      await assert.rejects(startServer({ DATA_DIR: first.dataDir }), /another Lean Capture process/);
    } finally {
      await first.stop();
      removeDir(first.dataDir);
    }
  });
});

