// The owner's API over leads, sales, deliveries and push subscriptions: bearer ADMIN_TOKEN for
// scripts, or the owner's session (with the CSRF header on changes) for the PWA.
import type { ClickHouse } from '../events/clickhouse.ts';
import { json, problem, type Reply } from '../http/reply.ts';
import type { Request, Route } from '../http/server.ts';
import { LEAD_STATUSES, type Lead, type LeadStatus } from '../db/leads.ts';
import { JOB_STATES, type Job, type JobState } from '../db/outbox.ts';
import type { Storage } from '../db/storage.ts';
import { normalisePhone } from '../leads/lead.ts';
import type { Notifier } from '../notify/notify.ts';
import type { OutboxWorker } from '../outbox/worker.ts';
import { KEEP_OFFLINE, ownerOnly, type AdminAuth } from './auth.ts';
import { readJsonObject } from '../http/json.ts';
import type { PushEndpoints } from '../destinations/push-endpoint.ts';
import { notSentReason } from '../destinations/not-sent.ts';

export interface LeadAdminDeps {
  auth: AdminAuth;
  storage: Pick<Storage, 'leads' | 'outbox' | 'push'>;
  notifier: Notifier;
  worker: OutboxWorker;
  clickhouse: ClickHouse;
  defaultCountry: string | undefined;
  currency: string;
  vapidPublicKey: string;
  pushEndpoints: PushEndpoints;
}

const MAX_NOTE = 5000;
const MAX_SALE_VALUE = 1e9;
const JOURNEY_EVENTS = 200;
/** A sale may be dated back this far (offline conversion imports accept up to 90 days). */
const MAX_SALE_AGE_MS = 90 * 24 * 3600 * 1000;

export function leadAdminRoutes(deps: LeadAdminDeps): Route[] {
  const owner = [ownerOnly(deps.auth)];
  return [
    { method: 'get', path: '/api/admin/leads', guards: owner, handler: (req) => listLeads(deps, req) },
    { method: 'get', path: '/api/admin/leads/:id', guards: owner, handler: (req) => leadDetail(deps, req.params[0]!) },
    { method: 'patch', path: '/api/admin/leads/:id', guards: owner, handler: (req) => patchLead(deps, req) },
    { method: 'post', path: '/api/admin/leads/:id/sale', guards: owner, handler: (req) => postSale(deps, req) },
    { method: 'post', path: '/api/admin/sales', guards: owner, handler: (req) => postSaleByContact(deps, req) },
    { method: 'get', path: '/api/admin/calls/match', guards: owner, handler: (req) => matchCall(deps, req) },
    { method: 'get', path: '/api/admin/deliveries', guards: owner, handler: (req) => listDeliveries(deps, req) },
    { method: 'post', path: '/api/admin/deliveries/:id/retry', guards: owner, handler: (req) => retryDelivery(deps, req.params[0]!) },
    { method: 'get', path: '/api/admin/push-subscriptions/vapid-public-key', guards: owner, handler: () => json(200, { publicKey: deps.vapidPublicKey }) },
    { method: 'get', path: '/api/admin/push-subscriptions', guards: owner, handler: () => listSubscriptions(deps) },
    { method: 'post', path: '/api/admin/push-subscriptions', guards: owner, handler: (req) => addSubscription(deps, req) },
    { method: 'post', path: '/api/admin/push-subscriptions/test', guards: owner, handler: () => testPush(deps) },
    { method: 'del', path: '/api/admin/push-subscriptions/:id', guards: owner, handler: (req) => removeSubscription(deps, req.params[0]!) },
  ];
}

/** What the owner sees of a lead: everything but the client IP, which only ad platforms get. */
function leadView(lead: Lead) {
  const { client_ip: _ip, client_net: _net, ...view } = lead;
  return { ...view, is_test: lead.is_test === 1, consent_ads: lead.consent_ads === null ? null : lead.consent_ads === 1, consent_personalization: lead.consent_personalization === null ? null : lead.consent_personalization === 1 };
}

function listLeads(deps: LeadAdminDeps, req: Request): Reply {
  const q = new URLSearchParams(req.query);
  const status = q.get('status') || undefined;
  if (status !== undefined && !LEAD_STATUSES.includes(status as LeadStatus)) return invalid('status', `must be one of ${LEAD_STATUSES.join(', ')}`);
  const limit = q.has('limit') ? Number(q.get('limit')) : 50;
  if (!Number.isInteger(limit) || limit < 1 || limit > 200) return invalid('limit', 'must be an integer from 1 to 200');
  const page = deps.storage.leads.list({ status: status as LeadStatus | undefined, q: q.get('q')?.trim().slice(0, 100) || undefined, cursor: q.get('cursor') || undefined, limit });
  return json(200, { leads: page.leads.map(leadView), nextCursor: page.nextCursor ?? null }, KEEP_OFFLINE);
}

async function leadDetail(deps: LeadAdminDeps, id: string): Promise<Reply> {
  const lead = deps.storage.leads.get(id);
  if (!lead) return notFound('lead');
  const deliveries = deps.storage.outbox.list({ leadId: id }).map((job) => deliveryView(deps, job));
  let journey: unknown[] = [];
  let journeyError: string | undefined;
  if (lead.visitor_id) {
    try {
      journey = await deps.clickhouse.query(
        'SELECT event_time, type, name, url, referrer_host, utm_campaign, city, device FROM events WHERE visitor_id = {visitor:String} AND type != {lead:String} ORDER BY event_time DESC LIMIT {limit:UInt32}',
        { visitor: lead.visitor_id, lead: 'lead', limit: JOURNEY_EVENTS },
      );
    } catch (err) {
      journeyError = err instanceof Error ? err.message.split('\n', 1)[0] : String(err); // the lead itself still shows
    }
  }
  return json(200, { lead: leadView(lead), history: deps.storage.leads.history(id), deliveries, journey: journey.reverse(), journeyError }, KEEP_OFFLINE);
}

async function patchLead(deps: LeadAdminDeps, req: Request): Promise<Reply> {
  const body = readJsonObject(req.body);
  if (body === undefined) return problem(400, 'invalid-json', 'Body is not a JSON object');
  const errors: Record<string, string> = {};
  const changes: { status?: LeadStatus; phone?: string; note?: string; quote_value?: number } = {};
  if (body.status !== undefined) {
    if (typeof body.status === 'string' && LEAD_STATUSES.includes(body.status as LeadStatus) && body.status !== 'SOLD') changes.status = body.status as LeadStatus;
    else errors.status = body.status === 'SOLD' ? 'mark a sale with POST /api/admin/leads/:id/sale (it needs the value)' : `must be one of ${LEAD_STATUSES.join(', ')}`;
  }
  if (body.phone !== undefined) {
    const phone = typeof body.phone === 'string' ? normalisePhone(body.phone, deps.defaultCountry) : undefined;
    if (phone) changes.phone = phone;
    else errors.phone = 'is not a valid phone number';
  }
  if (body.note !== undefined) {
    if (typeof body.note === 'string' && body.note.length <= MAX_NOTE) changes.note = body.note;
    else errors.note = `must be text of at most ${MAX_NOTE} characters`;
  }
  if (body.quote !== undefined) {
    // A price sent to the person (the app's "Send price"): kept to fill in the sale later.
    if (typeof body.quote === 'number' && Number.isFinite(body.quote) && body.quote > 0 && body.quote <= MAX_SALE_VALUE) changes.quote_value = Math.round(body.quote * 100) / 100;
    else errors.quote = `must be a number above 0 and at most ${MAX_SALE_VALUE}`;
  }
  if (Object.keys(errors).length > 0) return problem(422, 'invalid-change', 'The change has invalid fields', 'See errors.', { errors });
  const lead = deps.storage.leads.update(req.params[0]!, changes, 'owner');
  queueMicrotask(() => deps.worker.wake()); // LOST after SOLD restates the uploads: they go out now
  return lead ? json(200, { lead: leadView(lead) }) : notFound('lead');
}

async function postSale(deps: LeadAdminDeps, req: Request): Promise<Reply> {
  const body = readJsonObject(req.body);
  if (body === undefined) return problem(400, 'invalid-json', 'Body is not a JSON object');
  return recordSale(deps, req.params[0]!, body, 'owner');
}

/**
 * POST /api/admin/sales, for CRMs and automation tools: the lead is found by `leadId`, or the most
 * recent one with that `phone`, `email` or WhatsApp `refCode`; then the same as marking it sold.
 */
async function postSaleByContact(deps: LeadAdminDeps, req: Request): Promise<Reply> {
  const body = readJsonObject(req.body);
  if (body === undefined) return problem(400, 'invalid-json', 'Body is not a JSON object');
  const text = (key: string) => (typeof body[key] === 'string' && (body[key] as string).trim() !== '' ? (body[key] as string).trim() : undefined);
  let id = text('leadId');
  if (id === undefined) {
    const phone = text('phone') === undefined ? undefined : normalisePhone(text('phone')!, deps.defaultCountry);
    const email = text('email')?.toLowerCase();
    const refCode = text('refCode')?.toUpperCase();
    if (!phone && !email && !refCode) return problem(422, 'invalid-sale', 'Which lead?', 'Send leadId, or a phone, email or refCode of the lead.', { errors: { lead: 'leadId, phone, email or refCode is required' } });
    id = deps.storage.leads.findByContact({ phone, email, refCode })?.id;
    if (id === undefined) return notFound('lead with that phone, email or code');
  }
  return recordSale(deps, id, body, 'api');
}

async function recordSale(deps: LeadAdminDeps, id: string, body: Record<string, unknown>, actor: string): Promise<Reply> {
  const errors: Record<string, string> = {};
  const value = body.value;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || value > MAX_SALE_VALUE) errors.value = `must be a number above 0 and at most ${MAX_SALE_VALUE}`;
  const currency = body.currency === undefined ? deps.currency : body.currency;
  if (typeof currency !== 'string' || !/^[A-Z]{3}$/.test(currency)) errors.currency = 'must be an ISO 4217 code like TRY or EUR';
  const lead = deps.storage.leads.get(id);
  if (!lead) return notFound('lead');
  const now = Date.now();
  // Without a date, a sale already recorded keeps its time: the same sale sent again (a retried
  // CRM call, a second tap) is the same sale, and changes nothing.
  let at = lead.sold_at ?? now;
  if (body.at !== undefined) {
    at = typeof body.at === 'string' ? Date.parse(body.at) : typeof body.at === 'number' ? body.at : NaN;
    if (!Number.isFinite(at) || at > now + 5 * 60_000 || at < now - MAX_SALE_AGE_MS) errors.at = 'must be a time within the last 90 days (ISO 8601 or ms)';
  }
  if (Object.keys(errors).length > 0) return problem(422, 'invalid-sale', 'The sale has invalid fields', 'See errors.', { errors });
  const result = deps.storage.leads.recordSale(id, { value: Math.round((value as number) * 100) / 100, currency: currency as string, at }, actor);
  if (!result) return notFound('lead');
  queueMicrotask(() => deps.worker.wake()); // jobs the sale added (conversions) go out now
  return json(result.changed ? 201 : 200, { lead: leadView(result.lead) });
}

/** What a delivery carries, for the owner: Meta's Lead or Purchase, Google's sale, a notification. */
function deliveryEvent(job: Job): string {
  if (job.dedup_key.startsWith('meta:lead:')) return 'Lead';
  if (job.dedup_key.startsWith('meta:purchase:')) return 'Purchase';
  if (job.destination.startsWith('google')) return 'sale';
  return 'notification';
}

/** Call and WhatsApp clicks that can have made a call from this number: the last 48 hours' without a number; and the lead that has it already, if any. */
function matchCall(deps: LeadAdminDeps, req: Request): Reply {
  const raw = new URLSearchParams(req.query).get('phone') ?? '';
  const phone = normalisePhone(raw, deps.defaultCountry);
  if (!phone) return invalid('phone', 'is not a phone number');
  const known = deps.storage.leads.findByContact({ phone });
  const candidates = deps.storage.leads.contactClicksWithoutPhone(Date.now() - 48 * 3_600_000).map(leadView);
  return json(200, { phone, known: known ? leadView(known) : null, candidates });
}

function deliveryView(deps: LeadAdminDeps, job: Job) {
  const { payload: _payload, ...view } = job;
  const attemptLog = deps.storage.outbox.attempts(job.id);
  const described = deps.worker.describe(job, attemptLog.at(-1)?.outcome);
  const lead = job.lead_id ? deps.storage.leads.get(job.lead_id) : undefined;
  return {
    ...view,
    ...described,
    event: deliveryEvent(job),
    // Left out on purpose: which reason, so the app can say it in the owner's language.
    notSent: notSentReason(job.last_error),
    // A retry can change something only when the far side failed us (not when we chose not to send).
    retryable: job.state === 'dead' && !(job.last_error ?? '').startsWith('not sent:'),
    lead: lead ? { id: lead.id, name: lead.name, phone: lead.phone, source: lead.source } : null,
    attemptLog,
  };
}

function listDeliveries(deps: LeadAdminDeps, req: Request): Reply {
  const state = new URLSearchParams(req.query).get('state') || undefined;
  if (state !== undefined && !JOB_STATES.includes(state as JobState)) return invalid('state', `must be one of ${JOB_STATES.join(', ')}`);
  return json(200, { deliveries: deps.storage.outbox.list({ state: state as JobState | undefined }).map((job) => deliveryView(deps, job)), counts: deps.storage.outbox.counts() }, KEEP_OFFLINE);
}

function retryDelivery(deps: LeadAdminDeps, idText: string): Reply {
  const id = Number(idText);
  const job = Number.isInteger(id) ? deps.storage.outbox.get(id) : undefined;
  if (!job) return notFound('delivery');
  if (!deps.storage.outbox.retry(id)) return problem(409, 'not-dead', 'Only dead deliveries can be retried', `This delivery is ${job.state}.`);
  deps.worker.wake();
  return json(202, { delivery: deliveryView(deps, deps.storage.outbox.get(id)!) });
}

function listSubscriptions(deps: LeadAdminDeps): Reply {
  const rows = deps.storage.push.list();
  // The endpoint is a capability URL: show only which push service it belongs to.
  return json(200, { subscriptions: rows.map(({ endpoint, ...row }) => ({ ...row, service: URL.canParse(endpoint) ? new URL(endpoint).host : 'unknown' })) });
}

async function addSubscription(deps: LeadAdminDeps, req: Request): Promise<Reply> {
  const body = readJsonObject(req.body);
  const keys = body?.keys as Record<string, unknown> | undefined;
  const base64url = /^[A-Za-z0-9_-]+={0,2}$/;
  if (
    typeof body?.endpoint !== 'string' || !/^https:\/\/.{1,2000}$/.test(body.endpoint) ||
    typeof keys?.p256dh !== 'string' || !base64url.test(keys.p256dh) || keys.p256dh.length > 200 ||
    typeof keys?.auth !== 'string' || !base64url.test(keys.auth) || keys.auth.length > 100
  ) {
    return problem(422, 'invalid-subscription', 'Not a push subscription', 'Send PushSubscription.toJSON(): {endpoint: "https://…", keys: {p256dh, auth}}.');
  }
  const refused = await deps.pushEndpoints.problem(body.endpoint);
  if (refused) return problem(422, 'invalid-subscription', 'This push endpoint is not allowed', `The endpoint ${refused}: push goes only to public push services over https.`);
  const { id, added } = deps.storage.push.save({ endpoint: body.endpoint, p256dh: keys.p256dh, auth: keys.auth }, req.headers['user-agent'].slice(0, 300) || null);
  return json(added ? 201 : 200, { id });
}

/** A test notification to every device, through the outbox like a real one. */
function testPush(deps: LeadAdminDeps): Reply {
  const devices = deps.notifier.test();
  deps.worker.wake();
  return json(202, { devices });
}

function removeSubscription(deps: LeadAdminDeps, idText: string): Reply {
  return deps.storage.push.remove(Number(idText)) ? { status: 204 } : notFound('push subscription');
}

function invalid(parameter: string, message: string): Reply {
  return problem(400, 'invalid-parameter', `Invalid ${parameter}`, `${parameter} ${message}`);
}

function notFound(what: string): Reply {
  return problem(404, 'not-found', `No such ${what}`);
}
