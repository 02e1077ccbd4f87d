// Network fuzzing of the real server: random and mutated HTTP requests over raw TCP — every
// route, every method, hostile JSON and form bodies, garbage bytes, truncated bodies and wrong
// Content-Length, forged and real credentials, odd headers. Counts answers by class; a 5xx or a
// dead process is a finding. Used by test/fuzz.test.ts (short) and `npm run fuzz` (long).
import { createHmac } from 'node:crypto';
import { connect } from 'node:net';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { ADMIN_TOKEN, type RunningServer } from './harness.ts';

export interface FuzzStats {
  requests: number;
  byClass: Record<string, number>;
  /** Connections the server closed without an answer (malformed HTTP). */
  closedWithoutAnswer: number;
  fiveXx: Array<{ request: string; response: string }>;
}

const PATHS = [
  '/collect', '/lead', '/t.js', '/healthz', '/readyz', '/metrics', '/admin/', '/admin/app.js', '/admin/sw.js',
  '/hooks/google-lead-form', '/hooks/google-lead-form?key=x', '/hooks/stripe',
  '/api/admin/leads', '/api/admin/leads?status=NEW&q=%00&cursor=zz&limit=-1', '/api/admin/leads/LEAD', '/api/admin/leads/LEAD/sale',
  '/api/admin/sales', '/api/admin/deliveries?state=nope', '/api/admin/deliveries/1/retry', '/api/admin/events?limit=99999999999',
  '/api/admin/stats?from=x&to=2026-13-45', '/api/admin/status', '/api/admin/backups', '/api/admin/session', '/api/admin/setup',
  '/api/admin/sessions', '/api/admin/push-subscriptions', '/api/admin/push-subscriptions/abc', '/api/admin/push-subscriptions/test',
];
const METHODS = ['GET', 'POST', 'PATCH', 'PUT', 'DELETE', 'OPTIONS', 'HEAD', 'TRACE', 'BREW', 'G ET', ''];

const hostileKey = fc.oneof(fc.constantFrom('__proto__', 'constructor', 'type', 'url', 'phone', 'email', 'value', 'currency', 'status', 'note', 'leadId', 'refCode', 'password', 'code', 'endpoint', 'keys', 'attribution', 'consent', 'data', 'object'), fc.string({ maxLength: 12 }));
const { json } = fc.letrec((tie) => ({
  json: fc.oneof({ depthSize: 'small' }, fc.jsonValue({ maxDepth: 2 }), fc.constantFrom(1e308, -1, 0, '', 'pageview', '+905321234567', 'a@b.co', 'SOLD', 'TRY', 'https://x.example/?gclid=1'), fc.string({ unit: 'binary', maxLength: 40 }), tie('object'), fc.array(tie('json'), { maxLength: 4 })),
  object: fc.dictionary(hostileKey, tie('json'), { maxKeys: 8 }).map((o) => JSON.parse(JSON.stringify(o)) as unknown),
}));

/** Secrets the fuzzed server is started with, so signed webhooks get past their checks to the parsers. */
export const FUZZ_SECRETS = { STRIPE_WEBHOOK_SECRET: 'whsec_fuzz', GOOGLE_LEAD_FORM_KEY: 'fuzz-lead-form-key-0123' };

const genericArb = fc.record({
  method: fc.constantFrom(...METHODS),
  path: fc.oneof(fc.constantFrom(...PATHS), fc.constantFrom(...PATHS).chain((p) => fc.string({ maxLength: 30 }).map((s) => p + encodeURI(s).slice(0, 60))), fc.string({ maxLength: 40 }).map((s) => '/' + s.replace(/[\s]/g, ''))),
  contentType: fc.constantFrom('application/json', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'text/html', '', 'application/json; charset=latin1'),
  auth: fc.constantFrom('none', 'token', 'forged', 'garbage'),
  body: fc.oneof(
    json.map((v) => Buffer.from(JSON.stringify(v) ?? '')),
    json.map((v) => Buffer.from(new URLSearchParams(Object.entries(typeof v === 'object' && v !== null ? v : { v }).map(([k, x]) => [k, typeof x === 'string' ? x : (JSON.stringify(x) ?? '')])).toString())), // String({toString: 1}) throws
    fc.uint8Array({ maxLength: 400 }).map((b) => Buffer.from(b)),
    fc.constant(Buffer.alloc(0)),
  ),
  /** How the declared length relates to the body: right, missing, short, long, nonsense. */
  length: fc.constantFrom('right', 'right', 'right', 'missing', 'short', 'long', 'nonsense', 'chunked'),
  extraHeaders: fc.array(fc.tuple(fc.constantFrom('X-Forwarded-For', 'CF-Connecting-IP', 'Cookie', 'Origin', 'If-None-Match', 'Accept-Encoding', 'X-LC-CSRF', 'Stripe-Signature', 'User-Agent', 'Referer'), fc.string({ maxLength: 60 }).map((s) => s.replace(/[\r\n]/g, ''))), { maxLength: 4 }),
  flip: fc.option(fc.nat(), { nil: undefined }),
  signStripe: fc.constant(false),
});

const amount = fc.oneof(fc.integer({ min: -1e6, max: 1e6 }), fc.constantFrom(1e308, -0, 1.5), json);
/** A Stripe event signed with the server's secret, its fields hostile. */
const stripeArb = fc
  .record({
    id: fc.oneof(fc.string({ maxLength: 20 }), json),
    type: fc.oneof(fc.constantFrom('checkout.session.completed', 'payment_intent.succeeded', 'charge.refunded'), json),
    created: fc.oneof(fc.integer(), fc.constantFrom(1e308, -1), json),
    data: fc.oneof(json, fc.record({ object: fc.oneof(json, fc.record({ amount_total: amount, amount_received: amount, currency: fc.oneof(fc.constantFrom('try', 'eur', 'jpy'), json), client_reference_id: json, receipt_email: json, metadata: json, customer_details: fc.oneof(json, fc.record({ email: json, phone: json })) }, { requiredKeys: [] })) })),
  }, { requiredKeys: [] })
  .map((event) => ({ method: 'POST', path: '/hooks/stripe', contentType: 'application/json', auth: 'none', body: Buffer.from(JSON.stringify(event)), length: 'right', extraHeaders: [] as Array<[string, string]>, flip: undefined, signStripe: true }));
/** A Google Ads lead form webhook call with the right key, its fields hostile. */
const googleArb = fc
  .record({
    lead_id: fc.oneof(fc.string({ maxLength: 30 }), json),
    user_column_data: fc.oneof(json, fc.array(fc.record({ column_id: fc.oneof(fc.constantFrom('PHONE_NUMBER', 'EMAIL', 'FULL_NAME', 'FIRST_NAME', 'CITY'), json), string_value: fc.oneof(fc.string({ maxLength: 40 }), json), column_name: json }, { requiredKeys: [] }), { maxLength: 6 })),
    gcl_id: json,
    campaign_id: json,
    form_id: json,
    is_test: json,
  }, { requiredKeys: [] })
  .map((lead) => ({ method: 'POST', path: '/hooks/google-lead-form', contentType: 'application/json', auth: 'none', body: Buffer.from(JSON.stringify({ ...lead, google_key: FUZZ_SECRETS.GOOGLE_LEAD_FORM_KEY })), length: 'right', extraHeaders: [] as Array<[string, string]>, flip: undefined, signStripe: false }));

/**
 * Text ClickHouse or a header would choke on: lone surrogates (JSON.stringify writes them as
 * \ud800 escapes), NUL, surrogate pairs placed to be cut by a field cap, CESU-8 bytes in URLs.
 */
const poison = fc.constantFrom('\ud800', 'x\udfff', 'a\ud83d', '\u0000', 'a\u0000b', '\ud83d\ude00'.repeat(300), 'é'.repeat(127) + '\ud83d\ude00', 'line\r\nX-Injected: 1', '');
const poisonUrl = fc.constantFrom('https://usta.example.com/', 'https://usta.example.com/?utm_campaign=%ED%A0%80&gclid=%F0%9F', `https://usta.example.com/?utm_term=${'a'.repeat(255)}%F0%9F%98%80`, 'https://usta.example.com/\u0000', 'javascript:alert(1)', '');
const outOfRange = fc.constantFrom(0, 65535, 65536, -1, 1e308, 2 ** 53, 8.64e15, 1e300, 1.5);
const hostileBeacon = fc.record({
  type: fc.constantFrom('pageview', 'call', 'whatsapp', 'custom', 'form_submit'),
  url: poisonUrl,
  name: poison,
  referrer: poison,
  visitorId: poison,
  ts: outOfRange,
  screen: fc.record({ w: outOfRange, h: outOfRange }),
  props: fc.dictionary(poison, fc.oneof(poison, outOfRange), { maxKeys: 4 }),
  attribution: fc.record({ gclid: poison, fbclid: poison, utm_source: poison, landing: poisonUrl, fbc: poison }, { requiredKeys: [] }),
}, { requiredKeys: ['type'] });
/** A gzip body that inflates to 10 MB of one field (we do not inflate bodies: it must be a 4xx). */
const BOMB = gzipSync(JSON.stringify({ type: 'pageview', url: 'https://usta.example.com/', name: 'x'.repeat(10 * 1024 * 1024) }));
const hostileArb = fc.oneof(
  fc.array(hostileBeacon, { minLength: 1, maxLength: 5 }).map((b) => ({ path: '/collect', contentType: 'text/plain;charset=UTF-8', body: Buffer.from(JSON.stringify(b)), extraHeaders: [] as Array<[string, string]> })),
  fc.record({ name: poison, message: poison, phone: fc.constantFrom('+905321234567', '\ud800', '0532 123 45 67\u0000'), email: poison, pageUrl: poisonUrl, thanks: poisonUrl, attribution: fc.record({ gclid: poison, landing: poisonUrl }) })
    .map((l) => ({ path: '/lead', contentType: 'application/json', body: Buffer.from(JSON.stringify(l)), extraHeaders: [['Origin', 'https://usta.example.com']] as Array<[string, string]> })),
  fc.constantFrom(
    { path: '/collect', contentType: 'text/plain', body: Buffer.from([0x7b, 0x22, 0x74, 0x79, 0x70, 0x65, 0x22, 0x3a, 0x22, 0xed, 0xa0, 0x80, 0xff, 0x22, 0x7d]), extraHeaders: [] as Array<[string, string]> },
    { path: '/collect', contentType: 'application/json', body: BOMB, extraHeaders: [['Content-Encoding', 'gzip']] as Array<[string, string]> },
    { path: '/lead', contentType: 'application/x-www-form-urlencoded', body: Buffer.from('phone=%2B905321234567&name=%ED%A0%80%00&thanks=https%3A%2F%2Fusta.example.com%2Fok%0D%0ASet-Cookie%3A%20x%3D1'), extraHeaders: [['Origin', 'https://usta.example.com']] as Array<[string, string]> },
  ),
).map((r) => ({ method: 'POST', auth: 'none', length: 'right', flip: undefined, signStripe: false, ...r, extraHeaders: [['User-Agent', 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) Safari/604.1'], ...r.extraHeaders] as Array<[string, string]> }));

const requestArb = fc.oneof({ weight: 8, arbitrary: genericArb }, { weight: 1, arbitrary: stripeArb }, { weight: 1, arbitrary: googleArb }, { weight: 2, arbitrary: hostileArb });

type FuzzRequest = typeof requestArb extends fc.Arbitrary<infer T> ? T : never;

function build(r: FuzzRequest, host: string): Buffer {
  const headers = [`Host: ${host}`];
  if (r.contentType) headers.push(`Content-Type: ${r.contentType}`);
  if (r.auth === 'token') headers.push(`Authorization: Bearer ${ADMIN_TOKEN}`, 'X-LC-CSRF: 1');
  if (r.auth === 'forged') headers.push('Authorization: Bearer test-admin-token-0123456780');
  if (r.auth === 'garbage') headers.push('Authorization: Basic %%%', 'Cookie: lc_session=../../etc/passwd');
  for (const [name, value] of r.extraHeaders) headers.push(`${name}: ${value}`);
  const body = Buffer.from(r.body);
  if (r.signStripe) {
    const t = Math.floor(Date.now() / 1000);
    headers.push(`Stripe-Signature: t=${t},v1=${createHmac('sha256', FUZZ_SECRETS.STRIPE_WEBHOOK_SECRET).update(`${t}.${body.toString('utf8')}`).digest('hex')}`);
  }
  if (r.flip !== undefined && body.length > 0) body[r.flip % body.length] = body[r.flip % body.length]! ^ 0x5a;
  let payload = body;
  if (r.length === 'right') headers.push(`Content-Length: ${body.length}`);
  if (r.length === 'short') headers.push(`Content-Length: ${Math.max(0, body.length - 3)}`);
  if (r.length === 'long') headers.push(`Content-Length: ${body.length + 17}`);
  if (r.length === 'nonsense') headers.push('Content-Length: -1, 12');
  if (r.length === 'chunked') {
    headers.push('Transfer-Encoding: chunked');
    payload = Buffer.concat([Buffer.from(`${body.length.toString(16)}\r\n`), body, Buffer.from('\r\n0\r\n\r\n')]);
  }
  return Buffer.concat([Buffer.from(`${r.method} ${r.path} HTTP/1.1\r\n${headers.join('\r\n')}\r\nConnection: close\r\n\r\n`), payload]);
}

/** Sends one raw request; resolves with what came back (possibly nothing) once the server closes or 1.5 s pass. */
function exchange(port: number, raw: Buffer): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let data = '';
    const finish = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(data);
    };
    const timer = setTimeout(finish, 1500);
    socket.on('data', (c) => {
      data += c.toString('latin1');
    });
    socket.on('error', finish);
    socket.on('close', finish);
    socket.on('connect', () => socket.end(raw));
  });
}

export async function fuzzServer(server: RunningServer, requests: number, seed: number, concurrency = 16, onProgress?: (stats: FuzzStats) => void): Promise<FuzzStats> {
  const stats: FuzzStats = { requests: 0, byClass: {}, closedWithoutAnswer: 0, fiveXx: [] };
  // Requests are drawn in chunks (each from its own seed): a million at once would not fit in memory.
  const CHUNK = 10_000;
  let samples: FuzzRequest[] = [];
  let next = 0;
  let drawn = 0;
  const take = (): FuzzRequest | undefined => {
    if (next === samples.length) {
      if (drawn >= requests) return undefined;
      const n = Math.min(CHUNK, requests - drawn);
      samples = fc.sample(requestArb, { numRuns: n, seed: seed + drawn });
      drawn += n;
      next = 0;
    }
    return samples[next++];
  };
  const worker = async () => {
    for (let r = take(); r !== undefined; r = take()) {
      const raw = build(r, `127.0.0.1:${server.port}`);
      const response = await exchange(server.port, raw);
      stats.requests++;
      const status = /^HTTP\/1\.1 (\d{3})/.exec(response)?.[1];
      if (!status) stats.closedWithoutAnswer++;
      else {
        const cls = `${status[0]}xx`;
        stats.byClass[cls] = (stats.byClass[cls] ?? 0) + 1;
        if (cls === '5xx') stats.fiveXx.push({ request: raw.toString('latin1').slice(0, 400), response: response.slice(0, 400) });
      }
      if (onProgress && stats.requests % 500 === 0) onProgress(stats);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return stats;
}

/**
 * After the fuzzing: a poison beacon followed by good ones. Resolves with how long ClickHouse took
 * to confirm all of them and how many rows are parked; rejects when they are not confirmed in 15 s.
 */
export async function ingestStillFlows(server: RunningServer): Promise<{ confirmedInMs: number; parkedRows: number }> {
  const status = async () => ((await (await fetch(`${server.url}/api/admin/status`, { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } })).json()) as { batch: { confirmedRows: number; pendingRows: number; parkedRows: number } }).batch;
  const started = Date.now();
  const before = (await status()).confirmedRows;
  const beacons = ['{"type":"pageview","url":"https://usta.example.com/poison","name":"\\ud800"}', ...Array.from({ length: 10 }, (_, i) => JSON.stringify({ type: 'pageview', url: `https://usta.example.com/after-fuzz/${i}` }))];
  for (const body of beacons) {
    const res = await fetch(`${server.url}/collect`, { method: 'POST', headers: { 'Content-Type': 'text/plain', 'User-Agent': 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) Safari/604.1' }, body });
    if (res.status !== 204) throw new Error(`a beacon after the fuzzing got ${res.status}`);
  }
  while (Date.now() - started < 15_000) {
    const now = await status();
    if (now.pendingRows === 0 && now.confirmedRows >= before + beacons.length) return { confirmedInMs: Date.now() - started, parkedRows: now.parkedRows };
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('beacons sent after the fuzzing were not confirmed by ClickHouse within 15 s');
}
