// Rate limits at the edge: token buckets per client (IP as resolved with TRUST_PROXY) in a table
// of bounded size — the least recently seen client is forgotten first — plus one bucket shared
// by everyone as a global ceiling. A refused request gets 429 with Retry-After before its body is
// read. A client's bucket holds one minute's allowance (a burst of a minute's worth passes, then
// the steady rate); the global one holds one second's.
import type { Config } from '../config.ts';
import type { Metrics } from '../metrics.ts';
import { clientNet } from './client-ip.ts';
import { problem, retryAfter, type Reply } from './reply.ts';
import type { Guard, Request, Route } from './server.ts';

export class TokenBuckets {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  /**
   * `perMinute`: the steady rate (0 = no limit); `capacity`: the burst a full bucket allows (a
   * minute's worth unless given); `maxKeys`: clients remembered.
   */
  constructor(
    private readonly perMinute: number,
    private readonly maxKeys = 100_000,
    private readonly capacity = perMinute,
    private readonly now: () => number = Date.now,
  ) {}

  /** Takes a token for `key`: 0 when allowed, else the milliseconds until one is available. */
  take(key: string): number {
    if (this.perMinute === 0) return 0;
    const t = this.now();
    const perMs = this.perMinute / 60_000;
    let bucket = this.buckets.get(key);
    if (bucket) {
      this.buckets.delete(key); // re-inserted below: the Map's order is least recently seen first
      bucket.tokens = Math.min(this.capacity, bucket.tokens + (t - bucket.at) * perMs);
      bucket.at = t;
    } else {
      bucket = { tokens: this.capacity, at: t };
      if (this.buckets.size >= this.maxKeys) this.buckets.delete(this.buckets.keys().next().value!);
    }
    this.buckets.set(key, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.ceil((1 - bucket.tokens) / perMs);
  }

  get size(): number {
    return this.buckets.size;
  }
}

export interface Limit {
  /** What the limit protects, for the message and the metric. */
  name: string;
  perClient: TokenBuckets;
  global?: TokenBuckets;
}

/** A route guard: undefined lets the request through, else the 429 to send. */
export function rateLimit(limit: Limit, clientOf: (req: Request) => string, onLimited: (name: string) => void): (req: Request) => Reply | undefined {
  return (req) => {
    const wait = limit.perClient.take(clientOf(req)) || (limit.global?.take('*') ?? 0);
    if (wait === 0) return undefined;
    onLimited(limit.name);
    const seconds = Math.max(1, Math.ceil(wait / 1000));
    return retryAfter(problem(429, 'rate-limited', 'Too many requests', `Too many ${limit.name} requests; try again in ${seconds} s.`), seconds);
  };
}

/** What each limit is called in its 429 and in lc_rate_limited_total. */
const LIMIT_NAMES: Record<NonNullable<Route['limit']>, string> = { collect: 'beacon', lead: 'lead', hooks: 'webhook', login: 'login' };

/**
 * Puts each route under the limit it declares. Beacons, leads and webhooks also share the global
 * ceiling; logins do not (a flood of beacons must not lock the owner out). Webhooks come from a
 * few addresses of Stripe's or Google's, each signed or keyed: a busy day's payments and refunds
 * must not meet a visitor's lead limit, so they have their own. A limit of 0 is off (no work per request).
 */
export function withRateLimits(routes: Route[], limits: Config['rateLimits'], metrics: Metrics): Route[] {
  const clientOf = (req: Request) => clientNet(req.clientIp);
  const global = new TokenBuckets(limits.globalPerSecond * 60, 1, limits.globalPerSecond);
  const guards = new Map<NonNullable<Route['limit']>, Guard | undefined>();
  const guardFor = (limit: NonNullable<Route['limit']>): Guard | undefined => {
    if (!guards.has(limit)) {
      const withGlobal = limit !== 'login' && limits.globalPerSecond > 0;
      const perMinute = limits[limit];
      guards.set(limit, perMinute === 0 && !withGlobal ? undefined : rateLimit({ name: LIMIT_NAMES[limit], perClient: new TokenBuckets(perMinute, limits.clients), global: withGlobal ? global : undefined }, clientOf, metrics.rateLimited));
    }
    return guards.get(limit);
  };
  return routes.map((route) => {
    const guard = route.limit && guardFor(route.limit);
    return guard ? { ...route, guards: [guard, ...(route.guards ?? [])] } : route;
  });
}
