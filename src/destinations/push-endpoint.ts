// Where web push may connect. A push subscription's endpoint comes from the owner's browser, but
// anyone who gets hold of an admin session or token could store any URL there and have this
// server POST to it: only https to public addresses, checked when the subscription is added and
// again at every connection (after DNS resolution, so a name that later resolves to 127.0.0.1 or
// the cloud metadata service is refused too). PUSH_ALLOW_HOSTS lists exceptions (tests, a relay
// on your own network).
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { Agent } from 'node:https';
import { BlockList, isIP } from 'node:net';

const NOT_PUBLIC = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.0.2.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['198.51.100.0', 24], ['203.0.113.0', 24],
  ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const) NOT_PUBLIC.addSubnet(net, prefix, 'ipv4');
for (const [net, prefix] of [
  ['::', 128], ['::1', 128], ['64:ff9b::', 96], ['100::', 64], ['2001:db8::', 32], ['fc00::', 7], ['fe80::', 10], ['ff00::', 8],
] as const) NOT_PUBLIC.addSubnet(net, prefix, 'ipv6');

/** Loopback, private, link-local (cloud metadata), shared, documentation, multicast and reserved addresses are not public. */
export function isPublicAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return false;
  // BlockList matches IPv4 rules against IPv4-mapped IPv6 (::ffff:a.b.c.d) by itself.
  return !NOT_PUBLIC.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

export class PushEndpoints {
  constructor(private readonly allowedHosts: ReadonlySet<string>) {}

  /** Why an endpoint is refused (resolving its name), or undefined when it may be used. */
  async problem(endpoint: string): Promise<string | undefined> {
    let url: URL;
    try {
      url = new URL(endpoint);
    } catch {
      return 'is not a URL';
    }
    if (url.protocol !== 'https:') return 'must be an https URL';
    const host = url.hostname.replace(/^\[|\]$/g, '');
    if (this.allowedHosts.has(host)) return undefined;
    if (isIP(host) !== 0) return isPublicAddress(host) ? undefined : 'points at a private or local address';
    try {
      const addresses = await resolveAll(host);
      return addresses.every((a) => isPublicAddress(a.address)) ? undefined : 'resolves to a private or local address';
    } catch {
      return 'has a host name that does not resolve';
    }
  }

  /** An HTTPS agent whose connections go only to public addresses (or allowed hosts). */
  agent(): Agent {
    const allowed = this.allowedHosts;
    const lookup = (hostname: string, options: { all?: boolean }, callback: (err: Error | null, address: string | LookupAddress[], family?: number) => void) => {
      resolveAll(hostname).then((addresses) => {
        if (!allowed.has(hostname) && !addresses.every((a) => isPublicAddress(a.address))) {
          return callback(Object.assign(new Error(`${hostname} resolves to a private or local address`), { code: 'ENOTPUBLIC' }), '');
        }
        if (options.all) callback(null, addresses);
        else callback(null, addresses[0]!.address, addresses[0]!.family);
      }, (err: Error) => callback(err, ''));
    };
    return new Agent({ lookup: lookup as never });
  }

  /** An endpoint that is an IP literal never goes through the agent's lookup: check it here. */
  literalAllowed(endpoint: string): boolean {
    const host = new URL(endpoint).hostname.replace(/^\[|\]$/g, '');
    return isIP(host) === 0 || this.allowedHosts.has(host) || isPublicAddress(host);
  }
}

function resolveAll(hostname: string): Promise<LookupAddress[]> {
  return new Promise((resolve, reject) => dnsLookup(hostname, { all: true }, (err, addresses) => (err ? reject(err) : resolve(addresses))));
}
