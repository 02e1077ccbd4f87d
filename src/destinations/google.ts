// Google Ads offline conversions through the Data Manager API (POST /v1/events:ingest), with
// Google's official client (@google-ads/datamanager, HTTP/JSON transport) and an OAuth2Client on
// the refresh-token flow. One sale = one event whose transactionId is the lead id, so retries,
// replays and restated values are deduplicated by Google. The event is built from the lead as it
// is when sent (the current value), with the click id, the landing page's device, and hashed
// email/phone only with ads consent.
import { IngestionServiceClient } from '@google-ads/datamanager';
import { OAuth2Client } from 'google-auth-library';
import type { Lead, LeadStore } from '../leads/store.ts';
import type { DeliveryResult, Job } from '../outbox/outbox.ts';
import type { Destination } from './destination.ts';
import { googleEmail, googlePhone, sha256Hex } from './normalise.ts';

export interface GoogleConfig {
  clientId: string;
  clientSecret: string;
  refreshToken: string;
  customerId: string;
  loginCustomerId: string | undefined;
  conversionActionId: string;
  endpoint: string;
  tokenUrl: string;
}

export interface GoogleJob {
  leadId: string;
}

/** gRPC status codes worth retrying: UNKNOWN, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED (quota), ABORTED, INTERNAL, UNAVAILABLE. */
const TRANSIENT_CODES = new Set([2, 4, 8, 10, 13, 14]);
/** Authentication and configuration: nothing a retry of this event fixes. */
const CONFIG_CODES = new Set([7, 16]);

export type GoogleEvent = Record<string, unknown>;

/** The Data Manager event for a sold lead, or why none can be sent. */
export function saleEvent(lead: Lead): { event: GoogleEvent } | { reason: string } {
  if (lead.status !== 'SOLD' || lead.sale_value === null || lead.sold_at === null) return { reason: 'the lead is not marked sold' };
  const consent = lead.consent_ads === 1;
  const identifiers: Array<Record<string, string>> = [];
  if (consent && lead.email) identifiers.push({ emailAddress: sha256Hex(googleEmail(lead.email)) });
  if (consent && lead.phone) identifiers.push({ phoneNumber: sha256Hex(googlePhone(lead.phone)) });
  // One click identifier only: gclid, else gbraid, else wbraid (Google rejects gbraid with wbraid).
  const clickId = lead.gclid ? { gclid: lead.gclid } : lead.gbraid ? { gbraid: lead.gbraid } : lead.wbraid ? { wbraid: lead.wbraid } : undefined;
  if (!clickId && identifiers.length === 0) {
    return { reason: lead.consent_ads === 0 ? 'no click id, and no ads consent for email or phone: Google cannot match this sale' : 'no click id and no email or phone: Google cannot credit this sale' };
  }
  const device = lead.user_agent || lead.client_ip ? { userAgent: lead.user_agent ?? undefined, ipAddress: lead.client_ip ?? undefined } : undefined;
  return {
    event: {
      transactionId: lead.id,
      eventTimestamp: { seconds: Math.floor(lead.sold_at / 1000), nanos: (lead.sold_at % 1000) * 1e6 },
      conversionValue: lead.sale_value,
      currency: lead.sale_currency,
      eventSource: lead.source === 'call' || lead.source === 'whatsapp' ? 'PHONE' : 'OTHER',
      consent: { adUserData: consent ? 'CONSENT_GRANTED' : 'CONSENT_DENIED', adPersonalization: consent ? 'CONSENT_GRANTED' : 'CONSENT_DENIED' },
      ...(clickId || device ? { adIdentifiers: { ...clickId, ...(device ? { landingPageDeviceInfo: device } : {}) } } : {}),
      ...(identifiers.length > 0 ? { userData: { userIdentifiers: identifiers } } : {}),
    },
  };
}

export function google(config: GoogleConfig, store: LeadStore): Destination {
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
    name: 'google',
    async send(job: Job): Promise<DeliveryResult> {
      const { leadId } = JSON.parse(job.payload) as GoogleJob;
      const lead = store.get(leadId);
      if (!lead) return { outcome: 'permanent', response: 'the lead was erased' };
      const built = saleEvent(lead);
      if ('reason' in built) return { outcome: 'permanent', response: `not sent: ${built.reason}` };
      try {
        // Retries are the outbox's (backoff, dead letter, visible); the client's configuration
        // marks IngestEvents non-idempotent, so it does not retry on its own.
        const [response] = await client.ingestEvents({ destinations: [destination], encoding: 'HEX', events: [built.event] } as never, { timeout: 30_000 });
        return { outcome: 'ok', httpStatus: 200, response: `accepted: request ${(response as { requestId?: string }).requestId ?? ''}` };
      } catch (err) {
        const e = err as { code?: number; message?: string };
        const message = (e.message ?? String(err)).slice(0, 400);
        // Over HTTP/JSON the client reports the HTTP status as the code; over gRPC, a gRPC status.
        const code = e.code;
        if (typeof code !== 'number' || TRANSIENT_CODES.has(code) || code === 408 || code === 429 || code >= 500) return { outcome: 'transient', httpStatus: code, response: message };
        if (CONFIG_CODES.has(code) || code === 401 || code === 403) return { outcome: 'permanent', httpStatus: code, response: `Google refused our credentials (check the GOOGLE_* settings): ${message}` };
        return { outcome: 'permanent', httpStatus: code, response: `Google rejected this sale: ${message}` };
      }
    },
  };
}
