// POST /hooks/hotmart (HOTMART_HOTTOK): Hotmart's purchase webhook, payload version 2.0.0 (the
// version Hotmart documents as current; chosen when the webhook is set up in Hotmart). Hotmart
// proves itself with the account's hottok in the X-HOTMART-HOTTOK header (older configurations
// put it in the body's `hottok`); there is no signature over the body. Events:
//   PURCHASE_APPROVED, PURCHASE_COMPLETE → the sale of purchase.transaction (the second is a no-op);
//   PURCHASE_REFUNDED, PURCHASE_CHARGEBACK, PURCHASE_CANCELED → the sale restated to nothing;
//   anything else → acknowledged and ignored.
// The visitor comes back in purchase.origin.sck (our tag puts it on links to pay.hotmart.com).
import { json, problem, type Reply } from '../http/reply.ts';
import { readJsonObject } from '../http/json.ts';
import { sameSecret } from '../http/secret.ts';
import type { Request, Route } from '../http/server.ts';
import { answer, toMinor, type CheckoutDeps } from './sale.ts';

export interface HotmartDeps extends CheckoutDeps {
  hottok: string;
}

const PAID = new Set(['PURCHASE_APPROVED', 'PURCHASE_COMPLETE']);
const UNDONE = new Set(['PURCHASE_REFUNDED', 'PURCHASE_CHARGEBACK', 'PURCHASE_CANCELED']);

export function hotmartRoute(deps: HotmartDeps): Route {
  return { method: 'post', path: '/hooks/hotmart', limit: 'hooks', maxBody: 256 * 1024, handler: (req) => handle(deps, req) };
}

async function handle(deps: HotmartDeps, req: Request): Promise<Reply> {
  const body = readJsonObject(req.body) as Record<string, any> | undefined;
  const given = req.headers['x-hotmart-hottok'] || (typeof body?.hottok === 'string' ? body.hottok : '');
  if (!sameSecret(given, deps.hottok)) {
    return problem(401, 'bad-token', 'The Hotmart token does not match', 'Set HOTMART_HOTTOK to the hottok shown in Hotmart → Tools → Webhook (API and notifications).');
  }
  if (!body) return problem(400, 'invalid-json', 'Body is not a Hotmart event');
  const text = (v: unknown) => (typeof v === 'string' && v.trim() !== '' ? v.trim() : typeof v === 'number' ? String(v) : undefined);
  const event = text(body.event);
  if (!event || (!PAID.has(event) && !UNDONE.has(event))) return json(200, { ignored: event ?? 'unknown' });
  if (body.version !== '2.0.0') {
    return problem(400, 'unsupported-version', `Hotmart webhook version ${String(body.version)} is not read here`, 'Edit the webhook in Hotmart and choose version 2.0.0.');
  }
  const data = (body.data ?? {}) as Record<string, any>;
  const purchase = (data.purchase ?? {}) as Record<string, any>;
  const buyer = (data.buyer ?? {}) as Record<string, any>;
  const transaction = text(purchase.transaction);
  const price = purchase.price?.value;
  const currency = text(purchase.price?.currency_value)?.toUpperCase() ?? '';
  if (!transaction || typeof price !== 'number' || !(price >= 0 && price <= 1e9) || !/^[A-Z]{3}$/.test(currency)) {
    return problem(400, 'invalid-event', 'The purchase has no valid transaction, price or currency');
  }
  const eventKey = `hotmart:${text(body.id) ?? `${transaction}:${event}`}`;
  const when = (ms: unknown) => (typeof ms === 'number' && ms > 1.26e12 && ms <= Date.now() + 300_000 ? ms : Date.now());
  const base = { platform: 'hotmart' as const, eventKey, transaction, currency, buyer: {} };
  if (UNDONE.has(event)) return answer(deps, { ...base, kind: 'refunded', amount: undefined, at: when(body.creation_date) });
  // The phone as the buyer typed it at checkout; its country from the buyer's address.
  const phone = text(buyer.checkout_phone);
  return answer(deps, {
    ...base,
    kind: 'paid',
    // The order's price once, however many installments pay it.
    amount: toMinor(price, currency),
    at: when(purchase.approved_date),
    visitorId: text(purchase.origin?.sck),
    buyer: { name: text(buyer.name), email: text(buyer.email), phone, country: text(buyer.address?.country_iso), ip: text(purchase.buyer_ip) },
    product: text(data.product?.name),
    // Hotmart's "send test" sample is of product 0.
    test: data.product?.id === 0 || data.product?.id === '0',
  });
}
