import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { isIP } from 'node:net';
import type { TrustProxy } from '../../src/config.ts';
import { forwardedClient } from '../../src/http/client-ip.ts';
import { copiedField, RequestHeaders } from '../../src/http/server.ts';

/** The client as the server resolves it: the forwarded address, else the TCP peer. */
const clientIp = (trust: TrustProxy, peer: string, forwardedFor: string, cf: string) => forwardedClient(trust, forwardedFor, cf) ?? peer;

test('without TRUST_PROXY the socket address is the client, whatever the headers say', () => {
  assert.equal(clientIp({ kind: 'none' }, '198.51.100.7', '81.214.1.1', '81.214.1.2'), '198.51.100.7');
});

test('with one trusted hop the address the proxy appended is the client, not what the client sent', () => {
  // The client sent "X-Forwarded-For: 1.1.1.1"; the proxy appended the real peer 81.214.1.1.
  assert.equal(clientIp({ kind: 'hops', hops: 1 }, '127.0.0.1', '1.1.1.1, 81.214.1.1', ''), '81.214.1.1');
  assert.equal(clientIp({ kind: 'hops', hops: 2 }, '127.0.0.1', '1.1.1.1, 81.214.1.1, 10.0.0.2', ''), '81.214.1.1');
});

test('with more trusted hops than entries the left-most address is used; garbage falls back to the socket', () => {
  assert.equal(clientIp({ kind: 'hops', hops: 3 }, '127.0.0.1', '81.214.1.1', ''), '81.214.1.1');
  assert.equal(clientIp({ kind: 'hops', hops: 1 }, '127.0.0.1', 'not-an-ip', ''), '127.0.0.1');
  assert.equal(clientIp({ kind: 'hops', hops: 1 }, '127.0.0.1', '', ''), '127.0.0.1');
});

test('the hop walk picks the entry a split of the header would, for any list and any number of hops', () => {
  // The chain as the last proxy sees it, [client, proxy1, ..., peer]: `hops` places left of the peer.
  const bySplit = (hops: number, peer: string, header: string) => {
    if (header === '') return peer;
    const chain = [...header.split(','), peer];
    const candidate = chain[Math.max(chain.length - 1 - hops, 0)]!.trim();
    return candidate === peer || isIP(candidate) ? candidate : peer;
  };
  const entries = ['81.214.1.1', ' 10.0.0.2', '2a02:e0::1 ', '', ' ', 'junk', '127.0.0.1'];
  const headers = fc.array(fc.constantFrom(...entries), { maxLength: 5 }).map((list) => list.join(','));
  fc.assert(
    fc.property(headers, fc.integer({ min: 1, max: 10 }), (header, hops) => {
      assert.equal(clientIp({ kind: 'hops', hops }, '127.0.0.1', header, ''), bySplit(hops, '127.0.0.1', header));
    }),
    { seed: 7, numRuns: 20_000 },
  );
});

test('behind Cloudflare CF-Connecting-IP is the client', () => {
  assert.equal(clientIp({ kind: 'cloudflare' }, '172.70.1.1', '9.9.9.9', '2a02:e0::1'), '2a02:e0::1');
  assert.equal(clientIp({ kind: 'cloudflare' }, '172.70.1.1', '', ''), '172.70.1.1');
});

test('every header a handler reads is copied, and no other', () => {
  for (const name of Object.keys(new RequestHeaders())) assert.equal(copiedField(name), name);
  for (const name of ['host', 'content-length', 'accept', 'connection', 'x-forwarded-host', 'cookie2', 'user-agent ', 'Content-Type']) assert.equal(copiedField(name), undefined);
});
