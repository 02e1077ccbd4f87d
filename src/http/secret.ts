// Comparing a secret a request carries (a bearer token, a webhook key) with ours.
import { createHash, timingSafeEqual } from 'node:crypto';

/** Constant-time comparison of secrets: digests first, so lengths leak nothing either. */
export function sameSecret(given: string, expected: string): boolean {
  const digest = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(given), digest(expected));
}
