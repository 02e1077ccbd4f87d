// The edge under bad input and without credentials: every rejection is a problem+json 4xx,
// nothing from a rejected request is stored, and the process stays up.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { cityRecord, writeMmdb } from './support/mmdb.ts';
import { ADMIN_TOKEN, adminGet, eventually, removeDir, send, startServer, tempDir, type RunningServer } from './support/harness.ts';

type Row = Record<string, unknown>;

describe('bad input on /collect', () => {
  let server: RunningServer;
  let fixtures: string;
  before(async () => {
    fixtures = tempDir('fixtures');
    const geo = join(fixtures, 'city.mmdb');
    writeFileSync(geo, writeMmdb({ '81.214.0.0/16': cityRecord('TR', 'Istanbul', 'Istanbul') }));
    // No TRUST_PROXY: X-Forwarded-For must be ignored.
    server = await startServer({ FLUSH_INTERVAL_MS: '100', GEOIP_CITY_DB: geo });
  });
  after(async () => {
    await server.stop();
    removeDir(server.dataDir);
    removeDir(fixtures);
  });

  const valid = { type: 'pageview', url: 'https://a.example/' };
  const cases: Array<{ name: string; body: string | Buffer; headers?: Record<string, string>; status: number; problem: string }> = [
    { name: 'invalid JSON', body: '{"type": "pageview",', status: 400, problem: 'invalid-json' },
    { name: 'invalid UTF-8', body: Buffer.from([0x7b, 0x22, 0x74, 0xff, 0xfe, 0x22, 0x7d]), status: 400, problem: 'invalid-json' },
    { name: 'a JSON string instead of an event', body: '"pageview"', status: 400, problem: 'invalid-event' },
    { name: 'a missing type', body: JSON.stringify({ url: 'https://a.example/' }), status: 400, problem: 'invalid-event' },
    { name: 'a type of the wrong type', body: JSON.stringify({ type: 42 }), status: 400, problem: 'invalid-event' },
    { name: 'screen width not a number', body: JSON.stringify({ ...valid, screen: { w: '390', h: 844 } }), status: 400, problem: 'invalid-event' },
    { name: 'a nested prop', body: JSON.stringify({ ...valid, props: { a: { b: 1 } } }), status: 400, problem: 'invalid-event' },
    { name: 'a non-http URL', body: JSON.stringify({ ...valid, url: 'javascript:alert(1)' }), status: 400, problem: 'invalid-event' },
    { name: 'an id that is not a UUID', body: JSON.stringify({ ...valid, id: "x'); DROP TABLE events; --" }), status: 400, problem: 'invalid-event' },
    { name: 'an oversized field', body: JSON.stringify({ ...valid, url: 'https://a.example/' + 'x'.repeat(5000) }), status: 400, problem: 'invalid-event' },
    { name: 'too many props', body: JSON.stringify({ ...valid, props: Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`k${i}`, 'v'])) }), status: 400, problem: 'invalid-event' },
    { name: 'a huge batch', body: JSON.stringify(Array.from({ length: 101 }, () => valid)), status: 400, problem: 'invalid-event' },
    { name: 'an empty batch', body: '[]', status: 400, problem: 'invalid-event' },
    { name: 'one bad event in a batch (the good ones are not stored either)', body: JSON.stringify([valid, valid, { type: 'Bad Type' }]), status: 400, problem: 'invalid-event' },
    { name: 'an oversized body', body: JSON.stringify({ ...valid, name: 'x'.repeat(300 * 1024) }), status: 413, problem: 'body-too-large' },
    { name: 'an unknown content type', body: JSON.stringify(valid), headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, status: 415, problem: 'unsupported-media-type' },
  ];

  for (const c of cases) {
    test(`${c.name} is answered ${c.status} with a problem document`, async () => {
      const res = await send(`${server.url}/collect`, c.body, c.headers);
      assert.equal(res.status, c.status);
      assert.equal(res.headers.get('content-type'), 'application/problem+json');
      const body = (await res.json()) as { type: string; status: number; title: string };
      assert.equal(body.type, `/problems/${c.problem}`);
      assert.equal(body.status, c.status);
      assert.ok(body.title.length > 0);
    });
  }

  test('a chunked body over the cap is cut off with 413', async () => {
    // Raw socket: a chunked body has no Content-Length, so the cap must be enforced while reading.
    const { port } = new URL(server.url);
    const chunk = 'x'.repeat(10_000);
    const chunks = Array.from({ length: 40 }, () => `${chunk.length.toString(16)}\r\n${chunk}\r\n`).join('');
    const response = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(port), '127.0.0.1');
      let received = '';
      socket.on('data', (d) => (received += d.toString()));
      socket.on('close', () => resolve(received));
      socket.on('error', (err) => (received ? resolve(received) : reject(err)));
      socket.write(`POST /collect HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n${chunks}`);
    });
    assert.match(response, /^HTTP\/1\.1 413 /);
    assert.match(response, /"type":"\/problems\/body-too-large"/);
  });

  test('a preflight request is answered for cross-origin JSON beacons', async () => {
    const res = await fetch(`${server.url}/collect`, { method: 'OPTIONS', headers: { Origin: 'https://plumber.example.com' } });
    assert.equal(res.status, 204);
    assert.equal(res.headers.get('access-control-allow-origin'), '*');
    assert.match(res.headers.get('access-control-allow-headers') ?? '', /Content-Type/i);
  });

  test('bots are answered 204, dropped, and counted by reason', async () => {
    const googlebot = 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)';
    assert.equal((await send(`${server.url}/collect`, [valid, valid], { 'User-Agent': googlebot })).status, 204);
    assert.equal((await send(`${server.url}/collect`, valid, { 'User-Agent': '' })).status, 204);
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    assert.match(metrics, /lc_beacons_dropped_total\{reason="bot"\} 2\n/);
    assert.match(metrics, /lc_beacons_dropped_total\{reason="no_user_agent"\} 1\n/);
  });

  test('after all that the process is alive and only the one good beacon is stored, with a spoofed X-Forwarded-For ignored', async () => {
    const marker = { type: 'pageview', url: 'https://a.example/the-only-good-one' };
    assert.equal((await send(`${server.url}/collect`, marker, { 'X-Forwarded-For': '81.214.10.20' })).status, 204);
    assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
    const events = await eventually(async () => {
      const body = await adminGet<{ events: Row[] }>(server, '/api/admin/events?limit=1000');
      return body.events.length > 0 ? body.events : undefined;
    }, 10_000, 'the good beacon');
    await new Promise((r) => setTimeout(r, 400)); // one more flush interval: nothing else may arrive
    const all = (await adminGet<{ events: Row[] }>(server, '/api/admin/events?limit=1000')).events;
    assert.equal(all.length, 1);
    assert.equal(events[0]!.url, marker.url);
    assert.equal(all[0]!.country, '', 'the header came from the client, not a trusted proxy, so no Istanbul');
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    assert.match(metrics, /lc_http_rejected_total\{status="400"\} 14\n/);
    assert.match(metrics, /lc_http_rejected_total\{status="413"\} 2\n/);
    assert.match(metrics, /lc_http_rejected_total\{status="415"\} 1\n/);
  });
});

describe('owner and operator endpoints', () => {
  let server: RunningServer;
  before(async () => {
    server = await startServer({ GEOIP_CITY_DB: '/nonexistent/GeoLite2-City.mmdb' });
  });
  after(async () => {
    await server.stop();
    removeDir(server.dataDir);
  });

  for (const path of ['/api/admin/events', '/api/admin/status']) {
    test(`${path} answers 401 without the token or with a wrong one`, async () => {
      const attempts: Array<Record<string, string>> = [{}, { Authorization: 'Bearer wrong-token-0000000000' }, { Authorization: ADMIN_TOKEN }];
      for (const headers of attempts) {
        const res = await fetch(server.url + path, { headers });
        assert.equal(res.status, 401);
        assert.equal(res.headers.get('content-type'), 'application/problem+json');
        assert.equal(res.headers.get('www-authenticate'), 'Bearer');
      }
    });
  }

  test('/metrics is open to a direct loopback client, but not through a proxy without the token', async () => {
    assert.equal((await fetch(`${server.url}/metrics`)).status, 200);
    assert.equal((await fetch(`${server.url}/metrics`, { headers: { 'X-Forwarded-For': '203.0.113.9' } })).status, 401);
    const withToken = await fetch(`${server.url}/metrics`, { headers: { 'X-Forwarded-For': '203.0.113.9', Authorization: `Bearer ${ADMIN_TOKEN}` } });
    assert.equal(withToken.status, 200);
    const text = await withToken.text();
    for (const name of ['lc_beacons_accepted_total', 'lc_clickhouse_batch_rows', 'lc_clickhouse_insert_seconds', 'lc_event_loop_delay_max_seconds', 'lc_http_rejected_total']) {
      assert.match(text, new RegExp(`^# TYPE ${name} `, 'm'));
    }
  });

  test('an invalid limit is a 400, and unknown paths are 404 problems', async () => {
    const res = await fetch(`${server.url}/api/admin/events?limit=0`, { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } });
    assert.equal(res.status, 400);
    const missing = await fetch(`${server.url}/nope`);
    assert.equal(missing.status, 404);
    assert.equal(missing.headers.get('content-type'), 'application/problem+json');
  });

  test('a missing GeoIP database is reported once and in the status, and events are still stored without geo', async () => {
    const status = await adminGet<Record<string, Record<string, unknown>>>(server, '/api/admin/status');
    assert.deepEqual(status.geoip, { path: '/nonexistent/GeoLite2-City.mmdb', loaded: false, error: 'database file not found' });
    assert.match(String(status.http!.uws), /^uWebSockets\.js v20\.\d+/);
    assert.equal(status.clickhouse!.mode, 'embedded');
    assert.equal(status.clickhouse!.reachable, true);
    assert.equal(server.output.filter((l) => l.includes('GeoIP disabled')).length, 1);
    assert.ok(server.output.some((l) => l.includes('"msg":"uWebSockets.js loaded"')), 'the uWS build is logged');
  });
});

test('a corrupt GeoIP database is reported and the server keeps serving', async () => {
  const dir = tempDir('corrupt');
  const path = join(dir, 'city.mmdb');
  writeFileSync(path, Buffer.from('this is not a MaxMind database'.repeat(100)));
  const server = await startServer({ GEOIP_CITY_DB: path, FLUSH_INTERVAL_MS: '100' });
  try {
    const status = await adminGet<{ geoip: { loaded: boolean; error: string } }>(server, '/api/admin/status');
    assert.equal(status.geoip.loaded, false);
    assert.match(status.geoip.error, /^cannot read database/);
    assert.equal((await send(`${server.url}/collect`, { type: 'pageview' })).status, 204);
    await eventually(async () => {
      const body = await adminGet<{ events: Row[] }>(server, '/api/admin/events');
      return body.events.length === 1 ? true : undefined;
    });
  } finally {
    await server.stop();
    removeDir(server.dataDir);
    removeDir(dir);
  }
});
