// Local stand-ins for Google: the OAuth 2.0 token endpoint (refresh-token grant) and the Data
// Manager API's POST /v1/events:ingest, checking requests against the published format: bearer
// token issued here and not expired; destinations with a Google Ads operating account and a
// numeric conversion action; 1–2000 events; transactionId; RFC 3339 eventTimestamp; currency as
// ISO 4217; at most one of gclid/gbraid/wbraid; user identifiers as 64 lower-case hex with
// encoding HEX and never plain PII. Errors use Google's JSON error shape. GET
// /v1/requestStatus:retrieve answers PROCESSING on the first question about an accepted request,
// then its outcome (SUCCESS unless a test decides otherwise with `processWith`).
// The Google Ads API's POST /{version}/customers/{id}/googleAds:searchStream is here too (the
// same OAuth tokens): it checks the developer-token and login-customer-id headers, answers the
// two GAQL queries the spend sync sends (campaign costs per day over a date range; click_view for
// exactly one day within the last 90) with rows in the REST shape (camelCase, int64 as strings,
// one JSON array of batches), refuses any other query like Google does, and can be scripted to
// answer a quota error.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';

export const CLIENT = { id: 'test-client.apps.googleusercontent.com', secret: 'test-secret', refreshToken: '1//test-refresh-token' };

/** The GOOGLE_* settings of a server that sends to this stand-in (customer 123-456-7890, conversion action 55555). */
export function googleEnv(google: { origin: string; tokenUrl: string }): Record<string, string> {
  return {
    GOOGLE_CLIENT_ID: CLIENT.id,
    GOOGLE_CLIENT_SECRET: CLIENT.secret,
    GOOGLE_REFRESH_TOKEN: CLIENT.refreshToken,
    GOOGLE_ADS_CUSTOMER_ID: '123-456-7890',
    GOOGLE_CONVERSION_ACTION_ID: '55555',
    GOOGLE_DATAMANAGER_ENDPOINT: google.origin,
    GOOGLE_OAUTH_TOKEN_URL: google.tokenUrl,
  };
}

type Scripted = { status: number; code: string; message: string } | 'hold';

export interface IngestedRequest {
  at: number;
  body: Record<string, any>;
}

const HEX64 = /^[0-9a-f]{64}$/;
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

type RequestStatus = { requestStatus: string; errorInfo?: { errorCounts: Array<{ recordCount: string; reason: string }> } };

export async function startGoogle(options: { tokenLifetimeSeconds?: number } = {}) {
  let refreshTokenValid = true;
  /** The Google Ads API's data: campaign costs per day, and clicks per day (click_view). */
  const ads = {
    developerToken: 'test-developer-token',
    loginCustomerId: undefined as string | undefined,
    currency: 'TRY',
    campaignDays: [] as Array<{ day: string; campaignId: string; campaign: string; costMicros: number; clicks: number; impressions: number }>,
    clicks: [] as Array<{ day: string; gclid: string; campaignId: string; campaign: string; adGroupId: string; adGroup: string; keyword: string }>,
    queries: [] as string[],
    /** Answers to give before serving again: a quota error. */
    script: [] as Array<'quota'>,
  };
  /** Conversion actions the operating account has; undefined = any id is one. */
  let conversionActions: Set<string> | undefined;
  /** Events Google refuses at validation (the whole request fails), by the reason to give. */
  let refuse: (event: Record<string, any>) => string | undefined = () => undefined;
  let processWith: (events: Array<Record<string, any>>) => RequestStatus = () => ({ requestStatus: 'SUCCESS' });
  const outcomes = new Map<string, { asked: number; status: RequestStatus; destination: unknown }>();
  const statusQueries: string[] = [];
  const tokens = new Map<string, number>(); // access token → expiry (ms)
  const tokenRequests: number[] = [];
  const requests: IngestedRequest[] = [];
  /** Events of validateOnly requests: checked like the others, never recorded as conversions. */
  const validated: Array<Record<string, any>> = [];
  /** Requests refused as malformed, with the reason: a test failing on them shows what was wrong. */
  const rejected: Array<{ body: unknown; problem: string }> = [];
  const script: Scripted[] = [];
  const held: ServerResponse[] = [];
  /** Requests failed because of a refused event: how many events they held, and which one. */
  const refused: Array<{ events: number; transactionId: string }> = [];

  const error = (res: ServerResponse, status: number, statusText: string, message: string) => {
    res.writeHead(status, { 'Content-Type': 'application/json; charset=UTF-8' });
    res.end(JSON.stringify({ error: { code: status, message, status: statusText } }));
  };

  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', 'http://x');

    if (url.pathname === '/token') {
      const form = new URLSearchParams(raw);
      if (form.get('grant_type') !== 'refresh_token' || !refreshTokenValid || form.get('refresh_token') !== CLIENT.refreshToken || form.get('client_id') !== CLIENT.id || form.get('client_secret') !== CLIENT.secret) {
        res.writeHead(400, { 'Content-Type': 'application/json' });
        return res.end(JSON.stringify({ error: 'invalid_grant', error_description: 'Bad Request' }));
      }
      const token = `ya29.${randomUUID()}`;
      const lifetime = options.tokenLifetimeSeconds ?? 3599;
      tokens.set(token, Date.now() + lifetime * 1000);
      tokenRequests.push(Date.now());
      res.writeHead(200, { 'Content-Type': 'application/json' });
      return res.end(JSON.stringify({ access_token: token, expires_in: lifetime, scope: 'https://www.googleapis.com/auth/datamanager', token_type: 'Bearer' }));
    }

    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const expiry = bearer === undefined ? undefined : tokens.get(bearer);
    const authenticated = expiry !== undefined && expiry >= Date.now();
    if (req.method === 'GET' && url.pathname === '/v1/requestStatus:retrieve') {
      if (!authenticated) return error(res, 401, 'UNAUTHENTICATED', 'Request had invalid authentication credentials.');
      const id = url.searchParams.get('requestId') ?? '';
      statusQueries.push(id);
      const known = outcomes.get(id);
      if (!known) return error(res, 404, 'NOT_FOUND', `request ${id} not found`);
      const status = known.asked++ === 0 ? { requestStatus: 'PROCESSING' } : known.status;
      res.writeHead(200, { 'Content-Type': 'application/json; charset=UTF-8' });
      return res.end(JSON.stringify({ requestStatusPerDestination: [{ destination: known.destination, ...status }] }));
    }
    const adsPath = /^\/(v\d+(?:_\d+)?)\/customers\/(\d+)\/googleAds:searchStream$/.exec(url.pathname);
    if (req.method === 'POST' && adsPath) return searchStream(req, res, raw, authenticated);
    if (req.method !== 'POST' || url.pathname !== '/v1/events:ingest') return error(res, 404, 'NOT_FOUND', `no method ${req.method} ${url.pathname}`);
    if (!authenticated) return error(res, 401, 'UNAUTHENTICATED', 'Request had invalid authentication credentials.');
    let body: Record<string, any>;
    try {
      body = JSON.parse(raw);
    } catch {
      return error(res, 400, 'INVALID_ARGUMENT', 'Invalid JSON payload received.');
    }
    normaliseEnums(body);
    const problem = validate(body);
    if (problem) {
      rejected.push({ body, problem });
      return error(res, 400, 'INVALID_ARGUMENT', problem);
    }
    const action = String(body.destinations[0]?.productDestinationId);
    if (conversionActions && !conversionActions.has(action)) return error(res, 400, 'INVALID_ARGUMENT', `Product destination not found or not accessible: conversion action ${action}`);
    // Fast fail: one refused event fails the request, naming it like google.rpc.BadRequest does.
    for (const [i, e] of (body.events as Array<Record<string, any>>).entries()) {
      const reason = refuse(e);
      if (reason === undefined) continue;
      refused.push({ events: body.events.length, transactionId: e.transactionId });
      res.writeHead(400, { 'Content-Type': 'application/json; charset=UTF-8' });
      return res.end(JSON.stringify({ error: { code: 400, message: `events[${i}]: ${reason}`, status: 'INVALID_ARGUMENT', details: [{ '@type': 'type.googleapis.com/google.rpc.BadRequest', fieldViolations: [{ field: `events[${i}]`, description: reason }] }] } }));
    }
    if (body.validateOnly === true) {
      // Checked, not executed: no conversion, no request to ask about.
      validated.push(...(body.events as Array<Record<string, any>>));
      res.writeHead(200, { 'Content-Type': 'application/json; charset=UTF-8' });
      return res.end('{}');
    }
    requests.push({ at: Date.now(), body });
    const next = script.shift();
    if (next === 'hold') return void held.push(res);
    if (next) return error(res, next.status, next.code, next.message);
    const requestId = randomUUID();
    outcomes.set(requestId, { asked: 0, status: processWith(body.events), destination: body.destinations[0] });
    res.writeHead(200, { 'Content-Type': 'application/json; charset=UTF-8' });
    res.end(JSON.stringify({ requestId }));
  });
  /** googleAds:searchStream, answered as one JSON array of batches (or a Google error). */
  function searchStream(req: IncomingMessage, res: ServerResponse, raw: string, authenticated: boolean) {
    const adsError = (status: number, statusText: string, message: string, errorCode: Record<string, string>) => {
      res.writeHead(status, { 'Content-Type': 'application/json; charset=UTF-8' });
      res.end(JSON.stringify([{ error: { code: status, message, status: statusText, details: [{ '@type': 'type.googleapis.com/google.ads.googleads.v26.errors.GoogleAdsFailure', errors: [{ errorCode, message }] }] } }]));
    };
    if (!authenticated) return adsError(401, 'UNAUTHENTICATED', 'Request is missing required authentication credential.', { authenticationError: 'AUTHENTICATION_ERROR' });
    if (req.headers['developer-token'] !== ads.developerToken) return adsError(401, 'UNAUTHENTICATED', 'The developer token is not valid.', { authenticationError: 'DEVELOPER_TOKEN_INVALID' });
    if (ads.loginCustomerId !== undefined && req.headers['login-customer-id'] !== ads.loginCustomerId) return adsError(403, 'PERMISSION_DENIED', "User doesn't have permission to access customer. Note: If you're accessing a client customer, the manager's customer id must be set in the 'login-customer-id' header.", { authorizationError: 'USER_PERMISSION_DENIED' });
    if (ads.script.shift() === 'quota') return adsError(429, 'RESOURCE_EXHAUSTED', 'Too many requests. Retry in 30 seconds.', { quotaError: 'RESOURCE_TEMPORARILY_EXHAUSTED' });
    let query = '';
    try {
      query = String((JSON.parse(raw) as { query?: unknown }).query ?? '');
    } catch {
      return error(res, 400, 'INVALID_ARGUMENT', 'Invalid JSON payload received.');
    }
    ads.queries.push(query);
    const campaigns = /^SELECT campaign\.id, campaign\.name, segments\.date, metrics\.cost_micros, metrics\.clicks, metrics\.impressions, customer\.currency_code FROM campaign WHERE segments\.date BETWEEN '(\d{4}-\d{2}-\d{2})' AND '(\d{4}-\d{2}-\d{2})'$/.exec(query);
    const clickDay = /^SELECT click_view\.gclid, click_view\.keyword_info\.text, campaign\.id, campaign\.name, ad_group\.id, ad_group\.name FROM click_view WHERE segments\.date = '(\d{4}-\d{2}-\d{2})'$/.exec(query);
    let results: unknown[];
    if (campaigns) {
      const [, from, to] = campaigns;
      results = ads.campaignDays
        .filter((c) => c.day >= from! && c.day <= to! && (c.costMicros > 0 || c.impressions > 0))
        .map((c) => ({
          customer: { resourceName: 'customers/1234567890', currencyCode: ads.currency },
          campaign: { resourceName: `customers/1234567890/campaigns/${c.campaignId}`, name: c.campaign, id: c.campaignId },
          metrics: { clicks: String(c.clicks), costMicros: String(c.costMicros), impressions: String(c.impressions) },
          segments: { date: c.day },
        }));
    } else if (clickDay) {
      const day = clickDay[1]!;
      const age = (Date.now() - Date.parse(`${day}T00:00:00Z`)) / 86_400_000;
      if (age > 90) return adsError(400, 'INVALID_ARGUMENT', 'Date is older than 90 days.', { queryError: 'DATE_OUTSIDE_RANGE' });
      results = ads.clicks
        .filter((c) => c.day === day)
        .map((c) => ({
          campaign: { resourceName: `customers/1234567890/campaigns/${c.campaignId}`, name: c.campaign, id: c.campaignId },
          adGroup: { resourceName: `customers/1234567890/adGroups/${c.adGroupId}`, id: c.adGroupId, name: c.adGroup },
          clickView: { resourceName: `customers/1234567890/clickViews/${day}~${c.gclid}`, gclid: c.gclid, keywordInfo: { text: c.keyword } },
        }));
    } else {
      return adsError(400, 'INVALID_ARGUMENT', `Error in query: unexpected input ${query.slice(0, 40)}.`, { queryError: 'UNEXPECTED_INPUT' });
    }
    res.writeHead(200, { 'Content-Type': 'application/json; charset=UTF-8' });
    res.end(JSON.stringify(results.length > 0 ? [{ results, fieldMask: 'campaign.id,campaign.name', requestId: randomUUID() }] : [{ fieldMask: 'campaign.id,campaign.name', requestId: randomUUID() }]));
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const origin = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  return {
    origin,
    tokenUrl: `${origin}/token`,
    requests,
    rejected,
    tokenRequests,
    refused,
    statusQueries,
    events: () => requests.flatMap((r) => r.body.events as Array<Record<string, any>>),
    validated,
    script: (...answers: Scripted[]) => script.push(...answers),
    /** Answers the held requests (as accepted), in order. */
    release: () => {
      for (const res of held.splice(0)) {
        const requestId = randomUUID();
        outcomes.set(requestId, { asked: 0, status: { requestStatus: 'SUCCESS' }, destination: undefined });
        res.writeHead(200, { 'Content-Type': 'application/json; charset=UTF-8' });
        res.end(JSON.stringify({ requestId }));
      }
    },
    /** The token endpoint refuses (invalid_grant) or accepts our refresh token again. */
    setRefreshTokenValid: (valid: boolean) => {
      refreshTokenValid = valid;
      if (!valid) tokens.clear();
    },
    refuseEvents: (rule: typeof refuse) => (refuse = rule),
    /** Only these conversion action ids exist in the account (undefined: any). */
    setConversionActions: (ids: string[] | undefined) => (conversionActions = ids && new Set(ids)),
    /** The Google Ads API's data and the requests it got (searchStream). */
    ads,
    processWith: (rule: typeof processWith) => (processWith = rule),
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of held) res.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export const UNAVAILABLE = { status: 503, code: 'UNAVAILABLE', message: 'The service is currently unavailable.' } as const;

// Proto3 JSON lets a client write an enum as its name or its number (the official client sends
// numbers); the server reads both. Names from destination.proto, consent.proto, event.proto and
// ingestion_service.proto.
const ACCOUNT_TYPES = ['ACCOUNT_TYPE_UNSPECIFIED', 'GOOGLE_ADS', 'DISPLAY_VIDEO_PARTNER', 'DISPLAY_VIDEO_ADVERTISER', 'DATA_PARTNER'];
const CONSENT = ['CONSENT_STATUS_UNSPECIFIED', 'CONSENT_GRANTED', 'CONSENT_DENIED'];
const EVENT_SOURCES: Record<number, string> = { 0: 'EVENT_SOURCE_UNSPECIFIED', 1: 'WEB', 2: 'APP', 3: 'IN_STORE', 4: 'PHONE', 5: 'OTHER', 6: 'MESSAGE' };
const ENCODINGS = ['ENCODING_UNSPECIFIED', 'HEX', 'BASE64'];

function normaliseEnums(body: Record<string, any>): void {
  const name = (value: unknown, names: string[] | Record<number, string>) => (typeof value === 'number' ? (names as Record<number, string>)[value] ?? value : value);
  for (const d of Array.isArray(body.destinations) ? body.destinations : []) {
    for (const account of [d?.operatingAccount, d?.loginAccount, d?.linkedAccount]) if (account) account.accountType = name(account.accountType, ACCOUNT_TYPES);
  }
  body.encoding = name(body.encoding, ENCODINGS);
  for (const e of Array.isArray(body.events) ? body.events : []) {
    if (e?.consent) for (const key of ['adUserData', 'adPersonalization']) e.consent[key] = name(e.consent[key], CONSENT);
    if (e && 'eventSource' in e) e.eventSource = name(e.eventSource, EVENT_SOURCES);
  }
}

function validate(body: Record<string, any>): string | undefined {
  const destinations = body.destinations;
  if (!Array.isArray(destinations) || destinations.length === 0) return 'destinations is required';
  for (const d of destinations) {
    if (d?.operatingAccount?.accountType !== 'GOOGLE_ADS' || !/^\d+$/.test(d.operatingAccount.accountId ?? '')) return 'destinations.operating_account must be a Google Ads account id';
    if (d.loginAccount && !/^\d+$/.test(d.loginAccount.accountId ?? '')) return 'destinations.login_account.account_id must be numeric';
    if (!/^\d+$/.test(d.productDestinationId ?? '')) return 'destinations.product_destination_id must be a conversion action id';
  }
  if (!Array.isArray(body.events) || body.events.length === 0 || body.events.length > 2000) return 'events must hold 1 to 2000 events';
  if (body.encoding !== 'HEX') return 'encoding must be HEX for hex-encoded hashes';
  for (const [i, e] of body.events.entries()) {
    const at = `events[${i}]`;
    if (typeof e.transactionId !== 'string' || e.transactionId === '') return `${at}.transaction_id is required`;
    if (typeof e.eventTimestamp !== 'string' || !RFC3339.test(e.eventTimestamp)) return `${at}.event_timestamp must be RFC 3339`;
    if (typeof e.conversionValue !== 'number' || !(e.conversionValue >= 0)) return `${at}.conversion_value must be a number`;
    if (!/^[A-Z]{3}$/.test(e.currency ?? '')) return `${at}.currency must be ISO 4217`;
    const ids = ['gclid', 'gbraid', 'wbraid'].filter((k) => e.adIdentifiers?.[k]);
    if (ids.length > 1) return `${at}.ad_identifiers: only one of gclid, gbraid and wbraid`;
    for (const identifier of e.userData?.userIdentifiers ?? []) {
      const values = Object.values(identifier) as string[];
      if (values.length !== 1) return `${at}.user_data: each identifier has exactly one field`;
      if (!HEX64.test(values[0]!)) return `${at}.user_data: identifiers must be SHA-256 hashes in lower-case hex (no plain PII)`;
    }
    if (ids.length === 0 && !(e.userData?.userIdentifiers?.length > 0)) return `${at}: an ad identifier or user data is required`;
    for (const key of ['adUserData', 'adPersonalization']) {
      // ConsentStatus: GRANTED, DENIED, or unspecified (absent; proto3 JSON omits the default).
      if (e.consent && e.consent[key] !== undefined && !['CONSENT_GRANTED', 'CONSENT_DENIED', 'CONSENT_STATUS_UNSPECIFIED'].includes(e.consent[key])) return `${at}.consent.${key} is invalid`;
    }
  }
  return undefined;
}
