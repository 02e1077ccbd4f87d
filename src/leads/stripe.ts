// POST /hooks/stripe (with STRIPE_WEBHOOK_SECRET): a paid Stripe checkout or payment becomes the
// sale of its lead. The Stripe-Signature header (t=…,v1=HMAC-SHA256 of "t.rawBody") is checked
// with a 300 s tolerance; each Stripe event id is processed once. The lead is found by
// client_reference_id or metadata.lead_id, else by the customer's phone or email.
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Logger } from '../log.ts';
import { json, problem, type Reply } from '../http/reply.ts';
import type { Request, Route } from '../http/server.ts';
import type { Db } from './database.ts';
import { normaliseEmail, normalisePhone } from './lead.ts';
import type { LeadStore } from './store.ts';
import { readJson } from '../http/json.ts';

const TOLERANCE_SECONDS = 300;
/** Currencies Stripe counts in whole units (its "zero-decimal currencies"). */
const ZERO_DECIMAL = new Set(['BIF', 'CLP', 'DJF', 'GNF', 'JPY', 'KMF', 'KRW', 'MGA', 'PYG', 'RWF', 'UGX', 'VND', 'VUV', 'XAF', 'XOF', 'XPF']);

export interface StripeDeps {
  secret: string;
  db: Db;
  store: LeadStore;
  defaultCountry: string | undefined;
  log: Logger;
  /** Called after a sale was recorded, so its uploads go out at once. */
  onSale: () => void;
}

export function verifyStripeSignature(header: string, raw: Buffer, secret: string, now = Date.now()): boolean {
  const parts = header.split(',').map((p) => p.split('=') as [string, string]);
  const t = Number(parts.find(([k]) => k === 't')?.[1]);
  if (!Number.isInteger(t) || Math.abs(now / 1000 - t) > TOLERANCE_SECONDS) return false;
  const expected = createHmac('sha256', secret).update(`${t}.`).update(raw).digest();
  return parts.some(([k, v]) => k === 'v1' && /^[0-9a-f]{64}$/.test(v) && timingSafeEqual(Buffer.from(v, 'hex'), expected));
}

export function stripeRoute(deps: StripeDeps): Route {
  return { method: 'post', path: '/hooks/stripe', maxBody: 512 * 1024, handler: (req) => handle(deps, req) };
}

interface StripeEvent {
  id?: string;
  type?: string;
  created?: number;
  data?: { object?: Record<string, any> };
}

function handle(deps: StripeDeps, req: Request): Reply {
  if (!verifyStripeSignature(req.headers['stripe-signature'], req.body, deps.secret)) {
    return problem(400, 'bad-signature', 'Stripe-Signature does not verify', 'Check STRIPE_WEBHOOK_SECRET, and that the request is less than 5 minutes old.');
  }
  let event: StripeEvent;
  try {
    event = readJson(req.body) as StripeEvent;
    if (typeof event !== 'object' || event === null || Array.isArray(event)) throw new Error('not an object');
  } catch {
    return problem(400, 'invalid-json', 'Body is not a Stripe event');
  }
  // Signed by Stripe, still read defensively: every field may be missing or of another type.
  const data = event.data?.object;
  const object = (typeof data === 'object' && data !== null ? data : {}) as NonNullable<NonNullable<StripeEvent['data']>['object']>;
  const paid =
    event.type === 'checkout.session.completed' ? { amount: object.amount_total, email: object.customer_details?.email, phone: object.customer_details?.phone, leadId: object.client_reference_id ?? object.metadata?.lead_id }
    : event.type === 'payment_intent.succeeded' ? { amount: object.amount_received, email: object.receipt_email, phone: undefined, leadId: object.metadata?.lead_id }
    : undefined;
  if (!paid || typeof event.id !== 'string') return json(200, { ignored: event.type ?? 'unknown' }); // other event types are not sales
  const currency = typeof object.currency === 'string' ? object.currency.toUpperCase() : '';
  if (typeof paid.amount !== 'number' || !(paid.amount >= 0 && paid.amount <= 1e11) || !/^[A-Z]{3}$/.test(currency)) return problem(400, 'invalid-event', 'The payment has no valid amount or currency');

  const lead =
    (typeof paid.leadId === 'string' ? deps.store.get(paid.leadId)?.id : undefined) ??
    deps.store.findByContact({
      email: typeof paid.email === 'string' ? normaliseEmail(paid.email) : undefined,
      phone: typeof paid.phone === 'string' ? normalisePhone(paid.phone, deps.defaultCountry) : undefined,
    })?.id;
  if (!lead) {
    deps.log.warn({ stripeEvent: event.id }, 'a Stripe payment matches no lead; not recorded');
    return json(200, { matched: false });
  }
  const value = ZERO_DECIMAL.has(currency) ? paid.amount : paid.amount / 100;
  // Stripe's `created` is in seconds; one outside 2010 … now is not believed.
  const at = typeof event.created === 'number' && event.created > 1.26e9 && event.created * 1000 <= Date.now() + 300_000 ? event.created * 1000 : Date.now();
  const recorded = deps.db.transaction(() => {
    // Stripe resends an event until it gets a 2xx: the same event id records nothing twice.
    const fresh = deps.db.prepare('INSERT OR IGNORE INTO stripe_events (id, received_at) VALUES (?, ?)').run(event.id, Date.now()).changes === 1;
    return fresh ? deps.store.recordSale(lead, { value, currency, at }, 'stripe') : undefined;
  })();
  if (recorded?.changed) deps.onSale();
  return json(200, { matched: true, leadId: lead, duplicate: recorded === undefined });
}
