// POST /hooks/hotmart (HOTMART_HOTTOK): Hotmart's purchase webhook in both versions Hotmart
// documents, chosen when the webhook is set up in Hotmart:
//   2.0.0 (current): JSON {id, creation_date, event, version, data: {product, buyer, purchase}};
//   1.0.0 (legacy postback): flat fields, as a form or JSON (hottok, transaction, status, price,
//   currency, email, name, phone_checkout_local_code + phone_checkout_number, prod_name, sck).
// Hotmart proves itself with the account's hottok: the X-HOTMART-HOTTOK header, or the `hottok`
// field; there is no signature over the body, so it is compared in constant time. Events:
//   approved, complete(d) → the sale of the transaction (the second is a no-op);
//   refunded, chargeback, cancel(l)ed → the sale restated to nothing;
//   anything else (boleto printed, expired, club access …) → acknowledged and ignored.
// The visitor comes back as `sck` (purchase.origin.sck in 2.0.0): our tag puts it on links to
// pay.hotmart.com. The amount is the order's price, once, however many installments pay it.
import { json, problem, type Reply } from '../http/reply.ts';
import { readJsonObject } from '../http/json.ts';
import { sameSecret } from '../http/secret.ts';
import type { Request, Route } from '../http/server.ts';
import { answer, toMinor, type CheckoutDeps, type CheckoutEvent } from './sale.ts';

export interface HotmartDeps extends CheckoutDeps {
  hottok: string;
}

/** Events by their 2.0.0 names; 1.0.0's statuses map onto them. */
const PAID = new Set(['PURCHASE_APPROVED', 'PURCHASE_COMPLETE']);
const UNDONE = new Set(['PURCHASE_REFUNDED', 'PURCHASE_CHARGEBACK', 'PURCHASE_CANCELED']);
const V1_STATUS: Record<string, string> = {
  approved: 'PURCHASE_APPROVED',
  completed: 'PURCHASE_COMPLETE',
  complete: 'PURCHASE_COMPLETE',
  refunded: 'PURCHASE_REFUNDED',
  chargeback: 'PURCHASE_CHARGEBACK',
  canceled: 'PURCHASE_CANCELED',
  cancelled: 'PURCHASE_CANCELED',
};

/** A delivery read, before it is known to be a sale: what both versions say. */
interface Read {
  event: string | undefined;
  deliveryId: string | undefined;
  transaction: string | undefined;
  price: number;
  currency: string;
  createdAt: unknown;
  approvedAt: unknown;
  sck: string | undefined;
  buyer: CheckoutEvent['buyer'];
  product: string | undefined;
  sample: boolean;
}

export function hotmartRoute(deps: HotmartDeps): Route {
  return { method: 'post', path: '/hooks/hotmart', limit: 'hooks', maxBody: 256 * 1024, handler: (req) => handle(deps, req) };
}

const text = (v: unknown) => (typeof v === 'string' && v.trim() !== '' ? v.trim() : typeof v === 'number' ? String(v) : undefined);

async function handle(deps: HotmartDeps, req: Request): Promise<Reply> {
  const form = req.headers['content-type'].startsWith('application/x-www-form-urlencoded');
  const body = form ? Object.fromEntries(new URLSearchParams(req.body.toString('utf8'))) : readJsonObject(req.body);
  const given = req.headers['x-hotmart-hottok'] || text(body?.hottok) || '';
  if (!sameSecret(given, deps.hottok)) {
    return problem(401, 'bad-token', 'The Hotmart token does not match', 'Set HOTMART_HOTTOK to the hottok shown in Hotmart → Tools → Webhook (API and notifications).');
  }
  if (!body) return problem(400, 'invalid-json', 'Body is not a Hotmart event');
  const version = text(body.version);
  if (version !== undefined && version !== '2.0.0' && version !== '1.0.0') {
    return problem(400, 'unsupported-version', `Hotmart webhook version ${version} is not read here`, 'Edit the webhook in Hotmart and choose version 2.0.0.');
  }
  const read = typeof body.data === 'object' && body.data !== null ? readV2(body) : readV1(body);
  if (!read.event || (!PAID.has(read.event) && !UNDONE.has(read.event))) return json(200, { ignored: read.event ?? text(body.status) ?? 'unknown' });
  if (!read.transaction || !(read.price >= 0 && read.price <= 1e9) || !/^[A-Z]{3}$/.test(read.currency)) {
    return problem(400, 'invalid-event', 'The purchase has no valid transaction, price or currency');
  }
  const when = (ms: unknown) => (typeof ms === 'number' && ms > 1.26e12 && ms <= Date.now() + 300_000 ? ms : Date.now());
  const base = {
    platform: 'hotmart' as const,
    // 2.0.0 names each delivery; 1.0.0 does not, and one transaction has one delivery per status.
    eventKey: `hotmart:${read.deliveryId ?? `${read.transaction}:${read.event}`}`,
    transaction: read.transaction,
    currency: read.currency,
    buyer: {},
  };
  if (UNDONE.has(read.event)) return answer(deps, { ...base, kind: 'refunded', amount: undefined, at: when(read.createdAt) });
  return answer(deps, {
    ...base,
    kind: 'paid',
    amount: toMinor(read.price, read.currency),
    at: when(read.approvedAt),
    visitorId: read.sck,
    buyer: read.buyer,
    product: read.product,
    test: read.sample,
  });
}

function readV2(body: Record<string, any>): Read {
  const data = body.data as Record<string, any>;
  const purchase = (data.purchase ?? {}) as Record<string, any>;
  const buyer = (data.buyer ?? {}) as Record<string, any>;
  return {
    event: text(body.event),
    deliveryId: text(body.id),
    transaction: text(purchase.transaction),
    price: typeof purchase.price?.value === 'number' ? purchase.price.value : NaN,
    currency: text(purchase.price?.currency_value)?.toUpperCase() ?? '',
    createdAt: body.creation_date,
    approvedAt: purchase.approved_date,
    sck: text(purchase.origin?.sck),
    // The phone as the buyer typed it at checkout; its country from the buyer's address.
    buyer: { name: text(buyer.name), email: text(buyer.email), phone: text(buyer.checkout_phone), country: text(buyer.address?.country_iso), ip: text(purchase.buyer_ip) },
    product: text(data.product?.name),
    // Hotmart's "send test" sample is of product 0.
    sample: data.product?.id === 0 || data.product?.id === '0',
  };
}

function readV1(body: Record<string, any>): Read {
  const status = text(body.status)?.toLowerCase();
  const phone = [text(body.phone_checkout_local_code), text(body.phone_checkout_number)].filter(Boolean).join('');
  return {
    event: status ? V1_STATUS[status] : undefined,
    deliveryId: undefined,
    transaction: text(body.transaction),
    price: Number(text(body.price)),
    currency: text(body.currency)?.toUpperCase() ?? '',
    createdAt: undefined,
    approvedAt: undefined,
    sck: text(body.sck),
    buyer: { name: text(body.name), email: text(body.email), phone: phone || undefined, country: text(body.address_country_ISO) },
    product: text(body.prod_name),
    sample: text(body.prod) === '0',
  };
}
