// Rate limits at the edge: token buckets per client (IP as resolved with TRUST_PROXY) in a table
// of bounded size — the least recently seen client is forgotten first — plus one bucket shared
// by everyone as a global ceiling. A refused request gets 429 with Retry-After before its body is
// read. A client's bucket holds one minute's allowance (a burst of a minute's worth passes, then
// the steady rate); the global one holds one second's.
import { problem, retryAfter, type Reply } from './reply.ts';
import type { Request } from './server.ts';

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
