// Lead intake, first stage: the body of POST /lead (JSON from the tracker, or a plain HTML form
// post) and the tracker's cookies, parsed once into a normalised lead with caps on every field.
// Phones become E.164 (libphonenumber-js, DEFAULT_COUNTRY for national numbers); emails are
// trimmed and lower-cased. Errors are per field, for a 422 the form can show.
import { parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js';
import { CLICK_IDS, UTMS, UUID } from '../collect/beacon.ts';
import type { Geo } from '../collect/geo.ts';
import type { LeadSource, NewLead } from '../db/leads.ts';
import { clientNet } from '../http/client-ip.ts';
import { cookie } from '../http/cookie.ts';
import { clip, readJson } from '../http/json.ts';

export const ATTRIBUTION_KEYS = [...CLICK_IDS, 'fbc', 'fbp', ...UTMS, 'utm_id', 'landing'] as const;
export type AttributionKey = (typeof ATTRIBUTION_KEYS)[number];
export type Attribution = Partial<Record<AttributionKey, string>>;

/** Everything a new lead is stored with, before the server adds ids, IP, agent and geo. */
export interface LeadDraft {
  eventId: string | undefined;
  name: string | undefined;
  phone: string | undefined;
  email: string | undefined;
  message: string | undefined;
  service: string | undefined;
  extra: string | undefined;
  refCode: string | undefined;
  consentAds: boolean | undefined;
  /** Google Consent Mode's ad_personalization as the page had it; undefined when not known. */
  consentPersonalization: boolean | undefined;
  visitorId: string | undefined;
  sessionId: string | undefined;
  pageUrl: string | undefined;
  referrer: string | undefined;
  attribution: Attribution;
}

/** What the server knows about a lead beyond its fields: where it came from and the request that brought it. */
export interface LeadContext {
  source: LeadSource;
  clientIp: string | undefined;
  userAgent: string | undefined;
  geo: Geo;
  isTest?: boolean;
  googleCampaignId?: string;
  googleFormId?: string;
  at?: number;
  /** Held by a spam check (see spam.ts). */
  flag?: string;
}

/** The row a draft and its context make. */
export function newLead(draft: LeadDraft, context: LeadContext): NewLead {
  const a = draft.attribution;
  return {
    event_id: draft.eventId ?? null,
    source: context.source,
    is_test: context.isTest ? 1 : 0,
    name: draft.name ?? null,
    phone: draft.phone ?? null,
    email: draft.email ?? null,
    message: draft.message ?? null,
    service: draft.service ?? null,
    extra: draft.extra ?? null,
    ref_code: draft.refCode ?? null,
    gclid: a.gclid ?? null,
    gbraid: a.gbraid ?? null,
    wbraid: a.wbraid ?? null,
    fbclid: a.fbclid ?? null,
    msclkid: a.msclkid ?? null,
    fbc: a.fbc ?? null,
    fbp: a.fbp ?? null,
    utm_source: a.utm_source ?? null,
    utm_medium: a.utm_medium ?? null,
    utm_campaign: a.utm_campaign ?? null,
    utm_term: a.utm_term ?? null,
    utm_content: a.utm_content ?? null,
    utm_id: a.utm_id ?? null,
    landing_page: a.landing ?? null,
    page_url: draft.pageUrl ?? null,
    referrer: draft.referrer ?? null,
    visitor_id: draft.visitorId ?? null,
    session_id: draft.sessionId ?? null,
    client_ip: context.clientIp ?? null,
    client_net: context.clientIp === undefined ? null : clientNet(context.clientIp),
    user_agent: context.userAgent ?? null,
    country: context.geo.country || null,
    region: context.geo.region || null,
    city: context.geo.city || null,
    consent_ads: draft.consentAds === undefined ? null : draft.consentAds ? 1 : 0,
    consent_personalization: draft.consentPersonalization === undefined ? null : draft.consentPersonalization ? 1 : 0,
    google_campaign_id: context.googleCampaignId ?? null,
    google_form_id: context.googleFormId ?? null,
    flag: context.flag ?? null,
    created_at: context.at ?? Date.now(),
  };
}

export type FieldErrors = Record<string, string>;
export type LeadParse = { ok: true; draft: LeadDraft; thanksUrl: string | undefined } | { ok: false; errors: FieldErrors };

const CAPS = { name: 200, message: 5000, service: 200, extra: 5000, id: 128, url: 4096, attribution: 512, refCode: 16 } as const;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
/** The code a WhatsApp message carries to name its lead. */
export const REF_CODE = /^[A-Za-z0-9]{3,16}$/;
/** Form fields that steer the intake rather than describe the lead. */
const CONTROL_FIELDS = new Set(['lang', 'eventId', 'thanks', 'consent_ads', 'turnstileToken', 'cf-turnstile-response', 'lc_hp', 'lcFill', 'visitorId', 'sessionId', 'pageUrl', 'refCode', 'name', 'phone', 'email', 'message', 'service', ...ATTRIBUTION_KEYS]);

const JSON_FIELDS = new Set(['lang', 'eventId', 'name', 'phone', 'email', 'message', 'service', 'extra', 'visitorId', 'sessionId', 'pageUrl', 'refCode', 'thanks', 'attribution', 'consent', 'turnstileToken', 'cf-turnstile-response', 'lc_hp', 'lcFill']);

/** Reads the fields of a JSON body or a form post into one flat shape. */
export function fieldsFromJson(value: unknown): Record<string, unknown> | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const body = value as Record<string, unknown>;
  // The tracker sends a form's own fields as they are: the ones we do not know become extra text.
  const extra: string[] = typeof body.extra === 'string' ? [body.extra] : [];
  for (const [key, v] of Object.entries(body)) {
    if (!JSON_FIELDS.has(key) && typeof v === 'string' && v.trim() !== '' && extra.length < 50) extra.push(`${clip(key, 64)}: ${v}`);
  }
  const attribution = typeof body.attribution === 'object' && body.attribution !== null ? (body.attribution as Record<string, unknown>) : {};
  const consent = typeof body.consent === 'object' && body.consent !== null ? (body.consent as Record<string, unknown>) : {};
  const fields: Record<string, unknown> = Object.create(null);
  for (const key of ATTRIBUTION_KEYS) fields[key] = attribution[key];
  for (const key of ['lang', 'eventId', 'name', 'phone', 'email', 'message', 'service', 'visitorId', 'sessionId', 'pageUrl', 'refCode', 'thanks', 'turnstileToken', 'cf-turnstile-response', 'lc_hp', 'lcFill']) fields[key] = body[key];
  fields.consent_ads = consent.ads;
  fields.consent_personalization = consent.personalization;
  fields.extra = extra.length > 0 ? extra.join('\n') : undefined;
  return fields;
}

export function fieldsFromForm(body: URLSearchParams): Record<string, unknown> {
  const fields: Record<string, unknown> = Object.create(null);
  const extra: string[] = [];
  for (const [key, value] of body) {
    if (CONTROL_FIELDS.has(key)) fields[key] = value;
    else if (value.trim() !== '' && extra.length < 50) extra.push(`${clip(key, 64)}: ${value}`);
  }
  if (typeof fields.consent_ads === 'string') fields.consent_ads = ['1', 'true', 'yes', 'on'].includes(fields.consent_ads);
  fields.extra = extra.length > 0 ? extra.join('\n') : undefined;
  return fields;
}

/** Attribution the tracker keeps in first-party cookies (lc_attr: JSON; _fbc/_fbp: Meta's own). */
export function attributionFromCookies(cookieHeader: string): Attribution {
  const attribution: Attribution = {};
  const stored = cookie(cookieHeader, 'lc_attr');
  if (stored) {
    try {
      // The tracker's cookie: {f: first touch, l: last touch, v: visitor}; the last touch wins.
      const parsed = readJson(decodeURIComponent(stored)) as { f?: Record<string, unknown>; l?: Record<string, unknown> };
      for (const touch of [parsed.f, parsed.l]) {
        for (const key of ATTRIBUTION_KEYS) if (typeof touch?.[key] === 'string') attribution[key] = clip(touch[key] as string, CAPS.attribution);
      }
    } catch {
      // a mangled cookie only costs attribution
    }
  }
  for (const key of ['fbc', 'fbp'] as const) {
    const v = cookie(cookieHeader, `_${key}`);
    if (v) attribution[key] = clip(v, CAPS.attribution);
  }
  return attribution;
}

/** E.164 (+905321234567), or undefined when the number is not valid. */
export function normalisePhone(raw: string, defaultCountry: string | undefined): string | undefined {
  const parsed = parsePhoneNumberFromString(raw.trim(), defaultCountry as CountryCode | undefined);
  return parsed?.isValid() ? parsed.number : undefined;
}

export function normaliseEmail(raw: string): string | undefined {
  const email = raw.trim().toLowerCase();
  return email.length <= 254 && EMAIL.test(email) ? email : undefined;
}

/**
 * Validates and normalises a lead's fields. A lead is never refused over a format: a phone that
 * cannot be read as a number (with DEFAULT_COUNTRY, else the visitor's GeoIP country) or an email
 * that is not one is kept as typed, in the extra text, for the owner (and never hashed for ad
 * platforms). Only a lead with no way at all to reach the person is refused (422).
 */
/**
 * What a visitor is told about the fields that keep a lead from being sent, in the page's language
 * (the tracker sends `lang`; a plain form post, the browser's Accept-Language): English, Turkish,
 * Portuguese. A site can put its own words in the form (data-lc-msg-<field>).
 */
const VISITOR_MESSAGES = {
  en: { phone: 'is not a valid phone number', email: 'is not a valid email address', required: 'a phone number or an email address is required', title: 'Please check the form', back: 'Please go back and check:', thanks: 'Thank you, we will be in touch shortly.' },
  tr: { phone: 'geçerli bir telefon numarası değil', email: 'geçerli bir e-posta adresi değil', required: 'telefon numarası veya e-posta adresi gerekli', title: 'Lütfen formu kontrol edin', back: 'Lütfen geri dönüp kontrol edin:', thanks: 'Teşekkürler, en kısa sürede size ulaşacağız.' },
  pt: { phone: 'não é um telefone válido', email: 'não é um e-mail válido', required: 'informe um telefone ou um e-mail', title: 'Confira o formulário', back: 'Volte e confira:', thanks: 'Obrigado, entraremos em contato em breve.' },
};
export type VisitorMessages = (typeof VISITOR_MESSAGES)['en'];

/** The messages for a language tag (tr, tr-TR, pt-BR …; an Accept-Language list's first), English otherwise. */
export function visitorMessages(lang: string | undefined): VisitorMessages {
  const base = (lang ?? '').trim().split(/[-_,;]/)[0]!.toLowerCase();
  return base === 'tr' ? VISITOR_MESSAGES.tr : base === 'pt' ? VISITOR_MESSAGES.pt : VISITOR_MESSAGES.en;
}

export function parseLead(fields: Record<string, unknown>, cookieAttribution: Attribution, defaultCountry: string | undefined, visitorCountry?: string, acceptLanguage?: string): LeadParse {
  const errors: FieldErrors = {};
  const say = visitorMessages(typeof fields.lang === 'string' && fields.lang !== '' ? fields.lang : acceptLanguage);
  const text = (key: string, max: number): string | undefined => {
    const v = fields[key];
    if (v === undefined || v === null || v === '') return undefined;
    if (typeof v !== 'string') {
      errors[key] = 'must be text';
      return undefined;
    }
    const trimmed = v.trim();
    if (trimmed.length > max) errors[key] = `must be at most ${max} characters`;
    return trimmed === '' ? undefined : clip(trimmed, max);
  };

  const eventId = text('eventId', 36);
  if (eventId !== undefined && !UUID.test(eventId)) errors.eventId = 'must be a UUID';

  const phoneRaw = text('phone', 64);
  const phone = phoneRaw === undefined ? undefined : normalisePhone(phoneRaw, defaultCountry) ?? (visitorCountry ? normalisePhone(phoneRaw, visitorCountry) : undefined);
  // Enough digits to dial: the owner can still call it, even if we cannot tell its country.
  const phoneAsTyped = phoneRaw !== undefined && phone === undefined && phoneRaw.replace(/\D/g, '').length >= 6 ? phoneRaw : undefined;
  const emailRaw = text('email', 254);
  const email = emailRaw === undefined ? undefined : normaliseEmail(emailRaw);
  const asTyped: string[] = [];
  if (phone === undefined && email === undefined && phoneAsTyped === undefined) {
    if (phoneRaw !== undefined) errors.phone = say.phone;
    if (emailRaw !== undefined) errors.email = say.email;
    if (phoneRaw === undefined && emailRaw === undefined) errors.phone = say.required;
  } else {
    if (phoneAsTyped !== undefined) asTyped.push(`Phone as entered (not recognised as a number; check it before calling): ${phoneAsTyped}`);
    else if (phoneRaw !== undefined && phone === undefined) asTyped.push(`Phone as entered: ${phoneRaw}`);
    if (emailRaw !== undefined && email === undefined) asTyped.push(`Email as entered: ${emailRaw}`);
  }

  const refCode = text('refCode', CAPS.refCode);
  if (refCode !== undefined && !REF_CODE.test(refCode)) errors.refCode = 'must be 3 to 16 letters or digits';
  const consent = fields.consent_ads;
  if (consent !== undefined && consent !== null && typeof consent !== 'boolean') errors.consent = 'consent.ads must be true or false';
  const personalization = fields.consent_personalization;

  const attribution: Attribution = { ...cookieAttribution };
  for (const key of ATTRIBUTION_KEYS) {
    const v = text(key, key === 'landing' ? CAPS.url : CAPS.attribution);
    if (v !== undefined) attribution[key] = v;
  }
  const given = typeof fields.extra === 'string' ? clip(fields.extra, CAPS.extra) : text('extra', CAPS.extra);
  const extra = asTyped.length > 0 ? clip([...asTyped, ...(given ? [given] : [])].join('\n'), CAPS.extra) : given;

  const draft: LeadDraft = {
    eventId: eventId?.toLowerCase(),
    name: text('name', CAPS.name),
    phone,
    email,
    message: text('message', CAPS.message),
    service: text('service', CAPS.service),
    extra,
    refCode: refCode?.toUpperCase(),
    consentAds: typeof consent === 'boolean' ? consent : undefined,
    consentPersonalization: typeof personalization === 'boolean' ? personalization : undefined,
    visitorId: text('visitorId', CAPS.id),
    sessionId: text('sessionId', CAPS.id),
    pageUrl: text('pageUrl', CAPS.url),
    referrer: undefined,
    attribution,
  };
  if (Object.keys(errors).length > 0) return { ok: false, errors };
  return { ok: true, draft, thanksUrl: text('thanks', CAPS.url) };
}
