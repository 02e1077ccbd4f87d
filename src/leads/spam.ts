// Spam at the lead intake. Cloudflare Turnstile (optional, fail closed): the token from the form
// is verified server-side once — refused, reused or unverifiable means no lead, with a message.
// The tracker's honeypot field and fill time, and floods (many leads from one IP or one phone
// within an hour) do not refuse: such a lead is stored but held (flagged), not notified or sent
// to ad platforms, so a false alarm loses nothing.
import { randomUUID } from 'node:crypto';
import { request } from 'undici';
import type { LeadStore } from '../db/leads.ts';
import { clientNet } from '../http/client-ip.ts';

export type SpamFlag = 'honeypot' | 'too-fast' | 'flood';

export interface SpamLimits {
  /** Less than this between the first touch of a form and its submission is a robot. */
  minFillMs: number;
  /** Leads per hour from one IP, and for one phone number, before the next ones are held. */
  perIpPerHour: number;
  perPhonePerHour: number;
}

/** Why a lead is held, from what the tracker sent and what came before it; undefined = fine. */
export function spamFlag(leads: LeadStore, signals: { honeypot?: unknown; fillMs?: unknown; ip: string; phone: string | undefined }, limits: SpamLimits, now = Date.now()): SpamFlag | undefined {
  if (typeof signals.honeypot === 'string' && signals.honeypot.trim() !== '') return 'honeypot';
  const fill = typeof signals.fillMs === 'number' ? signals.fillMs : typeof signals.fillMs === 'string' ? Number(signals.fillMs) : NaN;
  if (Number.isFinite(fill) && fill >= 0 && fill < limits.minFillMs) return 'too-fast';
  const since = now - 3_600_000;
  // Per network, not per address: an IPv6 client picks among 2^64 addresses of its own /64.
  const fromIp = leads.countSince('client_net', clientNet(signals.ip), since);
  if (fromIp >= limits.perIpPerHour) return 'flood';
  if (signals.phone) {
    const forPhone = leads.countSince('phone', signals.phone, since);
    if (forPhone >= limits.perPhonePerHour) return 'flood';
  }
  return undefined;
}

export type TurnstileVerdict = { ok: true } | { ok: false; status: 403 | 503; detail: string };

/** Server-side Turnstile check (POST siteverify); each token counts once. */
export class Turnstile {
  private readonly used = new Set<string>();
  private static readonly REMEMBERED = 50_000;

  constructor(private readonly secret: string, private readonly verifyUrl: string) {}

  async verify(token: unknown, ip: string): Promise<TurnstileVerdict> {
    if (typeof token !== 'string' || token === '' || token.length > 2048) return { ok: false, status: 403, detail: 'The spam check is missing: the form must include the Turnstile widget.' };
    if (this.used.has(token)) return { ok: false, status: 403, detail: 'This spam check was already used: reload the page and send the form again.' };
    let answer: { success?: boolean; 'error-codes'?: string[] };
    try {
      const res = await request(this.verifyUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ secret: this.secret, response: token, remoteip: ip, idempotency_key: randomUUID() }).toString(),
        headersTimeout: 5000,
        bodyTimeout: 5000,
      });
      if (res.statusCode !== 200) {
        await res.body.dump();
        throw new Error(`siteverify answered ${res.statusCode}`);
      }
      answer = (await res.body.json()) as typeof answer;
    } catch {
      // Fail closed: without a verdict the lead is not taken (the visitor can send it again).
      return { ok: false, status: 503, detail: 'The spam check could not be completed right now: please try again in a minute.' };
    }
    this.remember(token);
    if (answer.success === true) return { ok: true };
    const codes = (answer['error-codes'] ?? []).join(', ');
    return { ok: false, status: 403, detail: codes.includes('timeout-or-duplicate') ? 'The spam check expired or was already used: reload the page and send the form again.' : `The spam check failed (${codes || 'no reason given'}).` };
  }

  private remember(token: string): void {
    this.used.add(token);
    if (this.used.size > Turnstile.REMEMBERED) this.used.delete(this.used.values().next().value!);
  }
}
