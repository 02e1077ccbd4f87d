// One request must not hurt us: each attack of issue 14, reproduced against the real server
// (or, for restores, the real restore code against a local S3), and what must happen instead.
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { pino } from 'pino';
import { ManifestRejected, manifestMac, trustedManifest, type Manifest } from '../src/backup/backup.ts';
import { keyCheck } from '../src/backup/codec.ts';
import { restoreBackup, RestoreRefused } from '../src/backup/restore.ts';
import { s3Store } from '../src/backup/s3.ts';
import { clientNet } from '../src/collect/client-ip.ts';
import { encodeRecord, segmentName } from '../src/events/journal.ts';
import { buildApp, listen } from '../src/http/server.ts';
import { loadUws } from '../src/http/uws.ts';
import { createMetrics } from '../src/metrics.ts';
import { ADMIN_TOKEN, adminGet, eventually, IPHONE_UA, removeDir, send, startServer, tempDir } from './support/harness.ts';
import { startS3 } from './support/s3.ts';

type Json = Record<string, any>;
const admin = { Authorization: `Bearer ${ADMIN_TOKEN}` };

async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`, { headers: admin })).text();
  return Number(new RegExp(`^${name} ([0-9.e+-]+)$`, 'm').exec(text)?.[1] ?? NaN);
}

/** An events row as the journal holds it (JSONEachRow). */
function eventRow(name: string): Json {
  const now = Date.now();
  return {
    event_id: randomUUID(), event_time: now, received_at: now, type: 'pageview', name, visitor_id: 'v-poison', session_id: '', url: 'https://usta.example.com/', path: '/',
    hostname: 'usta.example.com', referrer: '', referrer_host: '', utm_source: '', utm_medium: '', utm_campaign: '', utm_term: '', utm_content: '', gclid: '', gbraid: '',
    wbraid: '', fbclid: '', msclkid: '', country: '', region: '', city: '', browser: '', os: '', device: '', screen_width: 0, screen_height: 0, language: '', props: {},
  };
}

test('the poison beacon (a lone surrogate) and its siblings: accepted well-formed or refused with a 4xx; ingest never stops', async () => {
  const server = await startServer();
  try {
    const post = (body: string | Buffer, headers: Record<string, string> = {}) => send(`${server.url}/collect`, body, headers);
    // The literal JSON escape, as an attacker's script would send it.
    assert.equal((await post('{"type":"pageview","url":"https://usta.example.com/p","name":"\\ud800","props":{"k\\udfff":"v\\ud83d"}}')).status, 204);
    assert.equal((await post(JSON.stringify({ type: 'pageview', url: 'https://usta.example.com/nul', name: 'a\u0000b' }))).status, 204);
    // A click id cut at its cap in the middle of an emoji must not leave half of it.
    assert.equal((await post(JSON.stringify({ type: 'pageview', url: `https://usta.example.com/cap?utm_term=${'a'.repeat(255)}%F0%9F%98%80` }))).status, 204);
    assert.equal((await post(JSON.stringify({ type: 'pageview', url: 'https://usta.example.com/good' }))).status, 204);
    const refused = [
      await post(Buffer.from([0x7b, 0x22, 0x74, 0xff, 0xfe, 0x22, 0x7d])), // invalid UTF-8 in text/plain
      await post(gzipSync(JSON.stringify({ type: 'pageview', name: 'x'.repeat(10 * 1024 * 1024) })), { 'Content-Encoding': 'gzip' }), // 10 MB of one field once inflated
      await post(JSON.stringify({ type: 'pageview', url: 'https://usta.example.com/', screen: { w: 70000, h: 10 } })), // UInt16 column
      await post(JSON.stringify({ type: 'pageview', url: 'https://usta.example.com/', ts: 1e300 })),
      await post(JSON.stringify({ type: 'pageview', url: 'https://usta.example.com/', screen: { w: -1, h: 10 } })),
    ];
    for (const res of refused) {
      assert.ok(res.status >= 400 && res.status < 500, `a 4xx, got ${res.status}`);
      assert.equal(res.headers.get('content-type'), 'application/problem+json');
    }
    const events = await eventually(async () => {
      const { events } = await adminGet<{ events: Json[] }>(server, '/api/admin/events?limit=10');
      return events.length === 4 ? events : undefined;
    }, 15_000, 'all four accepted beacons in ClickHouse');
    const byPath = new Map(events.map((e) => [e.path, e]));
    assert.equal(byPath.get('/p')!.name, '\ufffd');
    assert.deepEqual(byPath.get('/p')!.props, { 'k\ufffd': 'v\ufffd' });
    assert.equal(byPath.get('/nul')!.name, 'a\u0000b');
    assert.equal(byPath.get('/cap')!.utm_term, 'a'.repeat(255) + '\ufffd');
    assert.equal((await fetch(`${server.url}/readyz`)).status, 200);
    assert.equal(await metric(server.url, 'lc_clickhouse_rows_parked_total'), 0);
  } finally {
    await server.stop();
    removeDir(server.dataDir);
  }
});

test('a row ClickHouse refuses, already in the journal, is parked alone: the rows around it reach ClickHouse and /readyz stays ready', async () => {
  const dataDir = tempDir('data');
  const journalDir = join(dataDir, 'journal');
  mkdirSync(journalDir, { recursive: true });
  const good = Array.from({ length: 300 }, (_, i) => JSON.stringify(eventRow(`good-${i}`)));
  const poison = JSON.stringify(eventRow('POISON')).replace('"name":"POISON"', '"name":"\\ud800"');
  const lines = [...good.slice(0, 150), poison, ...good.slice(150)].join('\n') + '\n';
  // As a journal written by an earlier version, before text was made well-formed at the edge.
  writeFileSync(join(journalDir, segmentName(1)), encodeRecord(Buffer.from(lines), 301));
  const server = await startServer({ DATA_DIR: dataDir });
  try {
    await eventually(async () => ((await metric(server.url, 'lc_clickhouse_rows_parked_total')) === 1 ? true : undefined), 20_000, 'the poison row to be parked');
    for (let i = 0; i < 5; i++) assert.equal((await send(`${server.url}/collect`, { type: 'pageview', url: `https://usta.example.com/after/${i}` })).status, 204);
    await eventually(async () => {
      const [row] = await (await fetch(`${server.url}/api/admin/status`, { headers: admin })).json().then((s: Json) => [s.batch]);
      return row.confirmedRows === 305 && row.pendingRows === 0 ? true : undefined;
    }, 15_000, 'the 300 good journal rows and 5 new beacons confirmed');
    const parked = readdirSync(join(journalDir, 'rejected'));
    assert.equal(parked.length, 1);
    assert.equal(readFileSync(join(journalDir, 'rejected', parked[0]!), 'utf8'), poison + '\n');
    assert.equal((await fetch(`${server.url}/readyz`)).status, 200);
  } finally {
    await server.stop();
    removeDir(dataDir);
  }
});

test('CRLF in a form\'s thank-you URL cannot add a header: the Location is the URL parser\'s serialisation', async () => {
  const server = await startServer();
  try {
    const res = await fetch(`${server.url}/lead`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Origin: 'https://usta.example.com', 'User-Agent': IPHONE_UA },
      body: new URLSearchParams({ phone: '+905321234567', thanks: 'https://usta.example.com/ok\r\nSet-Cookie: lc_session=attacker; Path=/\r\nX-Injected: 1' }).toString(),
    });
    assert.equal(res.status, 303);
    assert.equal(res.headers.get('set-cookie'), null);
    assert.equal(res.headers.get('x-injected'), null);
    assert.equal(res.headers.get('location'), 'https://usta.example.com/okSet-Cookie:%20lc_session=attacker;%20Path=/X-Injected:%201');
  } finally {
    await server.stop();
    removeDir(server.dataDir);
  }
});

test('the reply layer never writes a header value with CR, LF or NUL: a 500 is sent and logged instead', async () => {
  const lines: string[] = [];
  const log = pino({ level: 'error' }, { write: (l: string) => void lines.push(l) });
  const { uws } = loadUws();
  const app = buildApp({ uws, log, metrics: createMetrics() }, [
    { method: 'get', path: '/split', handler: () => ({ status: 303, headers: { Location: '/a\r\nSet-Cookie: x=1' }, body: '' }) },
    { method: 'get', path: '/nul', handler: () => ({ status: 200, headers: { 'X-Name': 'a\u0000b' }, body: 'x' }) },
  ]);
  const server = await listen(app, uws, '127.0.0.1', 0);
  try {
    for (const path of ['/split', '/nul']) {
      const res = await fetch(`http://127.0.0.1:${server.port}${path}`, { redirect: 'manual' });
      assert.equal(res.status, 500);
      assert.equal(res.headers.get('set-cookie'), null);
      assert.equal(res.headers.get('content-type'), 'application/problem+json');
    }
    assert.equal(lines.filter((l) => l.includes('CR, LF or NUL')).length, 2);
  } finally {
    server.close();
    app.close();
  }
});

test('call and WhatsApp beacons make leads under the flood rules: one per channel per request, per visitor and day, held past the per-IP hourly limit (IPv6 by /64)', async () => {
  const server = await startServer({ TRUST_PROXY: '1' });
  const call = (visitorId: string, type = 'call') => ({ type, url: 'https://usta.example.com/', visitorId, props: { href: 'tel:+905321234567' } });
  const from = (ip: string) => ({ 'Content-Type': 'application/json', 'X-Forwarded-For': ip });
  const leads = async () => (await adminGet<{ leads: Json[] }>(server, '/api/admin/leads')).leads;
  try {
    // One request, a hundred calls from a hundred made-up visitors: one lead.
    assert.equal((await send(`${server.url}/collect`, Array.from({ length: 100 }, (_, i) => call(`fake-${i}`)), from('81.214.10.20'))).status, 204);
    await eventually(async () => ((await leads()).length === 1 ? true : undefined), 5000, 'one lead');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal((await leads()).length, 1);
    // The same visitor clicking again the same day: still one lead.
    assert.equal((await send(`${server.url}/collect`, call('fake-0'), from('81.214.10.20'))).status, 204);
    // Eight more visitors from that address within the hour: four more leads, then held (LEAD_FLOOD_PER_IP=5).
    for (let i = 1; i <= 8; i++) assert.equal((await send(`${server.url}/collect`, call(`other-${i}`, i % 2 ? 'call' : 'whatsapp'), from('81.214.10.20'))).status, 204);
    const fromOneIp = await eventually(async () => {
      const all = await leads();
      return all.length === 9 ? all : undefined;
    }, 5000, 'nine leads');
    assert.equal(fromOneIp.filter((l) => l.flag === null).length, 5);
    assert.equal(fromOneIp.filter((l) => l.flag === 'flood').length, 4);
    // IPv6: the addresses of one /64 are one client.
    for (let i = 1; i <= 6; i++) assert.equal((await send(`${server.url}/collect`, call(`v6-${i}`), from(`2a02:ff0:1:2::${i.toString(16)}`))).status, 204);
    const all = await eventually(async () => {
      const list = await leads();
      return list.length === 15 ? list : undefined;
    }, 5000, 'fifteen leads');
    assert.equal(all.filter((l) => l.visitor_id?.startsWith('v6-') && l.flag === 'flood').length, 1);
    // Without a visitor id, the network and browser stand for the visitor.
    for (let i = 0; i < 3; i++) assert.equal((await send(`${server.url}/collect`, { type: 'whatsapp', url: 'https://usta.example.com/' }, from('88.230.1.1'))).status, 204);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal((await leads()).length, 16);
  } finally {
    await server.stop();
    removeDir(server.dataDir);
  }
});

test('IPv6 clients are keyed by their /64; IPv4-mapped addresses by the IPv4 address', () => {
  assert.equal(clientNet('2001:db8:1:2::a'), '2001:0db8:0001:0002::/64');
  assert.equal(clientNet('2001:DB8:1:2:ffff:1:2:3'), '2001:0db8:0001:0002::/64');
  assert.equal(clientNet('::1'), '0000:0000:0000:0000::/64');
  assert.equal(clientNet('2001:db8::1:2:3:4'), '2001:0db8:0000:0000::/64');
  assert.equal(clientNet('::ffff:81.214.10.20'), '81.214.10.20');
  assert.equal(clientNet('81.214.10.20'), '81.214.10.20');
});
