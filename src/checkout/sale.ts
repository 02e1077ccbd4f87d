// A sale a hosted checkout reports (Hotmart, Kiwify, Stripe), matched to the click that made it
// and recorded once. Each platform's file reads its webhook into a CheckoutEvent; this file does
// the rest the same way for all:
//   match: the lead the site named (Stripe's client_reference_id = a lead id) → our visitor id from
//   the tracking parameter: that visitor's lead, else a new lead from the visitor's touches in
//   ClickHouse → a lead with the buyer's email or phone → a new lead with no attribution (the
//   owner sees why in its history);
//   record: one payment per transaction (replays and retries are no-ops), the lead's sale is what
//   its payments brought minus refunds (a refund or chargeback restates it; Google's upload
//   follows, Meta keeps its first Purchase), and the owner is told of the sale.
import { isIP } from 'node:net';
import type { Lead } from '../db/leads.ts';
import { json, problem, retryAfter, type Reply } from '../http/reply.ts';
import type { Storage } from '../db/storage.ts';
import { NO_GEO } from '../collect/geo.ts';
import type { Utm } from '../collect/beacon.ts';
import { newLead, normaliseEmail, normalisePhone, type Attribution } from '../leads/lead.ts';
import type { Logger } from '../log.ts';
import type { Notifier } from '../notify/notify.ts';
import type { Touches } from './touches.ts';

export type CheckoutPlatform = 'hotmart' | 'kiwify' | 'stripe';

/** One webhook delivery, read. Amounts are in minor units (cents) as the platform reports them. */
export interface CheckoutEvent {
  platform: CheckoutPlatform;
  /** This delivery (the platform's event id, or its transaction and event type): seen once. */
  eventKey: string;
  /** The order or payment: one sale whatever events report it. */
  transaction: string;
  kind: 'paid' | 'refunded';
  /** Paid: the order's total; refunded: what was refunded (undefined: all of it). */
  amount: number | undefined;
  currency: string;
  /** When the platform approved (or refunded) it. */
  at: number;
  /** Our visitor id, from the tracking parameter the tracker added to the checkout link. */
  visitorId?: string;
  /** A lead id the site passed itself (Stripe's client_reference_id or metadata.lead_id). */
  leadId?: string;
  /** `country`: ISO code the phone is read in when it has no +country prefix (else DEFAULT_COUNTRY). */
  buyer: { name?: string; email?: string; phone?: string; country?: string; ip?: string };
  product?: string;
  /** The platform's own test delivery (Hotmart's sample, Stripe's test mode): kept as a test lead, sent nowhere live. */
  test?: boolean;
  /** UTMs the platform passes back, used when ClickHouse knows nothing of the visitor. */
  utm?: Partial<Record<Utm, string>>;
}

export interface CheckoutDeps {
  storage: Pick<Storage, 'leads' | 'checkout' | 'transaction'>;
  /** The visitor's touches from ClickHouse; throws when ClickHouse cannot answer. */
  touches: (visitorId: string) => Promise<Touches | undefined>;
  notifier: Pick<Notifier, 'sale'>;
  defaultCountry: string | undefined;
  log: Logger;
}

/** How the sale found its lead: the lead the site named, the visitor's lead, a new lead from the visitor's touches, the buyer's email or phone, or none (a new lead without a click). */
export type MatchedBy = 'lead' | 'visitor' | 'touches' | 'contact' | 'none';

export type CheckoutOutcome =
  | { duplicate: true; leadId?: string }
  | { matched: false; reason: string }
  | { leadId: string; matchedBy: MatchedBy; refunded?: true };

/** Currencies counted in whole units (no cents). */
const ZERO_DECIMAL = new Set(['BIF', 'CLP', 'DJF', 'GNF', 'JPY', 'KMF', 'KRW', 'MGA', 'PYG', 'RWF', 'UGX', 'VND', 'VUV', 'XAF', 'XOF', 'XPF']);

export function fromMinor(amount: number, currency: string): number {
  return ZERO_DECIMAL.has(currency) ? amount : amount / 100;
}

export function toMinor(value: number, currency: string): number {
  return Math.round(ZERO_DECIMAL.has(currency) ? value : value * 100);
}

export async function recordCheckout(deps: CheckoutDeps, e: CheckoutEvent): Promise<CheckoutOutcome> {
  const { leads, checkout } = deps.storage;
  const key = `${e.platform === 'stripe' ? '' : `${e.platform}:`}${e.transaction}`;

  if (e.kind === 'refunded') {
    return deps.storage.transaction(() => {
      const payment = checkout.payment(key);
      if (!checkout.fresh(e.eventKey)) return { duplicate: true as const, leadId: payment?.lead_id };
      if (!payment) return { matched: false as const, reason: 'no payment of this transaction was recorded' };
      checkout.setRefunded(key, Math.min(e.amount ?? payment.amount, payment.amount));
      restate(deps, payment.lead_id, payment.currency, e);
      return { leadId: payment.lead_id, matchedBy: 'lead' as const, refunded: true as const };
    });
  }

  const known = checkout.payment(key);
  if (known) return { duplicate: true, leadId: known.lead_id };
  // Read before the transaction (ClickHouse is asked over the network): a new lead is made from it.
  const named = e.leadId ? leads.get(e.leadId) : undefined;
  const ofVisitor = !named && e.visitorId ? leads.latestOfVisitor(e.visitorId) : undefined;
  const touches = !named && !isOpen(ofVisitor) && e.visitorId ? await deps.touches(e.visitorId) : undefined;
  const email = e.buyer.email ? normaliseEmail(e.buyer.email) : undefined;
  const phone = e.buyer.phone ? normalisePhone(e.buyer.phone, e.buyer.country ?? deps.defaultCountry) : undefined;

  return deps.storage.transaction(() => {
    // A platform resends until it gets a 2xx, and reports one payment in several events.
    const recorded = checkout.payment(key);
    if (!checkout.fresh(e.eventKey) || recorded) return { duplicate: true as const, leadId: recorded?.lead_id };
    let matchedBy: MatchedBy;
    let lead: Lead | undefined;
    const byContact = !touches ? leads.findByContact({ email, phone }) : undefined;
    if (named) [lead, matchedBy] = [named, 'lead'];
    else if (isOpen(ofVisitor)) [lead, matchedBy] = [ofVisitor, 'visitor'];
    else if (touches) [lead, matchedBy] = [createLead(deps, e, email, phone, touches), 'touches'];
    else if (isOpen(byContact)) [lead, matchedBy] = [byContact, 'contact'];
    else {
      lead = createLead(deps, e, email, phone, undefined);
      matchedBy = 'none';
      // Said in the lead's history (the app words it), where the owner looks when a sale credits no
      // campaign: no visitor id came back (the link was not carried by our tag, or consent was
      // refused), or one no event is known of; and no lead has this buyer's email or phone.
      leads.remark(lead.id, e.platform, 'attribution', e.visitorId ? 'unknown-visitor' : 'no-visitor');
    }
    // The buyer's phone on a lead that had none: the owner can call, and the upload matches better.
    if (lead.phone === null && phone) lead = leads.update(lead.id, { phone }, e.platform) ?? lead;
    checkout.addPayment(key, lead.id, e.amount ?? 0, e.currency);
    const sold = restate(deps, lead.id, e.currency, e);
    if (sold?.changed) deps.notifier.sale(sold.lead, e.product);
    return { leadId: lead.id, matchedBy };
  });
}

/** A lead a new payment may be added to: not sold yet (a sold lead's buyer buying again is a new sale). */
function isOpen(lead: Lead | undefined): lead is Lead {
  return lead !== undefined && lead.status !== 'SOLD';
}

function createLead(deps: CheckoutDeps, e: CheckoutEvent, email: string | undefined, phone: string | undefined, touches: Touches | undefined): Lead {
  const attribution: Attribution = touches?.attribution ?? Object.fromEntries(Object.entries(e.utm ?? {}).filter(([, v]) => v));
  const { lead } = deps.storage.leads.create(
    newLead(
      {
        // One lead per transaction, whatever happens between two deliveries of it.
        eventId: `${e.platform}:${e.transaction}`,
        name: e.buyer.name?.slice(0, 200),
        phone,
        email,
        message: undefined,
        service: e.product?.slice(0, 200),
        extra: undefined,
        refCode: undefined,
        consentAds: touches?.consentAds,
        consentPersonalization: undefined,
        visitorId: e.visitorId,
        sessionId: touches?.sessionId,
        pageUrl: touches?.pageUrl,
        referrer: undefined,
        attribution,
      },
      { source: 'checkout', isTest: e.test || isExampleEmail(email), clientIp: e.buyer.ip && isIP(e.buyer.ip) ? e.buyer.ip : undefined, userAgent: undefined, geo: NO_GEO },
    ),
  );
  return lead;
}

/** Addresses no real buyer has (RFC 2606/6761): the platforms' sample webhooks use them. */
function isExampleEmail(email: string | undefined): boolean {
  return /@(.+\.)?example\.(com|net|org)$|\.(test|invalid|example)$/.test(email ?? '');
}

/** The lead's sale is what its payments in this currency brought, minus refunds. */
function restate(deps: CheckoutDeps, leadId: string, currency: string, e: CheckoutEvent) {
  const value = fromMinor(deps.storage.checkout.net(leadId, currency), currency);
  const lead = deps.storage.leads.get(leadId);
  return deps.storage.leads.recordSale(leadId, { value, currency, at: lead?.sold_at ?? e.at, checkout: { platform: e.platform, ref: e.transaction } }, e.platform);
}

/**
 * The webhook's answer: 200 with what happened (a replay is a 200 too, so the platform stops
 * resending); 503 when ClickHouse could not say who the visitor was, so the platform tries again
 * later instead of the sale losing its click.
 */
export async function answer(deps: CheckoutDeps, e: CheckoutEvent): Promise<Reply> {
  let outcome: CheckoutOutcome;
  try {
    outcome = await recordCheckout(deps, e);
  } catch (err) {
    deps.log.warn({ err, platform: e.platform, transaction: e.transaction }, 'a checkout sale waits: the visitor could not be looked up');
    return retryAfter(problem(503, 'try-later', 'The sale cannot be matched to its click right now', 'The event store did not answer; send this webhook again later.'), 60);
  }
  if ('duplicate' in outcome) return json(200, { matched: outcome.leadId !== undefined, leadId: outcome.leadId, duplicate: true });
  if ('reason' in outcome) return json(200, { matched: false, reason: outcome.reason });
  deps.log.info({ platform: e.platform, transaction: e.transaction, kind: e.kind, lead: outcome.leadId, matchedBy: outcome.matchedBy }, 'checkout sale recorded');
  return json(200, { matched: true, leadId: outcome.leadId, matchedBy: outcome.matchedBy, duplicate: false, ...(outcome.refunded ? { refunded: true } : {}) });
}
