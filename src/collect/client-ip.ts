// Who sent the request: the TCP peer, unless TRUST_PROXY says how many proxies in front of us
// append to X-Forwarded-For (or that Cloudflare sets CF-Connecting-IP). Only hops we trust are
// believed, so a client cannot pick its own address by sending the header itself.
import { isIP } from 'node:net';
import type { TrustProxy } from '../config.ts';

export function clientIp(trust: TrustProxy, remoteAddress: string, forwardedFor: string, cfConnectingIp: string): string {
  switch (trust.kind) {
    case 'none':
      return remoteAddress;
    case 'cloudflare':
      return isIP(cfConnectingIp.trim()) ? cfConnectingIp.trim() : remoteAddress;
    case 'hops': {
      // The chain as the last proxy sees it: [client, proxy1, ..., peer]. Each trusted hop vouches
      // for the address to its left, so we step `hops` places left from the peer.
      const chain = forwardedFor === '' ? [remoteAddress] : [...forwardedFor.split(','), remoteAddress];
      const candidate = chain[Math.max(chain.length - 1 - trust.hops, 0)]!.trim();
      return isIP(candidate) ? candidate : remoteAddress;
    }
  }
}
