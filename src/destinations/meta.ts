// Meta Conversions API: POST {META_GRAPH_URL}/{version}/{pixel id}/events with {data: [event],
// access_token, test_event_code?}. A new lead sends `Lead`, a sale `Purchase`; event_id is stable
// per lead and event (the form's own eventId for Lead, so a browser pixel sending the same id is
// counted once). User data goes only with ads consent: fbc, fbp, IP and user agent as they are;
// em, ph and external_id as SHA-256 of Meta's normalisation. Up to 1000 events per request; one
// invalid event fails the request, so each is checked before it joins a batch.
import { request } from 'undici';
import type { MetaConfig } from '../config.ts';
import { soldBeforeLead, type Lead } from '../db/leads.ts';
import { outcomeOfStatus, type BatchDestination, type DeliveryResult, type Job, type NewJob } from '../outbox/destination.ts';
import { notSent } from './not-sent.ts';
import { metaEmail, metaExternalId, metaPhone, sha256Hex } from './normalise.ts';

export interface MetaJob {
  leadId: string;
  event: 'Lead' | 'Purchase';
}

/** Meta refuses events older than 7 days, and takes at most 1000 per request. */
const MAX_AGE_SECONDS = 7 * 24 * 3600;
export const META_BATCH_SIZE = 1000;
/** Graph API error codes about our token or its permissions (190 invalid/expired token, 10 and 200 permissions, 102 session). */
const CREDENTIAL_CODES = new Set([10, 102, 190, 200]);
/**
 * Graph API rate limits, for our app or account as a whole: 4 app, 17 user, 32 page, 341
 * application limit, 613 calls per time, 80004 calls to this ad account. They pause Meta (every
 * delivery waits, no attempt used) instead of failing the events one by one.
 */
const RATE_LIMIT_CODES = new Set([4, 17, 32, 341, 613, 80004]);
/** 1 unknown and 2 service errors, and anything Meta marks `is_transient`: retry this request later. */
const TRANSIENT_CODES = new Set([1, 2]);

const ACTION_SOURCE: Record<Lead['source'], string> = {
  form: 'website',
  call: 'phone_call',
  whatsapp: 'chat',
  google_lead_form: 'other',
  checkout: 'website',
};

export interface MetaEvent {
  event_name: MetaJob['event'];
  event_time: number;
  event_id: string;
  action_source: string;
  event_source_url?: string;
  user_data: Record<string, unknown>;
  custom_data?: { value: number; currency: string };
}

export function metaEvent(lead: Lead, name: MetaJob['event']): { event: MetaEvent } | { reason: string } {
  if (lead.consent_ads !== 1) return { reason: notSent('noConsent') };
  const at = name === 'Purchase' ? lead.sold_at : lead.created_at;
  if (at === null || (name === 'Purchase' && lead.sale_value === null)) return { reason: notSent('notSold') };
  if (name === 'Purchase' && soldBeforeLead(lead)) return { reason: notSent('soldBeforeLead') };
  const eventTime = Math.floor(at / 1000);
  const userData: Record<string, unknown> = {
    ...(lead.email ? { em: [sha256Hex(metaEmail(lead.email))] } : {}),
    ...(lead.phone ? { ph: [sha256Hex(metaPhone(lead.phone))] } : {}),
    external_id: [sha256Hex(metaExternalId(lead.visitor_id ?? lead.id))],
    ...(lead.fbc ? { fbc: lead.fbc } : {}),
    ...(lead.fbp ? { fbp: lead.fbp } : {}),
    ...(lead.client_ip ? { client_ip_address: lead.client_ip } : {}),
    ...(lead.user_agent ? { client_user_agent: lead.user_agent } : {}),
  };
  // A sale is closed offline, recorded in our system, unless the buyer paid on a web checkout
  // (Hotmart, Kiwify, Stripe): then it happened on the website, under the platform's transaction
  // id (the id a browser pixel on the thank-you page would send, so Meta counts it once).
  const paidOnline = name === 'Purchase' && lead.checkout_ref !== null && Boolean(lead.page_url ?? lead.landing_page);
  const actionSource = name === 'Purchase' ? (paidOnline ? 'website' : 'system_generated') : ACTION_SOURCE[lead.source];
  const pageUrl = lead.page_url ?? (paidOnline ? lead.landing_page : null);
  return {
    event: {
      event_name: name,
      event_time: eventTime,
      event_id: name === 'Lead' ? (lead.event_id ?? lead.id) : (lead.checkout_ref ?? `${lead.id}:purchase`),
      action_source: actionSource,
      ...(pageUrl ? { event_source_url: pageUrl } : {}),
      user_data: userData,
      ...(name === 'Purchase' ? { custom_data: { value: lead.sale_value!, currency: lead.sale_currency! } } : {}),
    },
  };
}

/** What Meta would refuse in this event, checked before it joins a batch. */
export function metaProblem(event: MetaEvent, now = Date.now()): string | undefined {
  if (event.event_time > now / 1000 + 60) return 'the event time is in the future';
  if (now / 1000 - event.event_time > MAX_AGE_SECONDS) return notSent('pastMetaWindow');
  if (event.action_source === 'website' && !event.event_source_url) return 'a website event needs the page URL';
  const custom = event.custom_data;
  if (custom && (!Number.isFinite(custom.value) || custom.value < 0 || !/^[A-Z]{3}$/.test(custom.currency ?? ''))) return 'the value or currency is invalid';
  return undefined;
}

export function meta(config: MetaConfig, leadById: (id: string) => Lead | undefined): BatchDestination<MetaEvent> {
  const url = `${config.graphUrl.replace(/\/$/, '')}/${config.apiVersion}/${config.pixelId}/events`;
  return {
    name: 'meta',
    batchSize: META_BATCH_SIZE,
    jobsFor(lead, change): NewJob[] {
      // A buyer a checkout reported is a sale, not a lead: only its Purchase goes.
      if (change.kind === 'created') return lead.flag || lead.source === 'checkout' ? [] : [{ dedupKey: `meta:lead:${lead.id}`, payload: { leadId: lead.id, event: 'Lead' } }];
      // One Purchase per lead: Meta keeps the first event of an event_id and counts a second one as
      // another purchase, so a correction cannot reach it. Before it is sent, a correction changes
      // what is sent (the event is built from the lead at send time).
      const { value, currency } = change.sale;
      return [{ dedupKey: `meta:purchase:${lead.id}`, payload: { leadId: lead.id, event: 'Purchase' }, ifDelivered: `Meta keeps the first value it received; ${value} ${currency} goes to Google only (Meta takes no corrections)` }];
    },
    build(job: Job) {
      const { leadId, event: name } = JSON.parse(job.payload) as MetaJob;
      const lead = leadById(leadId);
      if (!lead) return { outcome: 'permanent', response: 'the lead was erased' };
      if (lead.is_test && !config.testEventCode) return { outcome: 'skipped', response: `not sent: ${notSent('testLeadMeta')}` };
      const built = metaEvent(lead, name);
      if ('reason' in built) return { outcome: 'skipped', response: `not sent: ${built.reason}` }; // by design, not a failure
      const problem = metaProblem(built.event);
      // Older than Meta's window is the way things are (a sale closed weeks after its lead), not a failure.
      if (problem === notSent('pastMetaWindow')) return { outcome: 'skipped', response: `not sent: ${problem}` };
      return problem ? { outcome: 'permanent', response: `not sent: ${problem}` } : built;
    },
    async post(events: MetaEvent[]): Promise<DeliveryResult> {
      const res = await request(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ data: events, access_token: config.accessToken, ...(config.testEventCode ? { test_event_code: config.testEventCode } : {}) }),
        headersTimeout: 15_000,
        bodyTimeout: 15_000,
      });
      const text = await res.body.text();
      const outcome = outcomeOfStatus(res.statusCode);
      if (outcome === 'ok') return { outcome, httpStatus: res.statusCode, response: `accepted: ${text}` };
      let reason = text;
      try {
        const error = (JSON.parse(text) as { error?: { message?: string; error_user_msg?: string; code?: number; is_transient?: boolean } }).error;
        if (error) reason = `${error.error_user_msg ?? error.message ?? ''} (code ${error.code ?? '?'})`;
        if (error?.code !== undefined && CREDENTIAL_CODES.has(error.code)) return { outcome: 'parked', httpStatus: res.statusCode, response: `Meta refused our access token (check META_ACCESS_TOKEN and META_PIXEL_ID): ${reason}` };
        if (error?.code !== undefined && RATE_LIMIT_CODES.has(error.code)) return { outcome: 'parked', httpStatus: res.statusCode, response: `Meta's rate limit for our app or account: deliveries to Meta wait and are tried again later (${reason})` };
        if (error?.is_transient === true || (error?.code !== undefined && TRANSIENT_CODES.has(error.code))) return { outcome: 'transient', httpStatus: res.statusCode, response: `Meta asks to try later: ${reason}` };
      } catch {
        // not JSON: keep the excerpt
      }
      return { outcome, httpStatus: res.statusCode, response: outcome === 'permanent' ? `Meta rejected this event: ${reason}` : reason };
    },
  };
}
