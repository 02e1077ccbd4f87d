// POST /hooks/stripe (with STRIPE_WEBHOOK_SECRET): a paid Stripe checkout or payment (Checkout,
// Payment Links) becomes a sale, once per payment (keyed on the PaymentIntent, whichever events
// report it); a Checkout paid by a delayed method counts at async_payment_succeeded; a refund
// restates the sale. The Stripe-Signature header (t=…,v1=HMAC-SHA256 of "t.rawBody") is checked
// with a 300 s tolerance; each Stripe event id is processed once. client_reference_id is a lead id
// the site set, or the visitor id our tag adds to Payment Links; matching is sale.ts's.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { json, problem, type Reply } from '../http/reply.ts';
import type { Request, Route } from '../http/server.ts';
import { readJsonObject } from '../http/json.ts';
import { answer, type CheckoutDeps } from './sale.ts';

const TOLERANCE_SECONDS = 300;

export interface StripeDeps extends CheckoutDeps {
  secret: string;
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

async function handle(deps: StripeDeps, req: Request): Promise<Reply> {
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
  const session = (o: typeof object) => ({ key: text(o.payment_intent) ?? text(o.id), amount: o.amount_total, email: text(o.customer_details?.email), phone: text(o.customer_details?.phone), name: text(o.customer_details?.name), ref: text(o.client_reference_id) ?? text(o.metadata?.lead_id) });
  const paid =
    event.type === 'checkout.session.completed' ? (object.payment_status === 'paid' ? session(object) : 'pending')
    : event.type === 'checkout.session.async_payment_succeeded' ? session(object) // a delayed method (bank debit …) has now paid
    : event.type === 'payment_intent.succeeded' ? { key: text(object.id), amount: object.amount_received, email: text(object.receipt_email), phone: undefined, name: undefined, ref: text(object.metadata?.lead_id) }
    : undefined;
  if (paid === 'pending') return json(200, { ignored: 'checkout.session.completed (not paid yet: the sale counts once async_payment_succeeded arrives)' });
  const refund = event.type === 'charge.refunded' ? { key: text(object.payment_intent) ?? text(object.id), refunded: object.amount_refunded } : undefined;
  if ((!paid && !refund) || typeof event.id !== 'string') return json(200, { ignored: event.type ?? 'unknown' }); // other event types are not sales
  const currency = typeof object.currency === 'string' ? object.currency.toUpperCase() : '';
  if (!/^[A-Z]{3}$/.test(currency)) return problem(400, 'invalid-event', 'The payment has no valid currency');
  // Stripe's `created` is in seconds; one outside 2010 … now is not believed.
  const at = typeof event.created === 'number' && event.created > 1.26e9 && event.created * 1000 <= Date.now() + 300_000 ? event.created * 1000 : Date.now();
  const base = { platform: 'stripe' as const, eventKey: event.id, currency, at, buyer: {}, test: (event as { livemode?: unknown }).livemode === false };

  if (refund) {
    if (refund.key === undefined || typeof refund.refunded !== 'number' || !(refund.refunded >= 0 && refund.refunded <= 1e11)) return problem(400, 'invalid-event', 'The refund has no valid payment or amount');
    return answer(deps, { ...base, kind: 'refunded', transaction: refund.key, amount: refund.refunded });
  }
  const payment = paid!;
  if (payment.key === undefined || typeof payment.amount !== 'number' || !(payment.amount >= 0 && payment.amount <= 1e11)) return problem(400, 'invalid-event', 'The payment has no valid amount');
  // client_reference_id names a lead when the site set it so, else it is our visitor id (Payment Links).
  return answer(deps, { ...base, kind: 'paid', transaction: payment.key, amount: payment.amount, leadId: payment.ref, visitorId: payment.ref, buyer: { name: payment.name, email: payment.email, phone: payment.phone } });
}
