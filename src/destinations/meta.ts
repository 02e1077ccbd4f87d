// Meta Conversions API: POST {META_GRAPH_URL}/{version}/{pixel id}/events with {data: [event],
// access_token, test_event_code?}. A new lead sends `Lead`, a sale `Purchase`; event_id is stable
// per lead and event (the form's own eventId for Lead, so a browser pixel sending the same id is
// counted once). User data goes only with ads consent: fbc, fbp, IP and user agent as they are;
// em, ph and external_id as SHA-256 of Meta's normalisation.
import { request } from 'undici';
import type { Lead, LeadStore } from '../leads/store.ts';
import type { DeliveryResult, Job } from '../outbox/outbox.ts';
import { outcomeOfStatus, type Destination } from './destination.ts';
import { metaEmail, metaExternalId, metaPhone, sha256Hex } from './normalise.ts';

export interface MetaConfig {
  pixelId: string;
  accessToken: string;
  apiVersion: string;
  graphUrl: string;
  testEventCode: string | undefined;
}

export interface MetaJob {
  leadId: string;
  event: 'Lead' | 'Purchase';
}

/** Meta refuses events older than 7 days. */
const MAX_AGE_SECONDS = 7 * 24 * 3600;

const ACTION_SOURCE: Record<Lead['source'], string> = {
  form: 'website',
  call: 'phone_call',
  whatsapp: 'chat',
  google_lead_form: 'other',
};

export function metaEvent(lead: Lead, name: MetaJob['event'], now = Date.now()): { event: Record<string, unknown> } | { reason: string } {
  if (lead.consent_ads !== 1) return { reason: 'no ads consent: nothing about this person is sent to Meta' };
  const at = name === 'Purchase' ? lead.sold_at : lead.created_at;
  if (at === null || (name === 'Purchase' && lead.sale_value === null)) return { reason: 'the lead is not marked sold' };
  const eventTime = Math.floor(at / 1000);
  if (now / 1000 - eventTime > MAX_AGE_SECONDS) return { reason: 'the event is older than the 7 days Meta accepts' };
  const userData: Record<string, unknown> = {
    ...(lead.email ? { em: [sha256Hex(metaEmail(lead.email))] } : {}),
    ...(lead.phone ? { ph: [sha256Hex(metaPhone(lead.phone))] } : {}),
    external_id: [sha256Hex(metaExternalId(lead.visitor_id ?? lead.id))],
    ...(lead.fbc ? { fbc: lead.fbc } : {}),
    ...(lead.fbp ? { fbp: lead.fbp } : {}),
    ...(lead.client_ip ? { client_ip_address: lead.client_ip } : {}),
    ...(lead.user_agent ? { client_user_agent: lead.user_agent } : {}),
  };
  // A sale is closed offline, recorded in our system; a lead happened where it came from.
  const actionSource = name === 'Purchase' ? 'system_generated' : ACTION_SOURCE[lead.source];
  return {
    event: {
      event_name: name,
      event_time: eventTime,
      event_id: name === 'Lead' ? (lead.event_id ?? lead.id) : `${lead.id}:purchase`,
      action_source: actionSource,
      ...(lead.page_url ? { event_source_url: lead.page_url } : {}),
      user_data: userData,
      ...(name === 'Purchase' ? { custom_data: { value: lead.sale_value, currency: lead.sale_currency } } : {}),
    },
  };
}

export function meta(config: MetaConfig, store: LeadStore): Destination {
  const url = `${config.graphUrl.replace(/\/$/, '')}/${config.apiVersion}/${config.pixelId}/events`;
  return {
    name: 'meta',
    async send(job: Job): Promise<DeliveryResult> {
      const { leadId, event: name } = JSON.parse(job.payload) as MetaJob;
      const lead = store.get(leadId);
      if (!lead) return { outcome: 'permanent', response: 'the lead was erased' };
      const built = metaEvent(lead, name);
      if ('reason' in built) return { outcome: 'permanent', response: `not sent: ${built.reason}` };
      const res = await request(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ data: [built.event], access_token: config.accessToken, ...(config.testEventCode ? { test_event_code: config.testEventCode } : {}) }),
        headersTimeout: 15_000,
        bodyTimeout: 15_000,
      });
      const text = await res.body.text();
      const outcome = outcomeOfStatus(res.statusCode);
      if (outcome === 'ok') return { outcome, httpStatus: res.statusCode, response: `accepted: ${text}` };
      let reason = text;
      try {
        const error = (JSON.parse(text) as { error?: { message?: string; error_user_msg?: string; code?: number } }).error;
        if (error) reason = `${error.error_user_msg ?? error.message ?? ''} (code ${error.code ?? '?'})`;
        // Graph API: code 190 = invalid or expired access token, 10/200 = permissions.
        if (error?.code === 190 || error?.code === 10 || error?.code === 200) return { outcome: 'permanent', httpStatus: res.statusCode, response: `Meta refused our access token (check META_ACCESS_TOKEN): ${reason}` };
      } catch {
        // not JSON: keep the excerpt
      }
      return { outcome, httpStatus: res.statusCode, response: outcome === 'permanent' ? `Meta rejected this event: ${reason}` : reason };
    },
  };
}
