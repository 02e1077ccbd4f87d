// Google Ads offline conversions through the Data Manager API (POST /v1/events:ingest), with
// Google's official client (@google-ads/datamanager, HTTP/JSON transport) and an OAuth2Client on
// the refresh-token flow. One sale = one event whose transactionId is the lead id, so retries,
// replays and restated values are deduplicated by Google. The event is built from the lead as it
// is when sent (the current value), with the click id, the landing page's device, and hashed
// email/phone only with ads consent. Events go up to 2000 per request; Google fails a request
// for one bad event, so each event is checked first. An accepted request is processed later:
// its requestId is kept and GET /v1/requestStatus:retrieve tells how it went.
import { IngestionServiceClient, protos } from '@google-ads/datamanager';
import { OAuth2Client } from 'google-auth-library';
import type { GoogleConfig } from '../config.ts';
import { isIP } from 'node:net';
import { soldBeforeLead, type Lead } from '../db/leads.ts';
import { notSent } from './not-sent.ts';
import type { BatchDestination, DeliveryResult, Job, NewJob, RemoteStatus } from '../outbox/destination.ts';
import { googleEmail, googlePhone, sha256Hex } from './normalise.ts';

export interface GoogleJob {
  leadId: string;
}

/** gRPC status codes worth retrying: UNKNOWN, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED (quota), ABORTED, INTERNAL, UNAVAILABLE. */
const TRANSIENT_CODES = new Set([2, 4, 8, 10, 13, 14]);
/** PERMISSION_DENIED, UNAUTHENTICATED, NOT_FOUND (account or conversion action): our settings, not the event. */
const CONFIG_CODES = new Set([5, 7, 16, 401, 403, 404]);
/** The most events Google takes in one events:ingest request. */
export const GOOGLE_BATCH_SIZE = 2000;

export type GoogleEvent = Record<string, unknown>;

/**
 * Countries where Google Ads does not use IP addresses for matching and asks senders not to send
 * them: the EEA, the UK and Switzerland.
 */
const NO_IP_COUNTRIES = new Set(['AT', 'BE', 'BG', 'HR', 'CY', 'CZ', 'DK', 'EE', 'FI', 'FR', 'DE', 'GR', 'HU', 'IE', 'IT', 'LV', 'LT', 'LU', 'MT', 'NL', 'PL', 'PT', 'RO', 'SK', 'SI', 'ES', 'SE', 'IS', 'LI', 'NO', 'GB', 'CH']);

/**
 * The consent Google is told, from what the lead knows: the browser's state (granted, or implied
 * where the site does not ask; personalization only as Consent Mode had it) or its denial; a Google lead form means the person gave their
 * data to the advertiser in Google's own form (ad_user_data granted, personalization unknown);
 * anything else unknown is left unspecified, never sent as DENIED (Google drops denied sales).
 */
function consentOf(lead: Lead): { consent: Record<string, string> | undefined; useData: boolean } {
  if (lead.consent_ads === 1) {
    // Personalization is its own purpose: told only when the page's Consent Mode said it.
    const personalization: Record<string, string> = lead.consent_personalization === 1 ? { adPersonalization: 'CONSENT_GRANTED' } : lead.consent_personalization === 0 ? { adPersonalization: 'CONSENT_DENIED' } : {};
    return { consent: { adUserData: 'CONSENT_GRANTED', ...personalization }, useData: true };
  }
  if (lead.consent_ads === 0) return { consent: { adUserData: 'CONSENT_DENIED', adPersonalization: 'CONSENT_DENIED' }, useData: false };
  if (lead.source === 'google_lead_form') return { consent: { adUserData: 'CONSENT_GRANTED' }, useData: true };
  return { consent: undefined, useData: false };
}

/**
 * The Data Manager event for a sold lead, or why none can be sent. A lead marked LOST after it was
 * sold (a full refund, a cancelled job) restates the conversion's value to 0: the Data Manager API
 * adjusts a conversion by its transactionId and has no retraction.
 */
export function saleEvent(lead: Lead, clickWindowDays = 90, validateOnly = false): { event: GoogleEvent } | { reason: string } {
  const retracted = lead.status === 'LOST' && lead.sold_at !== null;
  if ((lead.status !== 'SOLD' && !retracted) || lead.sale_value === null || lead.sold_at === null) return { reason: notSent('notSold') };
  if (lead.is_test && !validateOnly) return { reason: notSent('testLead') };
  if (soldBeforeLead(lead)) return { reason: notSent('soldBeforeLead') };
  // The click came at the latest when the lead did: a sale further from it than the window cannot be credited.
  if (lead.sold_at - lead.created_at > clickWindowDays * 86_400_000) return { reason: notSent('pastClickWindow', clickWindowDays) };
  const { consent, useData } = consentOf(lead);
  const identifiers: Array<Record<string, string>> = [];
  if (useData && lead.email) identifiers.push({ emailAddress: sha256Hex(googleEmail(lead.email)) });
  if (useData && lead.phone) identifiers.push({ phoneNumber: sha256Hex(googlePhone(lead.phone)) });
  // One click identifier only: gclid, else gbraid, else wbraid (Google rejects gbraid with wbraid).
  const clickId = lead.gclid ? { gclid: lead.gclid } : lead.gbraid ? { gbraid: lead.gbraid } : lead.wbraid ? { wbraid: lead.wbraid } : undefined;
  if (!clickId && identifiers.length === 0) {
    return { reason: notSent(lead.consent_ads === 0 ? 'noClickNoConsent' : 'noClickNoContact') };
  }
  // The landing page's device (IP, user agent) is personal data too: only with ads consent, and
  // no IP for visitors where Google does not match by IP.
  const ip = lead.client_ip && !NO_IP_COUNTRIES.has(lead.country ?? '') ? lead.client_ip : undefined;
  const device = useData && (lead.user_agent || ip) ? { userAgent: lead.user_agent ?? undefined, ipAddress: ip } : undefined;
  return {
    event: {
      transactionId: lead.id,
      eventTimestamp: { seconds: Math.floor(lead.sold_at / 1000), nanos: (lead.sold_at % 1000) * 1e6 },
      conversionValue: retracted ? 0 : lead.sale_value,
      currency: lead.sale_currency,
      eventSource: lead.source === 'call' || lead.source === 'whatsapp' ? 'PHONE' : lead.checkout ? 'WEB' : 'OTHER',
      ...(consent ? { consent } : {}),
      ...(clickId || device ? { adIdentifiers: { ...clickId, ...(device ? { landingPageDeviceInfo: device } : {}) } } : {}),
      ...(identifiers.length > 0 ? { userData: { userIdentifiers: identifiers } } : {}),
    },
  };
}

/** What Google would refuse in this event, checked before it joins a batch. */
export function googleProblem(event: GoogleEvent, now = Date.now()): string | undefined {
  const e = event as { transactionId?: string; conversionValue?: number; currency?: string; eventTimestamp?: { seconds: number }; adIdentifiers?: { gclid?: string; gbraid?: string; wbraid?: string; landingPageDeviceInfo?: { ipAddress?: string } } };
  if (!e.transactionId) return 'no transaction id';
  if (typeof e.conversionValue !== 'number' || !Number.isFinite(e.conversionValue) || e.conversionValue < 0) return 'the sale value is not a positive number';
  if (!/^[A-Z]{3}$/.test(e.currency ?? '')) return `the currency ${JSON.stringify(e.currency)} is not an ISO 4217 code`;
  if (!e.eventTimestamp || e.eventTimestamp.seconds * 1000 > now + 5 * 60_000) return 'the sale time is in the future';
  const ids = e.adIdentifiers ?? {};
  for (const key of ['gclid', 'gbraid', 'wbraid'] as const) {
    // Click ids are URL-safe base64; anything else was mangled on the way (copied with spaces, cut).
    if (ids[key] !== undefined && !/^[A-Za-z0-9_-]{1,1000}$/.test(ids[key]!)) return `the ${key} is malformed`;
  }
  const ip = ids.landingPageDeviceInfo?.ipAddress;
  if (ip !== undefined && isIP(ip) === 0) return 'the landing page IP address is malformed';
  return undefined;
}

/** Plain words for Google's processing error reasons (ProcessingErrorReason in the API). */
const REASONS: Record<string, string> = {
  EVENT_TOO_OLD: 'the sale is older than the conversion action accepts',
  DENIED_CONSENT: 'the person denied consent',
  NO_CONSENT: 'no consent was given',
  UNKNOWN_CONSENT: 'consent is unknown',
  DUPLICATE_GCLID: 'a conversion with this click id was already imported',
  DUPLICATE_TRANSACTION_ID: 'this sale was already imported',
  INVALID_GCLID: 'Google does not know this click id',
  INVALID_GBRAID: 'Google does not know this gbraid',
  INVALID_WBRAID: 'Google does not know this wbraid',
  INTERNAL_ERROR: 'an internal error at Google',
  DESTINATION_ACCOUNT_ENHANCED_CONVERSIONS_TERMS_NOT_SIGNED: 'the enhanced conversions terms are not accepted in the Google Ads account',
  INVALID_EVENT: 'the event is invalid',
};

const v1 = protos.google.ads.datamanager.v1;

function reasonText(reason: unknown): string {
  const full = typeof reason === 'number' ? (v1.ProcessingErrorReason as unknown as Record<number, string>)[reason] ?? `reason ${reason}` : String(reason);
  const name = full.replace(/^PROCESSING_ERROR_REASON_/, '');
  return REASONS[name] ?? name.toLowerCase().replaceAll('_', ' ');
}

/** Our status and words for one RequestStatusPerDestination (enums as names or numbers). */
export function processingOutcome(status: { requestStatus?: unknown; errorInfo?: { errorCounts?: Array<{ recordCount?: unknown; reason?: unknown }> } } | undefined): { status: RemoteStatus; detail?: string } {
  const name = typeof status?.requestStatus === 'number' ? (v1.RequestStatusPerDestination.RequestStatus as unknown as Record<number, string>)[status.requestStatus] : String(status?.requestStatus ?? '');
  const errors = (status?.errorInfo?.errorCounts ?? []).map((c) => `${Number(c.recordCount ?? 0)} × ${reasonText(c.reason)}`).join('; ');
  if (name === 'SUCCESS') return { status: 'accepted', detail: 'processed by Google' };
  if (name === 'FAILED') return { status: 'rejected', detail: `Google could not process it: ${errors || 'no reason given'}` };
  if (name === 'PARTIAL_SUCCESS') return { status: 'partial', detail: `Google processed part of the request this sale was in; failed: ${errors || 'no reason given'}` };
  return { status: 'processing' };
}

/**
 * `validateOnly`: the destination for test leads (`google-test`): Google checks their events
 * without recording a conversion, so a test lead proves the setup and never counts.
 */
export function google(config: GoogleConfig, leadById: (id: string) => Lead | undefined, validateOnly = false): BatchDestination<GoogleEvent> {
  const auth = new OAuth2Client({ clientId: config.clientId, clientSecret: config.clientSecret, endpoints: { oauth2TokenUrl: config.tokenUrl } });
  auth.setCredentials({ refresh_token: config.refreshToken });
  const endpoint = new URL(config.endpoint);
  const client = new IngestionServiceClient({
    fallback: true, // HTTP/JSON instead of gRPC
    apiEndpoint: endpoint.hostname,
    port: Number(endpoint.port) || (endpoint.protocol === 'https:' ? 443 : 80),
    protocol: endpoint.protocol.replace(':', ''),
    authClient: auth,
  } as ConstructorParameters<typeof IngestionServiceClient>[0]);
  const account = (id: string) => ({ accountType: 'GOOGLE_ADS', accountId: id });
  const destination = {
    operatingAccount: account(config.customerId),
    ...(config.loginCustomerId ? { loginAccount: account(config.loginCustomerId) } : {}),
    productDestinationId: config.conversionActionId,
  };

  return {
    name: validateOnly ? 'google-test' : 'google',
    batchSize: GOOGLE_BATCH_SIZE,
    jobsFor(lead, change): NewJob[] {
      // A sale, or a restated value (a correction, a refund, LOST after SOLD), is one Google event
      // under the lead's transaction id; each change of the lead is one job (updated_at tells them
      // apart). Test leads go only to google-test: checked by Google, never recorded.
      if (change.kind !== 'sale' || Boolean(lead.is_test) !== validateOnly) return [];
      const { value, currency, at } = change.sale;
      return [{ dedupKey: `google:${lead.id}:${value}:${currency}:${at}:${lead.updated_at}`, payload: { leadId: lead.id } }];
    },
    build(job: Job) {
      const { leadId } = JSON.parse(job.payload) as GoogleJob;
      const lead = leadById(leadId);
      if (!lead) return { outcome: 'permanent', response: 'the lead was erased' };
      const built = saleEvent(lead, config.clickWindowDays, validateOnly);
      if ('reason' in built) return { outcome: 'skipped', response: `not sent: ${built.reason}` }; // by design, not a failure
      const problem = googleProblem(built.event);
      return problem ? { outcome: 'permanent', response: `not sent: ${problem}` } : built;
    },
    async post(events: GoogleEvent[]): Promise<DeliveryResult> {
      try {
        // Retries are the outbox's (backoff, dead letter, visible); the client's configuration
        // marks IngestEvents non-idempotent, so it does not retry on its own.
        const [response] = await client.ingestEvents({ destinations: [destination], encoding: 'HEX', events, ...(validateOnly ? { validateOnly: true } : {}) } as never, { timeout: 25_000 });
        if (validateOnly) return { outcome: 'ok', httpStatus: 200, response: 'validated by Google: a test lead, no conversion recorded' };
        const requestId = (response as { requestId?: string }).requestId || undefined;
        return { outcome: 'ok', httpStatus: 200, response: `accepted in a request of ${events.length} event(s)${requestId ? `, request ${requestId}` : ''}`, remoteRef: requestId };
      } catch (err) {
        return classify(err);
      }
    },
    async processingOutcome(requestId: string) {
      const [response] = await client.retrieveRequestStatus({ requestId }, { timeout: 25_000 });
      return processingOutcome((response as { requestStatusPerDestination?: Array<Parameters<typeof processingOutcome>[0]> }).requestStatusPerDestination?.[0]);
    },
  };
}

/** Our outcome for an error of the client: its code is the HTTP status over HTTP/JSON, a gRPC status otherwise. */
export function classify(err: unknown): DeliveryResult {
  const e = err as { code?: unknown; message?: string; response?: { data?: { error?: string } } };
  const message = (e.message ?? String(err)).slice(0, 400);
  // The token endpoint refusing the refresh token or client (google-auth-library's error).
  const oauthError = e.response?.data?.error;
  if (oauthError === 'invalid_grant' || oauthError === 'invalid_client' || oauthError === 'unauthorized_client') {
    return { outcome: 'parked', response: `Google refused our OAuth credentials (${oauthError}): check GOOGLE_CLIENT_ID, GOOGLE_CLIENT_SECRET and GOOGLE_REFRESH_TOKEN` };
  }
  const code = typeof e.code === 'number' ? e.code : undefined;
  if (code === undefined || TRANSIENT_CODES.has(code) || code === 408 || code === 429 || code >= 500) return { outcome: 'transient', httpStatus: code, response: message };
  // A destination (account or conversion action) Google does not accept is our settings too.
  if (CONFIG_CODES.has(code) || /operating.?account|login.?account|product.?destination/i.test(message)) {
    return { outcome: 'parked', httpStatus: code, response: `Google refused our settings (check the GOOGLE_* settings): ${message}` };
  }
  return { outcome: 'permanent', httpStatus: code, response: `Google rejected this sale: ${message}` };
}
