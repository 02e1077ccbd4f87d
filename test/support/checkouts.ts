// Webhooks as the hosted checkouts send them, for tests: Hotmart's purchase webhook version
// 2.0.0 (the shape of Hotmart's documented example: envelope id, creation_date, event, version,
// data.product / buyer / purchase with price, transaction, approved_date and origin.sck, the
// account's hottok in the X-HOTMART-HOTTOK header), Kiwify's order webhook (order_id,
// order_status, webhook_event_type, Product, Customer, Commissions in cents, TrackingParameters;
// ?signature = HMAC-SHA1 of the raw body with the webhook's token, as Kiwify documents), and
// Stripe's events signed with Stripe-Signature.
import { createHmac, randomUUID } from 'node:crypto';

export const HOTTOK = 'hottok-test-0123456789abcdef';
export const KIWIFY_TOKEN = 'kiwify-token-0123456789';
export const STRIPE_SECRET = 'whsec_checkout_test';

export interface Buyer {
  name: string;
  email: string;
  /** As the buyer typed it at checkout (national, for Hotmart). */
  phone: string;
}

export function hotmartBody(event: string, o: { transaction: string; price: number; currency?: string; sck?: string; buyer: Buyer; product?: string; productId?: number; id?: string }): string {
  const now = Date.now();
  return JSON.stringify({
    id: o.id ?? randomUUID(),
    creation_date: now,
    event,
    version: '2.0.0',
    data: {
      product: { id: o.productId ?? 4774438, ucode: 'fb056612-bcc6-4217-9e6d-2a5d1110ac2f', name: o.product ?? 'Curso de Confeitaria', warranty_date: '2027-01-01T00:00:00Z', has_co_production: false, is_physical_product: false },
      affiliates: [{ affiliate_code: '', name: '' }],
      buyer: {
        email: o.buyer.email,
        name: o.buyer.name,
        first_name: o.buyer.name.split(' ')[0],
        last_name: o.buyer.name.split(' ').slice(1).join(' '),
        checkout_phone: o.buyer.phone,
        address: { city: 'São Paulo', country: 'Brasil', country_iso: 'BR', state: 'São Paulo', zipcode: '01000000' },
        document: '69526128664',
        document_type: 'CPF',
      },
      producer: { name: 'Producer Test Name', document: '12345678965', legal_nature: 'Pessoa Física' },
      commissions: [
        { value: Math.round(o.price * 0.099 * 100) / 100, source: 'MARKETPLACE', currency_value: o.currency ?? 'BRL' },
        { value: Math.round(o.price * 0.901 * 100) / 100, source: 'PRODUCER', currency_value: o.currency ?? 'BRL' },
      ],
      purchase: {
        approved_date: now - 5_000,
        full_price: { value: o.price, currency_value: o.currency ?? 'BRL' },
        price: { value: o.price, currency_value: o.currency ?? 'BRL' },
        checkout_country: { name: 'Brasil', iso: 'BR' },
        order_bump: { is_order_bump: false },
        ...(o.sck ? { origin: { sck: o.sck } } : {}),
        original_offer_price: { value: o.price, currency_value: o.currency ?? 'BRL' },
        order_date: now - 60_000,
        status: event === 'PURCHASE_REFUNDED' ? 'REFUNDED' : event === 'PURCHASE_CHARGEBACK' ? 'CHARGEBACK' : 'APPROVED',
        transaction: o.transaction,
        payment: { installments_number: 12, type: 'CREDIT_CARD' },
        offer: { code: 'k2pasun0' },
        is_funnel: false,
        business_model: 'I',
      },
    },
  });
}

export function kiwifyBody(event: 'order_approved' | 'order_refunded' | 'chargeback' | 'pix_created', o: { orderId: string; cents: number; sck?: string; buyer: Buyer; product?: string; utm?: Record<string, string> }): string {
  const status = event === 'order_approved' ? 'paid' : event === 'order_refunded' ? 'refunded' : event === 'chargeback' ? 'chargedback' : 'waiting_payment';
  return JSON.stringify({
    order_id: o.orderId,
    order_ref: o.orderId.slice(0, 7),
    order_status: status,
    product_type: 'membership',
    payment_method: 'credit_card',
    store_id: 'nJxCh9JsrfFeDOv',
    payment_merchant_id: 68677,
    installments: 6,
    card_type: 'mastercard',
    card_last4digits: '0235',
    card_rejection_reason: null,
    boleto_URL: null,
    boleto_barcode: null,
    boleto_expiry_date: null,
    pix_code: null,
    pix_expiration: null,
    sale_type: 'producer',
    created_at: '2026-12-02 11:05',
    updated_at: '2026-12-02 11:06',
    approved_date: '2026-12-02 11:06',
    refunded_at: event === 'order_approved' ? null : '2026-12-02 12:00',
    webhook_event_type: event,
    Product: { product_id: '2e138970-e434-11f0-92a7-49ac9b9afca8', product_name: o.product ?? 'Mentoria Express' },
    Customer: { full_name: o.buyer.name, first_name: o.buyer.name.split(' ')[0], email: o.buyer.email, mobile: o.buyer.phone, CPF: '23156953061', ip: '177.10.20.30' },
    Commissions: { charge_amount: o.cents, product_base_price: o.cents, product_base_price_currency: 'BRL', kiwify_fee: Math.round(o.cents * 0.09), currency: 'BRL', my_commission: o.cents - Math.round(o.cents * 0.09) },
    TrackingParameters: { src: null, sck: o.sck ?? null, utm_source: o.utm?.utm_source ?? null, utm_medium: o.utm?.utm_medium ?? null, utm_campaign: o.utm?.utm_campaign ?? null, utm_content: null, utm_term: null, s1: null, s2: null, s3: null },
    Subscription: null,
    subscription_id: null,
  });
}

export const kiwifySignature = (body: string, token = KIWIFY_TOKEN) => createHmac('sha1', token).update(body).digest('hex');

export function stripeSignature(body: string, secret = STRIPE_SECRET, t = Math.floor(Date.now() / 1000)): string {
  return `t=${t},v1=${createHmac('sha256', secret).update(`${t}.${body}`).digest('hex')}`;
}

/** Posts each platform's webhook the way the platform does. */
export const post = {
  hotmart: (origin: string, body: string, hottok = HOTTOK) => fetch(`${origin}/hooks/hotmart`, { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-HOTMART-HOTTOK': hottok }, body }),
  kiwify: (origin: string, body: string, signature = kiwifySignature(body)) => fetch(`${origin}/hooks/kiwify?signature=${signature}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body }),
  stripe: (origin: string, body: string, signature = stripeSignature(body)) => fetch(`${origin}/hooks/stripe`, { method: 'POST', headers: { 'Content-Type': 'application/json', 'Stripe-Signature': signature }, body }),
};
