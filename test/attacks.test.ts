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
import { clientNet } from '../src/http/client-ip.ts';
import { encodeRecord, segmentName } from '../src/events/record.ts';
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

/** Opens a connection, sends `head`, and resolves with the first answer's status line (or '' if the server closed it silently). */
function rawRequest(port: number, head: string, keepOpen: Socket[]): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    keepOpen.push(socket);
    let answer = '';
    socket.on('data', (d) => {
      answer += d.toString('latin1');
      if (answer.includes('\r\n')) resolve(answer.split('\r\n', 1)[0]!);
    });
    socket.on('error', () => resolve(''));
    socket.on('close', () => resolve(answer.split('\r\n', 1)[0] ?? ''));
    socket.write(head);
  });
}

test('bodies nobody authenticated cannot take the slots: 1 030 idle admin POSTs are answered 401 at once; slow bodies from one client hold at most their share; visitors, webhooks and the owner keep their own', async () => {
  const server = await startServer({ TRUST_PROXY: '1', HTTP_BODY_TIMEOUT_MS: '30000' });
  const sockets: Socket[] = [];
  try {
    const adminHead = 'POST /api/admin/sales HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n';
    const answers = await Promise.all(Array.from({ length: 1030 }, () => rawRequest(server.port, adminHead, sockets)));
    assert.equal(answers.filter((a) => a.startsWith('HTTP/1.1 401')).length, 1030, 'refused before any body is read');

    // One client (behind the proxy) starting 60 slow beacon bodies: it gets its share (768/16 = 48), no more.
    const slowHead = (ip: string, path = '/collect') => `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nX-Forwarded-For: ${ip}\r\nUser-Agent: ${IPHONE_UA}\r\nContent-Length: 100\r\n\r\n{`;
    const slowRound = async () => {
      const held: Socket[] = [];
      const slow = Array.from({ length: 60 }, () => rawRequest(server.port, slowHead('81.214.10.20'), held));
      const early = await Promise.race([Promise.all(slow.slice(48)), new Promise<string[]>((r) => setTimeout(() => r([]), 3000))]);
      return { held, refused: early.filter((a) => a.startsWith('HTTP/1.1 503')).length };
    };
    const first = await slowRound();
    sockets.push(...first.held);
    assert.equal(first.refused, 12, 'the 49th and later are refused at once');
    // Everyone else is served: another visitor, a lead, the owner's login.
    assert.equal((await send(`${server.url}/collect`, { type: 'pageview', url: 'https://usta.example.com/' }, { 'X-Forwarded-For': '81.214.10.21' })).status, 204);
    assert.equal((await send(`${server.url}/lead`, { phone: '+905321234567' }, { 'Content-Type': 'application/json', 'X-Forwarded-For': '81.214.10.22' })).status, 201);
    const login = await fetch(`${server.url}/api/admin/session`, { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-LC-CSRF': '1' }, body: JSON.stringify({ password: 'x' }) });
    assert.equal(login.status, 409, 'the login is read and answered (no password is set yet)');

    // The client hangs up: its slots come back, and its share is counted right again, both while
    // its count sits at 0 and after the once-a-second sweep has forgotten it.
    for (const s of first.held) s.destroy();
    const beacon = () => send(`${server.url}/collect`, { type: 'pageview', url: 'https://usta.example.com/' }, { 'X-Forwarded-For': '81.214.10.20' });
    for (let tries = 0; (await beacon()).status !== 204; tries++) {
      assert.ok(tries < 50, 'the slots were given back');
      await new Promise((r) => setTimeout(r, 20));
    }
    for (const pause of [0, 1500]) {
      await new Promise((r) => setTimeout(r, pause));
      const round = await slowRound();
      sockets.push(...round.held);
      assert.equal(round.refused, 12, `after a pause of ${pause} ms, 48 slots again and no more`);
      for (const s of round.held) s.destroy();
      await new Promise((r) => setTimeout(r, 200));
    }
  } finally {
    for (const s of sockets) s.destroy();
    await server.stop();
    removeDir(server.dataDir);
  }
});

test('X-Forwarded-For sent on several lines is read whole: the hop our proxy appended decides the client', async () => {
  const server = await startServer({ TRUST_PROXY: '1', RATE_LIMIT_COLLECT: '2', RATE_LIMIT_GLOBAL: '1000' });
  const sockets: Socket[] = [];
  try {
    const body = JSON.stringify({ type: 'pageview', url: 'https://usta.example.com/' });
    const statuses = [];
    for (let i = 0; i < 4; i++) {
      // The client's own line first (uWS's getHeader returns only it), the proxy's line last.
      const head = `POST /collect HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nUser-Agent: ${IPHONE_UA}\r\nX-Forwarded-For: 10.9.8.${i}\r\nX-Forwarded-For: 81.214.10.20\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
      statuses.push(await rawRequest(server.port, head, sockets));
    }
    assert.deepEqual(statuses.map((s) => s.slice(9, 12)), ['204', '204', '429', '429']);
  } finally {
    for (const s of sockets) s.destroy();
    await server.stop();
    removeDir(server.dataDir);
  }
});

test('logins: 60 parallel wrong passwords from 60 addresses are mostly refused before scrypt; the setup code works once however many race; the owner still gets in', async () => {
  const server = await startServer({ TRUST_PROXY: '1', ADMIN_TOKEN: '' });
  const post = (path: string, body: Json, ip: string) =>
    fetch(`${server.url}${path}`, { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-LC-CSRF': '1', 'X-Forwarded-For': ip }, body: JSON.stringify(body) });
  try {
    const code = /#\/setup\/([A-Za-z0-9_-]+)/.exec(server.output.find((l) => l.includes('setupUrl'))!)![1]!;
    const setups = await Promise.all(['first-owner-password-1', 'second-owner-password-2', 'third-owner-password-3'].map((password, i) => post('/api/admin/setup', { code, password }, `81.214.10.${i}`)));
    assert.deepEqual(setups.map((r) => r.status).sort(), [201, 403, 403], 'one code, one password');
    const password = ['first-owner-password-1', 'second-owner-password-2', 'third-owner-password-3'][setups.findIndex((r) => r.status === 201)]!;

    const guesses = await Promise.all(Array.from({ length: 60 }, (_, i) => post('/api/admin/session', { password: `guess-number-${i}-xx` }, `88.230.${i}.7`)));
    const checked = guesses.filter((r) => r.status === 401).length;
    assert.ok(checked >= 1 && checked <= 8, `${checked} of 60 parallel guesses were checked (the account allows about 4 before its delay)`);
    assert.equal(guesses.filter((r) => r.status === 429).length, 60 - checked);
    await new Promise((r) => setTimeout(r, 2100));
    assert.equal((await post('/api/admin/session', { password }, '81.214.10.99')).status, 200, 'after the account delay the owner logs in');
  } finally {
    await server.stop();
    removeDir(server.dataDir);
  }
});

test('DATA_DIR, leads.db and the journal are owner-only', async () => {
  const server = await startServer();
  try {
    const mode = (p: string) => statSync(p).mode & 0o777;
    assert.equal(mode(server.dataDir), 0o700);
    assert.equal(mode(join(server.dataDir, 'leads.db')), 0o600);
    assert.equal(mode(join(server.dataDir, 'journal')), 0o700);
    assert.equal(mode(join(server.dataDir, 'journal', segmentName(1))), 0o600);
  } finally {
    await server.stop();
    removeDir(server.dataDir);
  }
});

test('push subscriptions only to public https endpoints; a stored endpoint that is not a URL does not break the list', async () => {
  const server = await startServer();
  const subscribe = (endpoint: string) =>
    fetch(`${server.url}/api/admin/push-subscriptions`, { method: 'POST', headers: { ...admin, 'Content-Type': 'application/json' }, body: JSON.stringify({ endpoint, keys: { p256dh: 'BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM', auth: 'tBHItJI5svbpez7KI4CCXg' } }) });
  try {
    for (const endpoint of ['https://127.0.0.1/push', 'https://[::1]/push', 'https://169.254.169.254/latest/meta-data', 'https://10.0.0.5/x', 'https://localhost/push', 'http://fcm.googleapis.com/fcm/send/x', 'https://[fd00:ec2::254]/x']) {
      const res = await subscribe(endpoint);
      assert.equal(res.status, 422, endpoint);
      assert.equal(((await res.json()) as Json).type, '/problems/invalid-subscription');
    }
    assert.equal((await subscribe('https://81.214.10.20/push/abc')).status, 201, 'a public address is fine');
  } finally {
    await server.stop();
  }
  // A row written by an earlier version, or by hand.
  const Database = (await import('better-sqlite3')).default;
  const db = new Database(join(server.dataDir, 'leads.db'));
  db.prepare("UPDATE push_subscriptions SET endpoint = 'not a url'").run();
  db.close();
  const again = await startServer({ DATA_DIR: server.dataDir });
  try {
    const { subscriptions } = await adminGet<{ subscriptions: Json[] }>(again, '/api/admin/push-subscriptions');
    assert.equal(subscriptions[0]!.service, 'unknown');
  } finally {
    await again.stop();
    removeDir(server.dataDir);
  }
});

test('restore trusts no manifest it cannot authenticate: ids outside our shape, unsigned or unencrypted manifests when a key is set, foreign table names; the target and its neighbours stay untouched', async () => {
  const s3 = await startS3();
  const key = randomBytes(32);
  const config = { endpoint: s3.endpoint, region: 'us-east-1', bucket: 'lc-backups', prefix: 'shop/', accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER', forcePathStyle: true, timeoutMs: 10_000 };
  const store = s3Store(config);
  const parent = tempDir('restore');
  const dataDir = join(parent, 'data');
  mkdirSync(dataDir); // an existing empty directory (a Docker volume)
  const victim = join(parent, 'victim');
  mkdirSync(victim);
  writeFileSync(join(victim, 'keep.txt'), 'precious');
  const sha = 'a'.repeat(64);
  const manifestOf = (id: string, extra: Partial<Manifest> = {}): Manifest => ({
    format: 2, id, createdAt: new Date().toISOString(), cutoff: new Date().toISOString(), app: { version: '0.1.0' }, schema: { sqlite: 1, clickhouse: 1 },
    compression: 'gzip', encryption: { algorithm: 'AES-256-GCM', keyCheck: keyCheck(key) },
    sqlite: { key: `data/${id}/leads.db.gz.enc`, rows: 0, leads: 0, bytes: 10, sha256: sha, contentBytes: 10, contentSha256: sha },
    tables: { events: [] }, totals: { bytes: 10, rows: 0, leads: 0, objects: 1 }, ...extra,
  });
  const put = (id: string, manifest: unknown) => s3.put(`backups/${id}.json`, JSON.stringify(manifest));
  const restore = (id: string, withKey: Buffer | undefined) =>
    restoreBackup({ store, id, key: withKey, dataDir, clickhouse: { mode: 'embedded', path: join(dataDir, 'clickhouse'), database: 'lean_capture' } });
  try {
    // 1. An id that climbs out of DATA_DIR, given on the command line or inside a manifest.
    await assert.rejects(restore('/../../victim', key), (err: Error) => err instanceof RestoreRefused && /not a backup id/.test(err.message));
    await put('20261201T000000Z', manifestOf('/../../victim'));
    await assert.rejects(restore('20261201T000000Z', key), (err: Error) => err instanceof RestoreRefused && /names another backup/.test(err.message));
    await assert.rejects(restore('20261201T000000Z', undefined), (err: Error) => err instanceof RestoreRefused && /names another backup/.test(err.message));

    // 2. A key is set, and the manifest says "not encrypted" (a planted plain leads.db).
    const plain = manifestOf('20261201T010000Z', { encryption: null, sqlite: { key: 'data/20261201T010000Z/leads.db.gz', rows: 0, leads: 0, bytes: 10, sha256: sha, contentBytes: 10, contentSha256: sha } });
    await put(plain.id, plain);
    await assert.rejects(restore(plain.id, key), (err: Error) => err instanceof RestoreRefused && /not encrypted, but BACKUP_ENCRYPTION_KEY is set/.test(err.message));

    // 3. Encrypted-looking but not signed with our key, or signed and then altered.
    const unsigned = manifestOf('20261201T020000Z');
    await put(unsigned.id, unsigned);
    await assert.rejects(restore(unsigned.id, key), (err: Error) => err instanceof RestoreRefused && /not signed with BACKUP_ENCRYPTION_KEY/.test(err.message));
    const signed = manifestOf('20261201T030000Z');
    signed.mac = manifestMac(signed, key);
    await put(signed.id, { ...signed, totals: { ...signed.totals, leads: 1 } });
    await assert.rejects(restore(signed.id, key), (err: Error) => err instanceof RestoreRefused && /not signed/.test(err.message));
    // Signed and untouched, it passes the gate (and then fails on its missing object, as it should).
    await put(signed.id, signed);
    assert.equal((await trustedManifest(store, signed.id, key))?.id, signed.id);
    await assert.rejects(restore(signed.id, key), (err: Error) => err instanceof RestoreRefused && /missing/.test(err.message));

    // 4. Table names and object keys become SQL and paths: only our own are accepted, key or not.
    const foreign = manifestOf('20261201T040000Z', { encryption: null, tables: { 'events; DROP TABLE events': [] } as never });
    await put(foreign.id, foreign);
    await assert.rejects(trustedManifest(store, foreign.id, undefined), (err: Error) => err instanceof ManifestRejected && /not ours/.test(err.message));
    const climbing = manifestOf('20261201T050000Z', { encryption: null, sqlite: { key: '../../victim/keep.txt', rows: 0, leads: 0, bytes: 10, sha256: sha, contentBytes: 10, contentSha256: sha } });
    await put(climbing.id, climbing);
    await assert.rejects(restore(climbing.id, undefined), (err: Error) => err instanceof RestoreRefused && /not of ours/.test(err.message));

    assert.equal(readFileSync(join(victim, 'keep.txt'), 'utf8'), 'precious', 'nothing outside DATA_DIR was touched');
    assert.deepEqual(readdirSync(dataDir), [], 'the target is still empty');
    assert.ok(existsSync(dirname(dataDir)));
  } finally {
    await s3.close();
    removeDir(parent);
  }
});
