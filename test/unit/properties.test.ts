// Property tests (fast-check) for every parser on the edge: whatever arrives — arbitrary JSON,
// deep nesting, __proto__ and constructor keys, huge numbers and strings, odd Unicode, invalid
// UTF-8 — each returns a typed result or a typed error, never throws, never pollutes prototypes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { parseCollect } from '../../src/collect/beacon.ts';
import { forwardedClient } from '../../src/http/client-ip.ts';
import { attributionFromCookies, fieldsFromForm, fieldsFromJson, normaliseEmail, normalisePhone, parseLead } from '../../src/leads/lead.ts';
import { verifyStripeSignature } from '../../src/checkout/stripe.ts';

const RUNS = Number(process.env.FC_RUNS ?? 300);

/** JSON values biased towards what attackers send: keys that touch prototypes, deep nesting, extremes. */
const hostileKey = fc.oneof(fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'type', 'url', 'id', 'attribution', 'props', 'phone', 'email', 'gclid', 'ts'), fc.string({ maxLength: 20 }), fc.string({ unit: 'binary', maxLength: 8 }));
const extreme = fc.oneof(
  fc.constantFrom(1e308, -1e308, Number.MAX_SAFE_INTEGER + 2, -0, 0.1 + 0.2, 8.64e15 + 1, ''),
  fc.string({ minLength: 5000, maxLength: 70_000 }).map((s) => s || 'x'),
  fc.string({ unit: 'binary', maxLength: 50 }),
  fc.constantFrom('\u0000', '\ud800', '\uffff', 'https://usta.example.com/?gclid=abc', 'pageview', '+905321234567', 'a@b.co'),
);
const { json: hostileJson } = fc.letrec((tie) => ({
  json: fc.oneof({ depthSize: 'small', withCrossShrink: true }, fc.jsonValue({ maxDepth: 2 }), extreme, tie('array'), tie('object')),
  array: fc.array(tie('json'), { maxLength: 5 }),
  object: fc.dictionary(hostileKey, tie('json'), { maxKeys: 6 }).map((o) => JSON.parse(JSON.stringify(o)) as unknown),
}));
/** Nearly valid beacons: the right shape, hostile values in every field. */
const beaconLike = fc.record(
  {
    type: fc.oneof(fc.constantFrom('pageview', 'click', 'call', 'whatsapp', 'form_submit', 'custom'), hostileJson),
    url: fc.oneof(fc.webUrl({ withQueryParameters: true, withFragments: true }), hostileJson),
    id: fc.oneof(fc.uuid(), hostileJson),
    ts: fc.oneof(fc.integer(), fc.double(), hostileJson),
    props: fc.oneof(fc.dictionary(hostileKey, fc.string({ maxLength: 300 })), hostileJson),
    attribution: fc.oneof(fc.dictionary(hostileKey, fc.string({ maxLength: 600 })), hostileJson),
    screen: fc.oneof(fc.record({ w: fc.integer(), h: fc.double() }), hostileJson),
  },
  { requiredKeys: ['type', 'url'] },
);
/** Raw bodies: JSON text of hostile values, deeply nested arrays, or bytes that are not UTF-8. */
const body = fc.oneof(
  beaconLike.map((v) => Buffer.from(JSON.stringify(v))),
  fc.array(beaconLike, { maxLength: 60 }).map((v) => Buffer.from(JSON.stringify(v))),
  hostileJson.map((v) => Buffer.from(JSON.stringify(v) ?? 'null')),
  fc.integer({ min: 1, max: 20_000 }).map((depth) => Buffer.from('['.repeat(depth) + ']'.repeat(depth))),
  fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
  fc.constantFrom(Buffer.from([0xc3, 0x28]), Buffer.from([0xff, 0xfe, 0x7b, 0x7d]), Buffer.from('{"type":"pageview","url":"https://x.y/\ud800"}')),
);

function notPolluted(): void {
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  assert.equal(Object.prototype.hasOwnProperty.call(Object.prototype, 'type'), false);
  assert.equal(Object.keys(Object.prototype).length, 0);
}

test('parseCollect: any body and content type → beacons or a 400/415 problem', () => {
  let accepted = 0;
  fc.assert(
    fc.property(body, fc.constantFrom('application/json', 'text/plain;charset=UTF-8', 'text/html', ''), (raw, type) => {
      const result = parseCollect(type, raw);
      if (result.ok) {
        accepted++;
        assert.ok(Array.isArray(result.beacons) && result.beacons.length > 0);
        for (const b of result.beacons) assert.equal(typeof b.type, 'string');
      } else assert.ok([400, 415].includes(result.status) && typeof result.detail === 'string');
      notPolluted();
    }),
    { numRuns: RUNS },
  );
  assert.ok(accepted > 0, 'some generated bodies are valid beacons, so the enrichment-facing types are checked too');
});

test('lead intake: any JSON or form body and any cookie → a draft or field errors', () => {
  fc.assert(
    fc.property(hostileJson, fc.string({ maxLength: 300 }), fc.constantFrom(undefined, 'TR', 'DE', 'US'), (value, cookie, country) => {
      const fields = fieldsFromJson(value);
      if (fields === undefined) return;
      const parsed = parseLead(fields, attributionFromCookies(cookie), country);
      if (parsed.ok) assert.equal(typeof parsed.draft, 'object');
      else assert.ok(Object.keys(parsed.errors).length > 0);
      notPolluted();
    }),
    { numRuns: RUNS },
  );
  fc.assert(
    fc.property(fc.string({ maxLength: 2000 }), fc.string({ unit: 'binary', maxLength: 200 }), (form, cookie) => {
      const parsed = parseLead(fieldsFromForm(new URLSearchParams(form)), attributionFromCookies(`lc_attr=${encodeURIComponent(cookie)}; ${cookie}`), 'TR');
      assert.equal(typeof parsed.ok, 'boolean');
      notPolluted();
    }),
    { numRuns: RUNS },
  );
});

test('phone and email normalisation: any text → a normalised value or undefined', () => {
  fc.assert(
    fc.property(fc.oneof(fc.string({ unit: 'binary', maxLength: 60 }), fc.stringMatching(/^\+?[0-9 ()-]{0,30}$/)), fc.constantFrom(undefined, 'TR', 'GB'), (raw, country) => {
      const phone = normalisePhone(raw, country);
      assert.ok(phone === undefined || /^\+[1-9]\d{6,14}$/.test(phone), String(phone));
      const email = normaliseEmail(raw);
      assert.ok(email === undefined || (email === email.trim() && email.includes('@')));
    }),
    { numRuns: RUNS },
  );
});

test('Stripe signature check: any header, body and secret → true or false', () => {
  fc.assert(
    fc.property(fc.oneof(fc.string({ maxLength: 200 }), fc.constantFrom('t=1,v1=', 't=abc,v1=zz', 't=99999999999999999999,v1=00', ',,,=,=')), fc.uint8Array({ maxLength: 200 }), fc.string({ minLength: 1, maxLength: 40 }), (header, raw, secret) => {
      assert.equal(verifyStripeSignature(header, Buffer.from(raw), secret), false);
    }),
    { numRuns: RUNS },
  );
});

test('client IP: any forwarded headers → one of the addresses given, never one the client chose past the trusted hops', () => {
  fc.assert(
    fc.property(fc.array(fc.oneof(fc.ipV4(), fc.ipV6(), fc.string({ maxLength: 20 })), { maxLength: 6 }), fc.string({ maxLength: 50 }), fc.integer({ min: 1, max: 3 }), (chain, cf, hops) => {
      const peer = '10.0.0.1';
      const header = chain.join(',');
      assert.equal(forwardedClient({ kind: 'none' }, header, cf), undefined);
      const ip = forwardedClient({ kind: 'hops', hops }, header, cf) ?? peer;
      const full = header === '' ? [peer] : [...header.split(','), peer];
      const allowed = full.slice(Math.max(full.length - 1 - hops, 0)).map((s) => s.trim());
      assert.ok(allowed.includes(ip) || ip === peer, `${ip} from ${header}`);
    }),
    { numRuns: RUNS },
  );
});
