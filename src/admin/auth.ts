// Owner-side authentication. For now the bearer ADMIN_TOKEN (scripts, monitoring); the PWA's
// session login comes with the PWA. Without ADMIN_TOKEN the admin API is closed, not open.
import { timingSafeEqual, createHash } from 'node:crypto';
import type { Request } from '../http/server.ts';
import { problem, type Reply } from '../http/reply.ts';

export function hasAdminToken(req: Request, adminToken: string | undefined): boolean {
  if (adminToken === undefined) return false;
  const header = req.headers.authorization;
  if (!header.startsWith('Bearer ')) return false;
  return sameSecret(header.slice(7).trim(), adminToken);
}

/** Constant-time comparison of secrets: digests first, so lengths leak nothing either. */
export function sameSecret(given: string, expected: string): boolean {
  const digest = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

/** A direct connection from this machine: loopback peer and no proxy header (a local reverse proxy would add one). */
export function isDirectLoopback(req: Request): boolean {
  const a = req.remoteAddress;
  const local = a === '::1' || a.startsWith('127.') || a === '0000:0000:0000:0000:0000:0000:0000:0001';
  return local && req.headers['x-forwarded-for'] === '' && req.headers['cf-connecting-ip'] === '';
}

const unauthorized = problem(401, 'unauthorized', 'Authentication required', 'Send Authorization: Bearer <ADMIN_TOKEN>.');
export const UNAUTHORIZED: Reply = { ...unauthorized, headers: { ...unauthorized.headers, 'WWW-Authenticate': 'Bearer' } };

/** Wraps an admin handler so it only runs for an authenticated owner. */
export function adminOnly(adminToken: string | undefined, handler: (req: Request) => Reply | Promise<Reply>) {
  return (req: Request) => (hasAdminToken(req, adminToken) ? handler(req) : UNAUTHORIZED);
}
