// Who sent the request: the TCP peer, unless TRUST_PROXY says how many proxies in front of us
// append to X-Forwarded-For (or that Cloudflare sets CF-Connecting-IP). Only hops we trust are
// believed, so a client cannot pick its own address by sending the header itself.
import { isIP } from 'node:net';
import type { TrustProxy } from '../config.ts';

/**
 * The client's address as the proxies we trust name it, or undefined when the TCP peer is the
 * client (no trusted header, or one that holds no address). Asked before the peer: behind a
 * proxy its address is not needed, and reading it costs a system call per request.
 */
export function forwardedClient(trust: TrustProxy, forwardedFor: string, cfConnectingIp: string): string | undefined {
  switch (trust.kind) {
    case 'none':
      return undefined;
    case 'cloudflare': {
      const ip = cfConnectingIp.trim();
      return isIP(ip) ? ip : undefined;
    }
    case 'hops': {
      // The chain as the last proxy sees it: [client, proxy1, ..., peer]. Each trusted hop vouches
      // for the address to its left, so we step `hops` places left from the peer.
      // Walked from the right end of the header (no split per request): the n-th hop names its entry n from the right.
      if (forwardedFor === '') return undefined;
      let end = forwardedFor.length;
      let start = forwardedFor.lastIndexOf(',', end - 1) + 1;
      for (let hop = 1; hop < trust.hops && start > 0; hop++) {
        end = start - 1;
        start = forwardedFor.lastIndexOf(',', end - 1) + 1;
      }
      const candidate = forwardedFor.slice(start, end).trim();
      return isIP(candidate) ? candidate : undefined;
    }
  }
}

/**
 * The network a client address stands for, as the key of rate limits, login throttles and flood
 * checks: an IPv4 address itself, an IPv6 address's /64 (one subscriber gets a whole /64, so
 * keying by address would give an attacker 2^64 fresh buckets). IPv4-mapped IPv6 is IPv4.
 */
export function clientNet(ip: string): string {
  if (!ip.includes(':')) return ip; // not IPv6: the common case, without the regex
  let net = nets.get(ip);
  if (net === undefined) {
    net = isIP(ip) === 6 ? ipv6Net(ip) : ip;
    if (nets.size >= NETS_CACHED) nets.clear(); // a flood of fresh addresses costs a re-parse, not memory
    nets.set(ip, net);
  }
  return net;
}

/** IPv6 clients come back request after request: their /64 is parsed once. */
const nets = new Map<string, string>();
const NETS_CACHED = 10_000;

function ipv6Net(ip: string): string {
  const address = ip.toLowerCase();
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(address);
  if (mapped) return mapped[1]!;
  const [head = '', tail] = address.split('::');
  const left = groups(head);
  const right = tail === undefined ? [] : groups(tail);
  const all = [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right];
  return `${all.slice(0, 4).map((g) => g.padStart(4, '0')).join(':')}::/64`;
}

/** The 16-bit groups of one side of an IPv6 address's "::" (an embedded IPv4 counts as two). */
function groups(part: string): string[] {
  return part === '' ? [] : part.split(':').flatMap((g) => (g.includes('.') ? ['0', '0'] : [g]));
}
