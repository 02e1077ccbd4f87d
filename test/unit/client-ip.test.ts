import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isIP } from 'node:net';
import { clientIp } from '../../src/http/client-ip.ts';

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
  let seed = 7;
  const random = (k: number) => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return Math.floor(((seed >>> 0) / 2 ** 32) * k);
  };
  for (let i = 0; i < 20_000; i++) {
    const header = Array.from({ length: random(6) }, () => entries[random(entries.length)]).join(',');
    const hops = 1 + random(10);
    assert.equal(clientIp({ kind: 'hops', hops }, '127.0.0.1', header, ''), bySplit(hops, '127.0.0.1', header), `${hops} hops, "${header}"`);
  }
});

test('behind Cloudflare CF-Connecting-IP is the client', () => {
  assert.equal(clientIp({ kind: 'cloudflare' }, '172.70.1.1', '9.9.9.9', '2a02:e0::1'), '2a02:e0::1');
  assert.equal(clientIp({ kind: 'cloudflare' }, '172.70.1.1', '', ''), '172.70.1.1');
});
