// The open internet against the real server: rate limits per client and overall (and spoofed
// X-Forwarded-For not escaping them), security headers, slow and oversized requests cut off
// while other clients keep being served.
import assert from 'node:assert/strict';
import { randomInt, randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { connect, type Socket } from 'node:net';
import { test } from 'node:test';
import { TokenBuckets } from '../src/http/rate-limit.ts';
import { ADMIN_TOKEN, adminGet, eventually, removeDir, send, startServer } from './support/harness.ts';
import { startTelegram } from './support/telegram.ts';

type Json = Record<string, any>;

const beacon = () => ({ type: 'pageview', url: 'https://usta.example.com/' });
const collect = (url: string, headers: Record<string, string> = {}) => send(`${url}/collect`, beacon(), { 'Content-Type': 'application/json', ...headers });

test('token buckets: a minute\'s burst, then the steady rate; Retry-After is the wait for one token; the table forgets the least recently seen client', () => {
  let now = 0;
  const buckets = new TokenBuckets(60, 3, 60, () => now);
  for (let i = 0; i < 60; i++) assert.equal(buckets.take('a'), 0);
  assert.equal(buckets.take('a'), 1000, 'one token a second');
  now += 1000;
  assert.equal(buckets.take('a'), 0);
  assert.equal(buckets.take('a'), 1000);
  buckets.take('b');
  buckets.take('c');
  buckets.take('a'); // a is now the most recent; b the least
  buckets.take('d');
  assert.equal(buckets.size, 3);
  assert.equal(buckets.take('a'), 1000, 'a is still remembered (and still empty)');
  const fresh = new TokenBuckets(60, 3, 60, () => now);
  assert.equal(fresh.take('x'), 0);
  assert.equal(new TokenBuckets(0).take('x'), 0, '0 = no limit');
});

test('rate limits: 429 with Retry-After per client IP on beacons, leads and logins; spoofed X-Forwarded-For does not open a new bucket; a trusted proxy\'s clients are apart', async () => {
  const server = await startServer({ RATE_LIMIT_COLLECT: '20', RATE_LIMIT_LEAD: '3', RATE_LIMIT_LOGIN: '4', RATE_LIMIT_GLOBAL: '1000' });
  try {
    for (let i = 0; i < 20; i++) assert.equal((await collect(server.url)).status, 204);
    const limited = await collect(server.url);
    assert.equal(limited.status, 429);
    assert.equal(limited.headers.get('content-type'), 'application/problem+json');
    assert.ok(Number(limited.headers.get('retry-after')) >= 1);
    assert.equal(((await limited.json()) as { type: string }).type, '/problems/rate-limited');
    // TRUST_PROXY=0: whatever the client writes in X-Forwarded-For, it is the same client.
    for (let i = 0; i < 10; i++) assert.equal((await collect(server.url, { 'X-Forwarded-For': `203.0.113.${i}`, 'CF-Connecting-IP': `198.51.100.${i}` })).status, 429);

    for (let i = 0; i < 3; i++) assert.equal((await send(`${server.url}/lead`, { phone: `+90532000770${i}` }, { 'Content-Type': 'application/json' })).status, 201);
    assert.equal((await send(`${server.url}/lead`, { phone: '+905320007709' }, { 'Content-Type': 'application/json' })).status, 429);
    // Webhooks have their own, larger allowance (RATE_LIMIT_HOOKS): a busy day's Stripe events are not a visitor's leads.
    for (let i = 0; i < 5; i++) assert.notEqual((await send(`${server.url}/hooks/google-lead-form`, { lead_id: `L${i}` }, { 'Content-Type': 'application/json' })).status, 429);

    const login = () => fetch(`${server.url}/api/admin/session`, { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-LC-CSRF': '1' }, body: JSON.stringify({ password: 'not it at all' }) });
    const statuses = [];
    for (let i = 0; i < 6; i++) statuses.push((await login()).status);
    assert.deepEqual(statuses.slice(4), [429, 429], `login statuses ${statuses}`);
    // The owner's API with a token is not limited.
    assert.equal((await fetch(`${server.url}/api/admin/status`, { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } })).status, 200);
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    assert.match(metrics, /lc_rate_limited_total\{limit="beacon"\} 11/);
    assert.match(metrics, /lc_rate_limited_total\{limit="lead"\} 1/);
  } finally {
    await server.stop();
    removeDir(server.dataDir);
  }

  // Behind one trusted proxy: the address it appends is the client; what the client wrote before it is not.
  const proxied = await startServer({ TRUST_PROXY: '1', RATE_LIMIT_COLLECT: '5', RATE_LIMIT_GLOBAL: '1000' });
  try {
    const statuses = [];
    for (let i = 0; i < 8; i++) statuses.push((await collect(proxied.url, { 'X-Forwarded-For': `10.0.0.${i}, 81.214.10.20` })).status);
    assert.deepEqual(statuses, [204, 204, 204, 204, 204, 429, 429, 429]);
    assert.equal((await collect(proxied.url, { 'X-Forwarded-For': '81.214.10.21' })).status, 204, 'another client of the proxy has its own bucket');
  } finally {
    await proxied.stop();
    removeDir(proxied.dataDir);
  }
});

test('the global ceiling holds however many addresses a flood uses', async () => {
  const server = await startServer({ TRUST_PROXY: '1', RATE_LIMIT_COLLECT: '1000', RATE_LIMIT_GLOBAL: '10' });
  try {
    const statuses = await Promise.all(Array.from({ length: 40 }, (_, i) => collect(server.url, { 'X-Forwarded-For': `192.0.2.${i}` }).then((r) => r.status)));
    const ok = statuses.filter((s) => s === 204).length;
    assert.ok(ok >= 10 && ok <= 12, `${ok} of 40 passed a ceiling of 10/s`);
    assert.equal(statuses.filter((s) => s === 429).length, 40 - ok);
  } finally {
    await server.stop();
    removeDir(server.dataDir);
  }
});

test('security headers: the owner\'s side cannot be framed or sniffed and loads nothing foreign; HSTS over HTTPS; CORS only on visitor endpoints', async () => {
  const server = await startServer({ PUBLIC_ORIGIN: 'https://track.example.com' });
  try {
    const api = await fetch(`${server.url}/api/admin/status`, { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } });
    assert.equal(api.headers.get('content-security-policy'), "default-src 'none'; frame-ancestors 'none'");
    assert.equal(api.headers.get('x-frame-options'), 'DENY');
    assert.equal(api.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(api.headers.get('referrer-policy'), 'no-referrer');
    assert.equal(api.headers.get('strict-transport-security'), 'max-age=31536000; includeSubDomains');
    assert.equal(api.headers.get('access-control-allow-origin'), null);
    const pwa = await fetch(`${server.url}/admin/`);
    const csp = pwa.headers.get('content-security-policy')!;
    assert.match(csp, /script-src 'self'/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    assert.doesNotMatch(await pwa.text(), /<script>(?!\s*$)|<script(?![^>]*(src=|type="application\/json"))/, 'no inline script in the PWA');
    const preflight = await fetch(`${server.url}/collect`, { method: 'OPTIONS', headers: { Origin: 'https://usta.example.com', 'Access-Control-Request-Method': 'POST' } });
    assert.equal(preflight.headers.get('access-control-allow-origin'), '*');
    const beaconReply = await collect(server.url);
    assert.equal(beaconReply.headers.get('access-control-allow-origin'), '*');
    assert.equal(beaconReply.headers.get('x-frame-options'), null, 'visitor endpoints carry only what applies to them');
    assert.equal((await fetch(`${server.url}/api/admin/status`, { method: 'OPTIONS' })).headers.get('access-control-allow-origin'), null);
  } finally {
    await server.stop();
    removeDir(server.dataDir);
  }
  const plain = await startServer();
  try {
    assert.equal((await fetch(`${plain.url}/healthz`)).headers.get('strict-transport-security'), null, 'no HSTS without HTTPS');
  } finally {
    await plain.stop();
    removeDir(plain.dataDir);
  }
});

/** A raw TCP client that writes what the test says, when it says. */
function rawClient(port: number): Promise<{ socket: Socket; received: () => string; closed: Promise<number> }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let data = '';
    const opened = Date.now();
    const closed = new Promise<number>((r) => socket.once('close', () => r(Date.now() - opened)));
    socket.on('data', (c) => (data += c));
    socket.on('error', () => undefined);
    socket.once('connect', () => resolve({ socket, received: () => data, closed }));
    socket.once('error', reject);
  });
}

test('slow and oversized requests are cut off while other clients are served', async () => {
  const server = await startServer({ HTTP_BODY_TIMEOUT_MS: '2000' });
  try {
    // A slow body: headers promise 100 bytes, one arrives every 300 ms.
    const slowBody = await rawClient(server.port);
    slowBody.socket.write('POST /collect HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{');
    const drip = setInterval(() => slowBody.socket.writable && slowBody.socket.write(' '), 300);
    // A slowloris: headers that never end.
    const slowHeaders = await rawClient(server.port);
    slowHeaders.socket.write('POST /collect HTTP/1.1\r\nHost: x\r\n');
    const dripHeaders = setInterval(() => slowHeaders.socket.writable && slowHeaders.socket.write('X-A: b\r\n'), 1000);
    // Meanwhile an ordinary client is served at once, repeatedly.
    for (let i = 0; i < 5; i++) {
      const started = Date.now();
      assert.equal((await collect(server.url)).status, 204);
      assert.ok(Date.now() - started < 1000);
      await new Promise((r) => setTimeout(r, 200));
    }
    const bodyClosedAfter = await slowBody.closed;
    clearInterval(drip);
    assert.match(slowBody.received(), /^HTTP\/1\.1 408 /, slowBody.received());
    assert.ok(bodyClosedAfter >= 1900 && bodyClosedAfter < 5000, `slow body cut after ${bodyClosedAfter} ms`);
    const headersClosedAfter = await Promise.race([slowHeaders.closed, new Promise<number>((r) => setTimeout(() => r(-1), 20_000))]);
    clearInterval(dripHeaders);
    assert.ok(headersClosedAfter > 0, 'the never-ending headers were cut off');

    // Oversized headers (over uWS's 4 KB once they span more than one read): refused, the server stays up.
    const big = await rawClient(server.port);
    const head = `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`;
    big.socket.write(head.slice(0, 100));
    await new Promise((r) => setTimeout(r, 50));
    big.socket.write(head.slice(100));
    await big.closed;
    assert.doesNotMatch(big.received(), /^HTTP\/1\.1 200/);
    assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
  } finally {
    await server.stop();
    removeDir(server.dataDir);
  }
});

test('Turnstile: the token is verified server-side, once; a refusal or an unreachable siteverify refuses the lead (fail closed)', async () => {
  const checks: Array<Record<string, string>> = [];
  const seen = new Set<string>();
  const siteverify = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const form = Object.fromEntries(new URLSearchParams(body));
      checks.push(form);
      const duplicate = seen.has(form.response!);
      seen.add(form.response!);
      const ok = form.secret === 'ts-secret' && form.response!.startsWith('good-') && !duplicate;
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ success: ok, 'error-codes': ok ? [] : duplicate ? ['timeout-or-duplicate'] : ['invalid-input-response'] }));
    });
  });
  await new Promise<void>((r) => siteverify.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(siteverify.address() as { port: number }).port}/turnstile/v0/siteverify`;
  const server = await startServer({ TURNSTILE_SECRET: 'ts-secret', TURNSTILE_VERIFY_URL: url, TRUST_PROXY: '1' });
  const lead = (body: Record<string, unknown>) => send(`${server.url}/lead`, { phone: '+905321230000', ...body }, { 'Content-Type': 'application/json', 'X-Forwarded-For': '81.214.10.20' });
  try {
    const missing = await lead({});
    assert.equal(missing.status, 403);
    assert.match(((await missing.json()) as { detail: string }).detail, /spam check is missing/);
    const eventId = randomUUID();
    const ok = await lead({ eventId, turnstileToken: 'good-1' });
    assert.equal(ok.status, 201);
    assert.deepEqual(checks.at(-1)!.remoteip, '81.214.10.20');
    assert.ok(checks.at(-1)!.idempotency_key);
    assert.equal((await lead({ eventId })).status, 200, 'the same lead again (a retry) needs no new token');
    const reused = await lead({ turnstileToken: 'good-1' });
    assert.equal(reused.status, 403);
    assert.match(((await reused.json()) as { detail: string }).detail, /already used/);
    const bad = await lead({ 'cf-turnstile-response': 'forged' });
    assert.equal(bad.status, 403);
    assert.match(((await bad.json()) as { type: string; detail: string }).detail, /failed \(invalid-input-response\)/);
    siteverify.close();
    siteverify.closeAllConnections();
    const down = await lead({ turnstileToken: 'good-2' });
    assert.equal(down.status, 503);
    assert.equal(((await down.json()) as { type: string }).type, '/problems/spam-check-unavailable');
    assert.equal((await adminGet<{ leads: unknown[] }>(server, '/api/admin/leads')).leads.length, 1, 'only the verified lead was stored');
  } finally {
    await server.stop();
    removeDir(server.dataDir);
    siteverify.close();
  }
});

test('the honeypot, a robot\'s fill time and floods hold leads: stored, not notified one by one, not counted', async () => {
  const telegram = await startTelegram('123:TEST');
  const server = await startServer({ TRUST_PROXY: '1', LEAD_FLOOD_PER_IP: '3', LEAD_FLOOD_PER_PHONE: '2', TELEGRAM_API_URL: telegram.url, TELEGRAM_BOT_TOKEN: '123:TEST', TELEGRAM_CHAT_ID: '42' });
  const lead = async (ip: string, body: Record<string, unknown>) => {
    const res = await send(`${server.url}/lead`, { phone: `+9053212${randomInt(10_000, 99_999)}`, ...body }, { 'Content-Type': 'application/json', 'X-Forwarded-For': ip });
    assert.equal(res.status, 201);
    return ((await res.json()) as { id: string }).id;
  };
  const flagOf = async (id: string) => (await adminGet<Json>(server, `/api/admin/leads/${id}`)).lead.flag;
  try {
    const human = await lead('81.214.0.1', { lcFill: 9000, lc_hp: '' });
    const trapped = await lead('81.214.0.2', { lc_hp: 'http://spam.example', lcFill: 9000 });
    const quick = await lead('81.214.0.3', { lcFill: 400 });
    const form = await fetch(`${server.url}/lead`, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'X-Forwarded-For': '81.214.0.4' }, body: 'phone=%2B905321239999&lc_hp=buy+now' });
    assert.equal(form.status, 201);
    assert.deepEqual([await flagOf(human), await flagOf(trapped), await flagOf(quick)], [null, 'honeypot', 'too-fast']);
    // A flood from one address: the fourth lead within the hour and after are held.
    const flood = [];
    for (let i = 0; i < 6; i++) flood.push(await lead('198.51.100.7', { lcFill: 9000 }));
    assert.deepEqual(await Promise.all(flood.map(flagOf)), [null, null, null, 'flood', 'flood', 'flood']);
    // The same phone from many addresses: the third is held.
    const samePhone = [];
    for (let i = 0; i < 3; i++) samePhone.push(await lead(`203.0.113.${i + 1}`, { phone: '+905321110099', lcFill: 9000 }));
    assert.deepEqual(await Promise.all(samePhone.map(flagOf)), [null, null, 'flood']);

    await eventually(async () => (telegram.calls.length >= 7 ? true : undefined), 10_000, 'notifications');
    await new Promise((r) => setTimeout(r, 500));
    const texts = telegram.calls.map((c) => c.text);
    assert.equal(texts.filter((t) => t.startsWith('New lead')).length, 1 + 3 + 2, 'only the leads not held are notified');
    assert.equal(texts.filter((t) => t.startsWith('Leads held')).length, 1, 'one message for the flood, not one per lead');
    const stats = await adminGet<Json>(server, '/api/admin/stats');
    assert.equal(stats.totals?.leads ?? stats.leads, 6, 'held leads are not counted');
  } finally {
    await server.stop();
    removeDir(server.dataDir);
    await telegram.close();
  }
});
