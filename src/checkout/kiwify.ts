// POST /hooks/kiwify (KIWIFY_WEBHOOK_TOKEN): Kiwify's order webhook. Kiwify appends
// ?signature=<HMAC-SHA1 of the raw body, keyed with the webhook's token, lower-case hex> to the
// URL; the token itself is never sent. Events (webhook_event_type):
//   order_approved → the sale of order_id; order_refunded, chargeback → the sale restated to nothing;
//   anything else (pix_created, billet_created, subscription events …) → acknowledged and ignored.
// The visitor comes back in TrackingParameters.sck (our tag puts it on links to pay.kiwify.com.br),
// with the UTMs. Amounts are in cents (Commissions.charge_amount: what the buyer was charged).
import { createHmac, timingSafeEqual } from 'node:crypto';
import { json, problem, type Reply } from '../http/reply.ts';
import { readJsonObject } from '../http/json.ts';
import type { Request, Route } from '../http/server.ts';
import { UTMS } from '../collect/beacon.ts';
import { answer, type CheckoutDeps } from './sale.ts';

export interface KiwifyDeps extends CheckoutDeps {
  token: string;
}

const UNDONE = new Set(['order_refunded', 'chargeback']);

export function verifyKiwifySignature(signature: string | null, raw: Buffer, token: string): boolean {
  if (!signature || !/^[0-9a-f]{40}$/.test(signature)) return false;
  return timingSafeEqual(Buffer.from(signature, 'hex'), createHmac('sha1', token).update(raw).digest());
}

export function kiwifyRoute(deps: KiwifyDeps): Route {
  return { method: 'post', path: '/hooks/kiwify', limit: 'hooks', maxBody: 256 * 1024, handler: (req) => handle(deps, req) };
}

async function handle(deps: KiwifyDeps, req: Request): Promise<Reply> {
  if (!verifyKiwifySignature(new URLSearchParams(req.query).get('signature'), req.body, deps.token)) {
    return problem(401, 'bad-signature', 'The Kiwify signature does not verify', 'Set KIWIFY_WEBHOOK_TOKEN to the token of this webhook in Kiwify → Apps → Webhooks.');
  }
  const body = readJsonObject(req.body) as Record<string, any> | undefined;
  if (!body) return problem(400, 'invalid-json', 'Body is not a Kiwify event');
  const text = (v: unknown) => (typeof v === 'string' && v.trim() !== '' ? v.trim() : typeof v === 'number' ? String(v) : undefined);
  const event = text(body.webhook_event_type);
  if (event !== 'order_approved' && !UNDONE.has(event ?? '')) return json(200, { ignored: event ?? 'unknown' });
  const transaction = text(body.order_id);
  const commissions = (body.Commissions ?? {}) as Record<string, any>;
  const cents = Number(commissions.charge_amount);
  const currency = (text(commissions.currency) ?? 'BRL').toUpperCase();
  if (!transaction || !Number.isInteger(cents) || !(cents >= 0 && cents <= 1e11) || !/^[A-Z]{3}$/.test(currency)) {
    return problem(400, 'invalid-event', 'The order has no valid order_id, Commissions.charge_amount or currency');
  }
  // Kiwify's dates carry no zone: the webhook comes as the order changes, so now is when.
  const base = { platform: 'kiwify' as const, eventKey: `kiwify:${transaction}:${event}`, transaction, currency, at: Date.now(), buyer: {} };
  if (event !== 'order_approved') return answer(deps, { ...base, kind: 'refunded', amount: undefined });
  if (text(body.order_status) !== 'paid') return json(200, { ignored: `order_approved with order_status ${String(body.order_status)}` });
  const customer = (body.Customer ?? {}) as Record<string, any>;
  const tracking = (body.TrackingParameters ?? {}) as Record<string, any>;
  return answer(deps, {
    ...base,
    kind: 'paid',
    amount: cents,
    visitorId: text(tracking.sck),
    buyer: { name: text(customer.full_name), email: text(customer.email), phone: text(customer.mobile), ip: text(customer.ip) },
    product: text(body.Product?.product_name),
    utm: Object.fromEntries(UTMS.map((k) => [k, text(tracking[k])?.slice(0, 200)]).filter(([, v]) => v)),
  });
}
