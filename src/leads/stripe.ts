// POST /hooks/stripe (with STRIPE_WEBHOOK_SECRET): a paid Stripe checkout or payment becomes the
// sale of its lead, once per payment (keyed on the PaymentIntent, whichever events report it);
// a Checkout paid by a delayed method counts at async_payment_succeeded; a refund restates the
// sale. The Stripe-Signature header (t=…,v1=HMAC-SHA256 of "t.rawBody") is checked with a 300 s
// tolerance; each Stripe event id is processed once. The lead is found by client_reference_id or
// metadata.lead_id, else by the customer's phone or email.
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Logger } from '../log.ts';
import { json, problem, type Reply } from '../http/reply.ts';
import type { Request, Route } from '../http/server.ts';
import type { Storage } from '../db/storage.ts';
import { normaliseEmail, normalisePhone } from './lead.ts';
import { readJsonObject } from '../http/json.ts';

const TOLERANCE_SECONDS = 300;
/** Currencies Stripe counts in whole units (its "zero-decimal currencies"). */
const ZERO_DECIMAL = new Set(['BIF', 'CLP', 'DJF', 'GNF', 'JPY', 'KMF', 'KRW', 'MGA', 'PYG', 'RWF', 'UGX', 'VND', 'VUV', 'XAF', 'XOF', 'XPF']);

export interface StripeDeps {
  secret: string;
  /** The leads, the Stripe ledger, and a transaction over both. */
  storage: Pick<Storage, 'leads' | 'stripe' | 'transaction'>;
  defaultCountry: string | undefined;
  log: Logger;
}

export function verifyStripeSignature(header: string, raw: Buffer, secret: string, now = Date.now()): boolean {
  const parts = header.split(',').map((p) => p.split('=') as [string, string]);
  const t = Number(parts.find(([k]) => k === 't')?.[1]);
  if (!Number.isInteger(t) || Math.abs(now / 1000 - t) > TOLERANCE_SECONDS) return false;
  const expected = createHmac('sha256', secret).update(`${t}.`).update(raw).digest();
  return parts.some(([k, v]) => k === 'v1' && /^[0-9a-f]{64}$/.test(v) && timingSafeEqual(Buffer.from(v, 'hex'), expected));
}

export function stripeRoute(deps: StripeDeps): Route {
  return { method: 'post', path: '/hooks/stripe', limit: 'hooks', maxBody: 512 * 1024, handler: (req) => handle(deps, req) };
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
  const event = readJsonObject(req.body) as StripeEvent | undefined;
  if (!event) return problem(400, 'invalid-json', 'Body is not a Stripe event');
  // Signed by Stripe, still read defensively: every field may be missing or of another type.
  const data = event.data?.object;
  const object = (typeof data === 'object' && data !== null ? data : {}) as NonNullable<NonNullable<StripeEvent['data']>['object']>;
  const text = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);
  // One payment is one sale, whichever of its events arrive (a Checkout session and its
  // PaymentIntent both report it): payments are keyed on the PaymentIntent.
  const session = (o: typeof object) => ({ key: text(o.payment_intent) ?? text(o.id), amount: o.amount_total, email: o.customer_details?.email, phone: o.customer_details?.phone, leadId: o.client_reference_id ?? o.metadata?.lead_id });
  const paid =
    event.type === 'checkout.session.completed' ? (object.payment_status === 'paid' ? session(object) : 'pending')
    : event.type === 'checkout.session.async_payment_succeeded' ? session(object) // a delayed method (bank debit …) has now paid
    : event.type === 'payment_intent.succeeded' ? { key: text(object.id), amount: object.amount_received, email: object.receipt_email, phone: undefined, leadId: object.metadata?.lead_id }
    : undefined;
  if (paid === 'pending') return json(200, { ignored: 'checkout.session.completed (not paid yet: the sale counts once async_payment_succeeded arrives)' });
  const refund = event.type === 'charge.refunded' ? { key: text(object.payment_intent) ?? text(object.id), refunded: object.amount_refunded } : undefined;
  if ((!paid && !refund) || typeof event.id !== 'string') return json(200, { ignored: event.type ?? 'unknown' }); // other event types are not sales
  const currency = typeof object.currency === 'string' ? object.currency.toUpperCase() : '';
  if (!/^[A-Z]{3}$/.test(currency)) return problem(400, 'invalid-event', 'The payment has no valid currency');
  // Stripe's `created` is in seconds; one outside 2010 … now is not believed.
  const at = typeof event.created === 'number' && event.created > 1.26e9 && event.created * 1000 <= Date.now() + 300_000 ? event.created * 1000 : Date.now();

  if (refund) {
    if (refund.key === undefined || typeof refund.refunded !== 'number' || !(refund.refunded >= 0 && refund.refunded <= 1e11)) return problem(400, 'invalid-event', 'The refund has no valid payment or amount');
    const { stripe } = deps.storage;
    const result = deps.storage.transaction(() => {
      if (!stripe.fresh(event.id!)) return { duplicate: true as const };
      const payment = stripe.payment(refund.key!);
      if (!payment) return { matched: false as const };
      stripe.setRefunded(refund.key!, Math.min(refund.refunded as number, payment.amount));
      restate(deps, payment.lead_id, currency, at, 'stripe refund');
      return { leadId: payment.lead_id };
    });
    if ('duplicate' in result) return json(200, { duplicate: true });
    if ('matched' in result) return json(200, { matched: false });
    return json(200, { matched: true, leadId: result.leadId, refunded: true });
  }

  const payment = paid!;
  if (payment.key === undefined || typeof payment.amount !== 'number' || !(payment.amount >= 0 && payment.amount <= 1e11)) return problem(400, 'invalid-event', 'The payment has no valid amount');
  const lead =
    (typeof payment.leadId === 'string' ? deps.storage.leads.get(payment.leadId)?.id : undefined) ??
    deps.storage.leads.findByContact({
      email: typeof payment.email === 'string' ? normaliseEmail(payment.email) : undefined,
      phone: typeof payment.phone === 'string' ? normalisePhone(payment.phone, deps.defaultCountry) : undefined,
    })?.id;
  if (!lead) {
    deps.log.warn({ stripeEvent: event.id }, 'a Stripe payment matches no lead; not recorded');
    return json(200, { matched: false });
  }
  const recorded = deps.storage.transaction(() => {
    // Stripe resends an event until it gets a 2xx, and reports one payment in several events:
    // the same event id, or another event of a payment already counted, records nothing.
    if (!deps.storage.stripe.fresh(event.id!)) return undefined;
    return deps.storage.stripe.addPayment(payment.key!, lead, payment.amount, currency) ? restate(deps, lead, currency, at, 'stripe') : undefined;
  });
  return json(200, { matched: true, leadId: lead, duplicate: recorded === undefined });
}

/**
 * The lead's sale is what its Stripe payments in this currency brought, minus refunds: a second
 * payment adds to it, a refund restates it (a full refund to 0: Google's conversion adjustment
 * restates the value by transactionId; Meta takes no corrections, so it keeps its first Purchase).
 */
function restate(deps: StripeDeps, leadId: string, currency: string, at: number, actor: string) {
  const minor = deps.storage.stripe.net(leadId, currency);
  const value = ZERO_DECIMAL.has(currency) ? minor : minor / 100;
  const lead = deps.storage.leads.get(leadId);
  return deps.storage.leads.recordSale(leadId, { value, currency, at: lead?.sold_at ?? at }, actor);
}
