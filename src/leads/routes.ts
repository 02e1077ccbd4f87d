// Lead intake over HTTP: POST /lead (the tracker's JSON, or a plain HTML form that gets a 303 to
// the thank-you page, so it works without JavaScript) and POST /hooks/google-lead-form (Google
// Ads lead form extensions' webhook). A lead is committed to SQLite before the 2xx.
import type { GeoLocator } from '../collect/geo.ts';
import { json, problem, redirect, retryAfter, text, type Reply } from '../http/reply.ts';
import type { Request, Route } from '../http/server.ts';
import type { LeadStore } from '../db/leads.ts';
import { attributionFromCookies, fieldsFromForm, fieldsFromJson, newLead, normaliseEmail, normalisePhone, parseLead, visitorMessages, type FieldErrors, type LeadContext, type LeadDraft, type VisitorMessages } from './lead.ts';
import { spamFlag, type SpamLimits, type Turnstile } from './spam.ts';
import { sameSecret } from '../http/secret.ts';
import { clip, readJson, readJsonObject } from '../http/json.ts';

export interface LeadRoutesDeps {
  store: LeadStore;
  geo: GeoLocator;
  defaultCountry: string | undefined;
  /** Where a form post goes after success when the form names no thank-you page. */
  thanksUrl: string | undefined;
  googleLeadFormKey: string | undefined;
  spam: SpamLimits;
  /** Set with TURNSTILE_SECRET: every form lead must carry a valid token. */
  turnstile: Turnstile | undefined;
}

const MAX_LEAD_BODY = 64 * 1024;
const utf8 = new TextDecoder('utf-8', { fatal: true });

export function leadRoutes(deps: LeadRoutesDeps): Route[] {
  return [
    { method: 'post', path: '/lead', limit: 'lead', maxBody: MAX_LEAD_BODY, cors: true, handler: (req) => postLead(deps, req) },
    { method: 'post', path: '/hooks/google-lead-form', limit: 'hooks', maxBody: MAX_LEAD_BODY, handler: (req) => googleLeadForm(deps, req) },
  ];
}

function context(deps: LeadRoutesDeps, req: Request, source: LeadContext['source']): LeadContext {
  return { source, clientIp: req.clientIp, userAgent: req.headers['user-agent'] || undefined, geo: deps.geo.lookup(req.clientIp) };
}

async function postLead(deps: LeadRoutesDeps, req: Request): Promise<Reply> {
  const mime = req.headers['content-type'].split(';', 1)[0]!.trim().toLowerCase();
  const isForm = mime === 'application/x-www-form-urlencoded';
  if (!isForm && mime !== 'application/json' && mime !== 'text/plain') {
    return problem(415, 'unsupported-media-type', 'Unsupported content type', 'Send application/json or an HTML form (application/x-www-form-urlencoded).');
  }
  let fields: Record<string, unknown> | undefined;
  try {
    fields = isForm ? fieldsFromForm(new URLSearchParams(utf8.decode(req.body))) : fieldsFromJson(readJson(req.body));
  } catch {
    fields = undefined;
  }
  if (fields === undefined) return problem(400, 'invalid-json', 'Body is not a lead', 'Send a JSON object or an HTML form post.');

  const ctx = context(deps, req, 'form');
  const parsed = parseLead(fields, attributionFromCookies(req.headers.cookie), deps.defaultCountry, ctx.geo.country || undefined, req.headers['accept-language']);
  if (!parsed.ok) return isForm ? formErrors(parsed.errors, visitorMessages(typeof fields.lang === 'string' ? fields.lang : req.headers['accept-language'])) : problem(422, 'invalid-lead', 'The lead has invalid fields', 'See errors.', { errors: parsed.errors });
  const draft: LeadDraft = { ...parsed.draft, pageUrl: parsed.draft.pageUrl ?? (req.headers.referer || undefined) };
  if (deps.turnstile && !(draft.eventId !== undefined && deps.store.findByEventId(draft.eventId))) {
    const verdict = await deps.turnstile.verify(fields.turnstileToken ?? fields['cf-turnstile-response'], ctx.clientIp ?? '');
    if (!verdict.ok) {
      const slug = verdict.status === 503 ? 'spam-check-unavailable' : 'spam-check-failed';
      return isForm ? text(verdict.status, `<!doctype html><meta charset="utf-8"><title>Please try again</title><p>${escapeHtml(verdict.detail)}</p>`, 'text/html; charset=utf-8') : problem(verdict.status, slug, 'The spam check did not pass', verdict.detail);
    }
  }
  ctx.flag = spamFlag(deps.store, { honeypot: fields.lc_hp, fillMs: fields.lcFill, ip: ctx.clientIp ?? '', phone: draft.phone }, deps.spam);
  let stored;
  try {
    stored = deps.store.create(newLead(draft, ctx));
  } catch (err) {
    return storageProblem(err);
  }
  const { lead, created } = stored;

  if (!isForm) return json(created ? 201 : 200, { id: lead.id });
  const target = thankYouTarget(parsed.thanksUrl, req, deps.thanksUrl);
  const say = visitorMessages(typeof fields.lang === 'string' ? fields.lang : req.headers['accept-language']);
  return target ? redirect(target) : text(created ? 201 : 200, `<!doctype html><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>${say.thanks}</title><p>${say.thanks}</p>`, 'text/html; charset=utf-8');
}

/**
 * The form's own thank-you URL is followed only when it is on the site the form was posted from
 * (Origin or Referer), so /lead cannot be used as an open redirect. The Location is always the
 * URL as serialised by the URL parser (which percent-encodes or drops CR, LF and NUL), never the
 * text the form sent.
 */
function thankYouTarget(requested: string | undefined, req: Request, configured: string | undefined): string | undefined {
  const site = httpUrl(req.headers.origin)?.origin ?? httpUrl(req.headers.referer)?.origin;
  const wanted = httpUrl(requested);
  if (wanted !== undefined && site !== undefined && wanted.origin === site) return wanted.href;
  return configured ?? (site !== undefined ? httpUrl(req.headers.referer)?.href : undefined);
}

function httpUrl(url: string | undefined): URL | undefined {
  if (!url) return undefined;
  try {
    const u = new URL(url);
    return u.protocol === 'http:' || u.protocol === 'https:' ? u : undefined;
  } catch {
    return undefined;
  }
}


function formErrors(errors: FieldErrors, say: VisitorMessages): Reply {
  const items = Object.entries(errors).map(([field, message]) => `<li>${escapeHtml(field)}: ${escapeHtml(message)}</li>`).join('');
  return text(422, `<!doctype html><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>${say.title}</title><p>${say.back}</p><ul>${items}</ul>`, 'text/html; charset=utf-8');
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

// Google Ads lead form webhook: {lead_id, user_column_data: [{column_id, string_value}], gcl_id,
// campaign_id, form_id, google_key, is_test, api_version}. Google expects 200 on success.
interface GoogleLead {
  lead_id?: unknown;
  user_column_data?: unknown;
  gcl_id?: unknown;
  campaign_id?: unknown;
  form_id?: unknown;
  google_key?: unknown;
  is_test?: unknown;
}

const GOOGLE_NAME_COLUMNS = ['FULL_NAME', 'FIRST_NAME', 'LAST_NAME'];

function googleLeadForm(deps: LeadRoutesDeps, req: Request): Reply {
  const body = readJsonObject(req.body) as GoogleLead | undefined;
  if (!body) return problem(400, 'invalid-json', 'Body is not a Google lead form payload');
  if (deps.googleLeadFormKey === undefined) return problem(403, 'forbidden', 'Google lead forms are not enabled', 'Set GOOGLE_LEAD_FORM_KEY to the key entered in Google Ads.');
  if (typeof body.google_key !== 'string' || !sameSecret(body.google_key, deps.googleLeadFormKey)) return problem(403, 'forbidden', 'Wrong google_key');
  if (typeof body.lead_id !== 'string' || body.lead_id === '' || body.lead_id.length > 200) return problem(400, 'invalid-lead', 'lead_id is missing');

  const columns = new Map<string, string>();
  const extra: string[] = [];
  for (const column of Array.isArray(body.user_column_data) ? body.user_column_data.slice(0, 100) : []) {
    if (typeof column !== 'object' || column === null) continue;
    const c = column as { column_id?: unknown; column_name?: unknown; string_value?: unknown };
    if (typeof c.column_id !== 'string' || typeof c.string_value !== 'string') continue;
    columns.set(c.column_id, clip(c.string_value, 1000));
    if (!['PHONE_NUMBER', 'EMAIL', ...GOOGLE_NAME_COLUMNS].includes(c.column_id)) extra.push(`${typeof c.column_name === 'string' ? c.column_name : c.column_id}: ${c.string_value}`);
  }
  const rawPhone = columns.get('PHONE_NUMBER');
  const phone = rawPhone === undefined ? undefined : normalisePhone(rawPhone, deps.defaultCountry);
  if (rawPhone !== undefined && phone === undefined) extra.push(`Phone as entered: ${rawPhone}`); // kept, never dropped
  const rawEmail = columns.get('EMAIL');
  const email = rawEmail === undefined ? undefined : normaliseEmail(rawEmail);
  if (rawEmail !== undefined && email === undefined) extra.push(`Email as entered: ${rawEmail}`);
  const name = columns.get('FULL_NAME') ?? ([columns.get('FIRST_NAME'), columns.get('LAST_NAME')].filter(Boolean).join(' ') || undefined);

  const gclid = typeof body.gcl_id === 'string' && body.gcl_id !== '' ? clip(body.gcl_id, 512) : undefined;
  const draft: LeadDraft = {
    eventId: `google:${body.lead_id}`,
    name: name === undefined ? undefined : clip(name, 200),
    phone,
    email,
    message: undefined,
    service: undefined,
    extra: extra.length > 0 ? clip(extra.join('\n'), 5000) : undefined,
    refCode: undefined,
    consentAds: undefined,
    consentPersonalization: undefined,
    visitorId: undefined,
    sessionId: undefined,
    pageUrl: undefined,
    referrer: undefined,
    attribution: gclid ? { gclid } : {},
  };
  let stored;
  try {
    stored = deps.store.create(
      newLead(draft, {
        source: 'google_lead_form',
        clientIp: undefined,
        userAgent: undefined,
        geo: { country: '', region: '', city: '' },
        isTest: body.is_test === true,
        googleCampaignId: idText(body.campaign_id),
        googleFormId: idText(body.form_id),
      }),
    );
  } catch (err) {
    return storageProblem(err); // Google retries a webhook that fails
  }
  return json(200, { id: stored.lead.id });
}

/**
 * SQLite could not write (disk full, I/O error, locked for too long): nothing was stored, so the
 * sender is asked to retry (503), not told of a bug (500). Anything else is a bug and is rethrown.
 */
function storageProblem(err: unknown): Reply {
  const code = (err as { code?: unknown }).code;
  if (typeof code !== 'string' || !/^SQLITE_(FULL|IOERR|BUSY|LOCKED|READONLY|CANTOPEN)/.test(code)) throw err;
  return retryAfter(problem(503, 'storage-unavailable', 'The lead could not be stored right now', 'The server\'s disk is full or failing; nothing was stored. Send it again in a minute.'), 60);
}

/** Google sends ids as numbers or strings; anything else is not an id. */
function idText(value: unknown): string | undefined {
  return typeof value === 'string' || typeof value === 'number' ? clip(String(value), 64) : undefined;
}
