// Waiting, bounded: one deadline for work we will not wait on forever, and one backoff for every
// retry loop (ClickHouse inserts, outbox deliveries).

/** Rejects with `message` when `work` has not settled within `ms` (the work itself goes on). */
export function withDeadline<T>(work: Promise<T>, ms: number, message = `no answer within ${ms} ms`): Promise<T> {
  let timer: NodeJS.Timeout;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
    timer.unref();
  });
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}

/** True when `work` succeeded within `ms`; false when it failed or the time ran out first. */
export function succeedsWithin(work: Promise<unknown>, ms: number): Promise<boolean> {
  return withDeadline(work, ms).then(() => true, () => false);
}

export interface BackoffPolicy {
  baseMs: number;
  capMs: number;
}

/**
 * The wait after the n-th failed attempt (n ≥ 1): full jitter (AWS architecture blog, "Exponential
 * Backoff And Jitter"), uniform in [0, min(cap, base·2^(n-1))], so retrying clients spread out.
 */
export function backoffMs(failedAttempts: number, policy: BackoffPolicy, random = Math.random): number {
  return Math.floor(random() * Math.min(policy.capMs, policy.baseMs * 2 ** Math.max(0, failedAttempts - 1)));
}
