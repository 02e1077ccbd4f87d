// Waiting, bounded: one deadline for work we will not wait on forever, and one backoff for every
// retry loop (ClickHouse inserts, outbox deliveries). And the business's days: reports, spend and
// alerts cut days in its time zone (TIMEZONE), not in UTC.

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

export const DAY_MS = 86_400_000;

const dayFormats = new Map<string, Intl.DateTimeFormat>();
/** The calendar day (YYYY-MM-DD) of a moment in a time zone: the business's days, not UTC's. */
export function dayIn(ms: number, timeZone: string): string {
  let format = dayFormats.get(timeZone);
  if (!format) dayFormats.set(timeZone, (format = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' })));
  return format.format(ms);
}

/** The calendar day `n` days after (or before) `day` (YYYY-MM-DD). */
export function dayPlus(day: string, n: number): string {
  return new Date(Date.parse(`${day}T00:00:00Z`) + n * DAY_MS).toISOString().slice(0, 10);
}

const clockFormats = new Map<string, Intl.DateTimeFormat>();
/** How far a time zone's wall clock is ahead of UTC at a moment, in ms. */
function offsetIn(ms: number, timeZone: string): number {
  let format = clockFormats.get(timeZone);
  if (!format) clockFormats.set(timeZone, (format = new Intl.DateTimeFormat('en-CA', { timeZone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' })));
  const p = Object.fromEntries(format.formatToParts(ms).map((x) => [x.type, x.value]));
  return Date.UTC(Number(p.year), Number(p.month) - 1, Number(p.day), Number(p.hour), Number(p.minute), Number(p.second)) - Math.floor(ms / 1000) * 1000;
}

/** The moment a calendar day (YYYY-MM-DD) starts in a time zone. */
export function startOfDayIn(day: string, timeZone: string): number {
  const utc = Date.parse(`${day}T00:00:00Z`);
  const first = utc - offsetIn(utc, timeZone);
  const second = utc - offsetIn(first, timeZone);
  // The offset read twice: the day's own offset even where the clocks change that day. Where they
  // change at midnight (Chile, Paraguay), one of the two falls on the day before: the earliest in the day.
  return [Math.min(first, second), Math.max(first, second)].find((t) => dayIn(t, timeZone) === day) ?? second;
}
