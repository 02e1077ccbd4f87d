// Who may use the admin API: the owner's PWA with its session cookie (plus the anti-CSRF header on
// every state-changing request), or a script with the bearer ADMIN_TOKEN. Neither = 401.
import { sameSecret } from '../http/secret.ts';
import type { Guard, Request } from '../http/server.ts';
import { problem, type Reply } from '../http/reply.ts';
import { SESSION_ABSOLUTE_MS, type Owner } from './owner.ts';
import { cookie } from '../http/cookie.ts';

export interface AdminAuth {
  adminToken: string | undefined;
  owner: Owner;
  /** Served over HTTPS (PUBLIC_ORIGIN https://…): cookies get Secure and the __Host- prefix. */
  secureCookies: boolean;
}

/**
 * Admin answers are `no-store` (server.ts); the screens' data says this instead, so the PWA's
 * service worker may keep the last copy for offline use (and drops it on logout or a 401).
 */
export const KEEP_OFFLINE = { 'Cache-Control': 'private, no-cache' };

/** The PWA sends this header on every state-changing request; a cross-site form or image cannot. */
export const CSRF_HEADER = 'x-lc-csrf';

export function hasAdminToken(req: Request, adminToken: string | undefined): boolean {
  if (adminToken === undefined) return false;
  const header = req.headers.authorization;
  if (!header.startsWith('Bearer ')) return false;
  return sameSecret(header.slice(7).trim(), adminToken);
}

/** A direct connection from this machine: loopback peer and no proxy header (a local reverse proxy would add one). */
export function isDirectLoopback(req: Request): boolean {
  const a = req.remoteAddress;
  const local = a === '::1' || a.startsWith('127.') || a === '0000:0000:0000:0000:0000:0000:0000:0001';
  return local && req.headers['x-forwarded-for'] === '' && req.headers['cf-connecting-ip'] === '';
}

export function sessionCookieName(auth: AdminAuth): string {
  return auth.secureCookies ? '__Host-lc_session' : 'lc_session';
}

export function sessionToken(req: Request, auth: AdminAuth): string {
  return cookie(req.headers.cookie, sessionCookieName(auth)) ?? '';
}

export function sessionCookie(auth: AdminAuth, token: string): string {
  const maxAge = token === '' ? 0 : Math.floor(SESSION_ABSOLUTE_MS / 1000);
  return `${sessionCookieName(auth)}=${token}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAge}${auth.secureCookies ? '; Secure' : ''}`;
}

const unauthorized = problem(401, 'unauthorized', 'Authentication required', 'Log in, or send Authorization: Bearer <ADMIN_TOKEN>.');
export const UNAUTHORIZED: Reply = { ...unauthorized, headers: { ...unauthorized.headers, 'WWW-Authenticate': 'Bearer' } };
export const CSRF_REJECTED = problem(403, 'csrf', 'Missing anti-CSRF header', `State-changing requests with the session cookie need the ${CSRF_HEADER} header.`);

export function isStateChanging(req: Request): boolean {
  return req.method !== 'get' && req.method !== 'head';
}

/**
 * The guard of every admin route: only the owner (session + CSRF header) or a script (bearer)
 * gets past it. Guards run before the body is read, so nobody else can hold a body slot.
 */
export function ownerOnly(auth: AdminAuth): Guard {
  return (req) => {
    if (hasAdminToken(req, auth.adminToken)) return undefined;
    if (auth.owner.session(sessionToken(req, auth)) === undefined) return UNAUTHORIZED;
    if (isStateChanging(req) && req.headers[CSRF_HEADER] !== '1') return CSRF_REJECTED;
    return undefined;
  };
}
