// First stage of the event flow: the body of POST /collect parsed once into typed beacons with a
// cap on every field. Everything downstream trusts these types and re-checks nothing.
// A request with one bad event is rejected whole: nothing from it is stored. Text is made
// well-formed here (a lone surrogate becomes U+FFFD): ClickHouse refuses ill-formed UTF-16 escapes.
import { randomUUID } from 'node:crypto';
import { TextCache } from './cache.ts';

export const MAX_BODY_BYTES = 256 * 1024;
export const MAX_BATCH = 100;
const MAX_URL = 4096;
const MAX_ID = 128;
const MAX_NAME = 128;
const MAX_TYPE = 32;
const MAX_LANG = 35;
const MAX_CLICK_ID = 512;
const MAX_UTM = 256;
const MAX_PROPS = 32;
const MAX_PROP_KEY = 64;
const MAX_PROP_VALUE = 512;
const MAX_SCREEN = 65535;

export const CLICK_IDS = ['gclid', 'gbraid', 'wbraid', 'fbclid', 'msclkid'] as const;
export const UTMS = ['utm_source', 'utm_medium', 'utm_campaign', 'utm_term', 'utm_content'] as const;
export type ClickId = (typeof CLICK_IDS)[number];
export type Utm = (typeof UTMS)[number];

/** Campaign fields of one beacon: the page URL's own parameters win over the stored attribution. */
export type Campaign = Record<ClickId | Utm, string>;

export interface Beacon {
  id: string;
  type: string;
  name: string;
  url: string;
  path: string;
  hostname: string;
  referrer: string;
  referrerHost: string;
  visitorId: string;
  sessionId: string;
  /** Client clock in ms since epoch, if sent. */
  ts: number | undefined;
  lang: string;
  screenW: number;
  screenH: number;
  props: Record<string, string>;
  campaign: Campaign;
  /**
   * The consent state the tracker had when it sent this: `granted` or `denied` on a site that asks
   * (data-consent="required"), `implied` where it does not; the tracker sends a boolean (ads
   * consent given or implied: `granted`; not: `denied`) to stay within its size budget. '' = unknown
   * (older trackers, other senders).
   */
  consent: Consent | '';
  /** Meta's click and browser ids and the first landing page, kept for leads (not stored as events). */
  fbc: string;
  fbp: string;
  landing: string;
}

export const CONSENT_STATES = ['granted', 'denied', 'implied'] as const;
export type Consent = (typeof CONSENT_STATES)[number];

export type ParseResult =
  | {
      ok: true;
      beacons: Beacon[];
      /**
       * No text of these beacons holds a character TabSeparated must escape (tab, newline, CR, NUL,
       * backslash): the body had no backslash, so JSON allowed none in its strings, and no page
       * URL's query held a percent escape (a "%09" there decodes to a tab). Their rows are then
       * written without looking for one.
       */
      plainText: boolean;
    }
  | { ok: false; status: 400 | 415; slug: string; title: string; detail: string };

const CONTENT_TYPES = new Set(['text/plain', 'application/json']);
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const TYPE = /^[a-z][a-z0-9_]*$/;
const utf8 = new TextDecoder('utf-8', { fatal: true });
const BACKSLASH = 0x5c;

class Invalid extends Error {}

export function parseCollect(contentType: string, body: Buffer): ParseResult {
  const semicolon = contentType.indexOf(';'); // not split(): it leaves JIT code for the runtime, ~1 µs a beacon
  const mime = (semicolon === -1 ? contentType : contentType.slice(0, semicolon)).trim().toLowerCase();
  if (!CONTENT_TYPES.has(mime)) {
    return { ok: false, status: 415, slug: 'unsupported-media-type', title: 'Unsupported content type', detail: 'Send application/json or text/plain (navigator.sendBeacon).' };
  }
  let value: unknown;
  let plainText = body.indexOf(BACKSLASH) === -1;
  try {
    value = JSON.parse(utf8.decode(body));
  } catch {
    return { ok: false, status: 400, slug: 'invalid-json', title: 'Body is not valid JSON', detail: 'The body must be one event object or an array of them, in UTF-8 JSON.' };
  }
  try {
    if (Array.isArray(value)) {
      if (value.length === 0) throw new Invalid('the batch is empty');
      if (value.length > MAX_BATCH) throw new Invalid(`a batch holds at most ${MAX_BATCH} events, got ${value.length}`);
      const beacons = value.map((event, i) => parseBeacon(event, `[${i}]`));
      for (let i = 0; plainText && i < beacons.length; i++) plainText = decodesNothing(beacons[i]!);
      return { ok: true, beacons, plainText };
    }
    const beacon = parseBeacon(value, '');
    return { ok: true, beacons: [beacon], plainText: plainText && decodesNothing(beacon) };
  } catch (err) {
    if (!(err instanceof Invalid)) throw err;
    return { ok: false, status: 400, slug: 'invalid-event', title: 'Invalid event', detail: err.message };
  }
}

/** The campaign is decoded from the page URL's query: only a percent escape there can decode to a tab, newline, CR, NUL or backslash. */
function decodesNothing(beacon: Beacon): boolean {
  const query = beacon.url.indexOf('?');
  return query === -1 || beacon.url.indexOf('%', query) === -1;
}

// Field paths for error messages (`[2].url`) are built only when there is an error: a beacon has
// a dozen fields, and building each path up front cost ~0.5 µs a beacon.
function parseBeacon(value: unknown, at: string): Beacon {
  const event = record(value, '', at || 'event');

  const id = optionalString(event.id, at, 'id', 36);
  if (id !== '' && !UUID.test(id)) throw new Invalid(`${path(at, 'id')} must be a UUID`);
  const type = requiredString(event.type, at, 'type', MAX_TYPE);
  if (!TYPE.test(type)) throw new Invalid(`${path(at, 'type')} must be lower-case letters, digits and _`);

  const url = optionalString(event.url, at, 'url', MAX_URL);
  const page = url === '' ? undefined : httpUrl(url, at, 'url');
  const referrer = optionalString(event.referrer, at, 'referrer', MAX_URL);
  const attribution = event.attribution === undefined || event.attribution === null ? {} : record(event.attribution, at, 'attribution');

  // A parameter the page's URL lacks or carries empty comes from the stored attribution. Each key
  // is named (not looped over): a loop's computed keys made these the slowest lines of the parse.
  const campaign = url === '' ? noCampaign() : campaignOf(url);
  campaign.gclid ||= optionalString(attribution.gclid, at, 'attribution.gclid', MAX_CLICK_ID);
  campaign.gbraid ||= optionalString(attribution.gbraid, at, 'attribution.gbraid', MAX_CLICK_ID);
  campaign.wbraid ||= optionalString(attribution.wbraid, at, 'attribution.wbraid', MAX_CLICK_ID);
  campaign.fbclid ||= optionalString(attribution.fbclid, at, 'attribution.fbclid', MAX_CLICK_ID);
  campaign.msclkid ||= optionalString(attribution.msclkid, at, 'attribution.msclkid', MAX_CLICK_ID);
  campaign.utm_source ||= optionalString(attribution.utm_source, at, 'attribution.utm_source', MAX_UTM);
  campaign.utm_medium ||= optionalString(attribution.utm_medium, at, 'attribution.utm_medium', MAX_UTM);
  campaign.utm_campaign ||= optionalString(attribution.utm_campaign, at, 'attribution.utm_campaign', MAX_UTM);
  campaign.utm_term ||= optionalString(attribution.utm_term, at, 'attribution.utm_term', MAX_UTM);
  campaign.utm_content ||= optionalString(attribution.utm_content, at, 'attribution.utm_content', MAX_UTM);

  const screen = event.screen === undefined || event.screen === null ? {} : record(event.screen, at, 'screen');
  const consent = typeof event.consent === 'boolean' ? (event.consent ? 'granted' : 'denied') : optionalString(event.consent, at, 'consent', 8);
  if (consent !== '' && !(CONSENT_STATES as readonly string[]).includes(consent)) throw new Invalid(`${path(at, 'consent')} must be true, false, granted, denied or implied`);
  // Refused consent: whatever an older or hand-made sender put in, no click id is stored.
  const denied = consent === 'denied';
  if (denied) for (const key of CLICK_IDS) campaign[key] = '';
  return {
    id: id === '' ? randomUUID() : id.toLowerCase(),
    type,
    name: optionalString(event.name, at, 'name', MAX_NAME),
    url: denied ? withoutClickIds(url) : url,
    path: page?.pathname ?? '',
    hostname: page?.hostname ?? '',
    referrer: denied ? withoutClickIds(referrer) : referrer,
    referrerHost: hostOf(referrer),
    visitorId: optionalString(event.visitorId, at, 'visitorId', MAX_ID),
    sessionId: optionalString(event.sessionId, at, 'sessionId', MAX_ID),
    ts: optionalTimestamp(event.ts, at, 'ts'),
    lang: optionalString(event.lang, at, 'lang', MAX_LANG),
    screenW: optionalInt(screen.w, at, 'screen.w', MAX_SCREEN),
    screenH: optionalInt(screen.h, at, 'screen.h', MAX_SCREEN),
    props: parseProps(event.props, at, 'props'),
    campaign,
    consent: consent as Consent | '',
    fbc: denied ? '' : optionalString(attribution.fbc, at, 'attribution.fbc', MAX_CLICK_ID),
    fbp: denied ? '' : optionalString(attribution.fbp, at, 'attribution.fbp', MAX_CLICK_ID),
    landing: optionalString(attribution.landing, at, 'attribution.landing', MAX_URL),
  };
}

const CAMPAIGN_KEYS: ReadonlyArray<ClickId | Utm> = [...CLICK_IDS, ...UTMS];
const MAX_CAMPAIGN = Object.fromEntries(CAMPAIGN_KEYS.map((key) => [key, key.startsWith('utm_') ? MAX_UTM : MAX_CLICK_ID])) as Record<ClickId | Utm, number>;

/** Where in the body a field is, for the error message: `[2].url`, or `url` for a single event. */
function path(at: string, field: string): string {
  return at ? `${at}.${field}` : field;
}

function record(value: unknown, at: string, field: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Invalid(`${path(at, field)} must be an object`);
  return value as Record<string, unknown>;
}

function requiredString(value: unknown, at: string, field: string, max: number): string {
  const s = optionalString(value, at, field, max);
  if (s === '') throw new Invalid(`${path(at, field)} is required`);
  return s;
}

function optionalString(value: unknown, at: string, field: string, max: number): string {
  if (value === undefined || value === null) return '';
  if (typeof value !== 'string') throw new Invalid(`${path(at, field)} must be a string`);
  if (value.length > max) throw new Invalid(`${path(at, field)} is longer than ${max} characters`);
  return value.toWellFormed();
}

function optionalInt(value: unknown, at: string, field: string, max: number): number {
  if (value === undefined || value === null) return 0;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > max) {
    throw new Invalid(`${path(at, field)} must be an integer from 0 to ${max}`);
  }
  return value;
}

function optionalTimestamp(value: unknown, at: string, field: string): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > 8.64e15) {
    throw new Invalid(`${path(at, field)} must be a time in milliseconds since 1970`);
  }
  return Math.floor(value);
}

// URLs parsed once per page, not once per beacon: a site's beacons name few pages and referrers,
// and only their query strings differ (gclid). A URL's validity, scheme, host and path depend only
// on what comes before its "?" or "#" (WHATWG URL: a query or fragment never fails a parse), so
// that part is the cache key. Longer ones are parsed each time (at most 5000 × 256 characters kept).
interface UrlParts {
  protocol: string;
  hostname: string;
  pathname: string;
}
const urlParts = new TextCache<UrlParts | null>(5000, 256);

/** The URL before its query and fragment (all of it when that part ends in a space, which the parser would strip). */
function baseOf(url: string): string {
  const query = url.indexOf('?');
  const fragment = url.indexOf('#');
  const end = query === -1 ? fragment : fragment === -1 ? query : Math.min(query, fragment);
  return end === -1 || url.charCodeAt(end - 1) <= 0x20 ? url : url.slice(0, end);
}

function partsOf(url: string): UrlParts | null {
  const base = baseOf(url);
  let parts = urlParts.get(base);
  if (parts === undefined) {
    try {
      const parsed = new URL(base);
      parts = { protocol: parsed.protocol, hostname: parsed.hostname, pathname: parsed.pathname };
    } catch {
      parts = null;
    }
    urlParts.set(base, parts);
  }
  return parts;
}

function httpUrl(value: string, at: string, field: string): UrlParts {
  const url = partsOf(value);
  if (url === null) throw new Invalid(`${path(at, field)} must be an absolute URL`);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Invalid(`${path(at, field)} must be an http(s) URL`);
  return url;
}

/** Text the URL parser cleans before a query is read: spaces and controls (tab and newline removed, the rest escaped). */
const NEEDS_URL_PARSER = /[\s\0-\x1f\x7f]/;
const ESCAPED = /[%+]/;

function noCampaign(): Campaign {
  return { gclid: '', gbraid: '', wbraid: '', fbclid: '', msclkid: '', utm_source: '', utm_medium: '', utm_campaign: '', utm_term: '', utm_content: '' };
}

/**
 * The click ids and UTMs of a page URL's query, read as `new URL(url).searchParams.get()` reads
 * them (the first of a repeated name), cut to their caps. The query is scanned here once, straight
 * into the campaign, its escapes and "+" decoded as URLSearchParams decodes them; the URL parser
 * and URLSearchParams (1.3–2.8 µs a beacon) read only a query with spaces or controls, or with an
 * escape that is not UTF-8, which they clean up in their own way.
 */
function campaignOf(url: string): Campaign {
  const campaign = noCampaign();
  const start = url.indexOf('?');
  if (start === -1) return campaign;
  const fragment = url.indexOf('#');
  if (fragment !== -1 && fragment < start) return campaign;
  const query = url.slice(start + 1, fragment === -1 ? undefined : fragment);
  if (NEEDS_URL_PARSER.test(query)) return campaignByParser(url, campaign);
  const plain = !ESCAPED.test(query); // then no name or value needs decoding
  let seen = 0; // one bit per campaign key: the first of a repeated name counts, even when empty
  for (let from = 0; from <= query.length; ) {
    let to = query.indexOf('&', from);
    if (to === -1) to = query.length;
    const eq = query.indexOf('=', from);
    const named = eq !== -1 && eq < to;
    const rawName = query.slice(from, named ? eq : to);
    const name = plain ? rawName : decodeQueryPart(rawName);
    if (name === undefined) return campaignByParser(url, campaign);
    const index = CAMPAIGN_INDEX.get(name);
    if (index !== undefined && (seen & (1 << index)) === 0) {
      seen |= 1 << index;
      const key = CAMPAIGN_KEYS[index]!;
      const rawValue = named ? query.slice(eq + 1, to) : '';
      const value = plain ? rawValue : decodeQueryPart(rawValue);
      if (value === undefined) return campaignByParser(url, campaign);
      campaign[key] = value.slice(0, MAX_CAMPAIGN[key]).toWellFormed();
    }
    from = to + 1;
  }
  return campaign;
}
const CAMPAIGN_INDEX = new Map<string, number>(CAMPAIGN_KEYS.map((key, i) => [key, i]));

/** A query name or value as URLSearchParams decodes it; undefined for an escape that is not UTF-8 (which it replaces by U+FFFD). */
function decodeQueryPart(text: string): string | undefined {
  if (!ESCAPED.test(text)) return text;
  try {
    return decodeURIComponent(text.replaceAll('+', ' '));
  } catch {
    return undefined;
  }
}

function campaignByParser(url: string, campaign: Campaign): Campaign {
  const params = new URL(url).searchParams;
  for (const key of CAMPAIGN_KEYS) campaign[key] = params.get(key)?.slice(0, MAX_CAMPAIGN[key]).toWellFormed() ?? '';
  return campaign;
}

const CLICK_ID_PARAM = /\b(gclid|gbraid|wbraid|fbclid|msclkid)=[^&#]*&?/g;

function withoutClickIds(url: string): string {
  return url.replace(CLICK_ID_PARAM, '');
}

function hostOf(referrer: string): string {
  return referrer === '' ? '' : (partsOf(referrer)?.hostname ?? '');
}

function parseProps(value: unknown, parent: string, field: string): Record<string, string> {
  // Null prototype: a "__proto__" key from the client stays a plain key.
  const props: Record<string, string> = Object.create(null);
  if (value === undefined || value === null) return props;
  const input = record(value, parent, field);
  const at = path(parent, field);
  const keys = Object.keys(input);
  if (keys.length > MAX_PROPS) throw new Invalid(`${at} has more than ${MAX_PROPS} keys`);
  for (const key of keys) {
    if (key.length === 0 || key.length > MAX_PROP_KEY) throw new Invalid(`${at} keys must be 1 to ${MAX_PROP_KEY} characters`);
    const v = input[key];
    const name = key.toWellFormed();
    if (typeof v === 'string') {
      if (v.length > MAX_PROP_VALUE) throw new Invalid(`${at}.${name} is longer than ${MAX_PROP_VALUE} characters`);
      props[name] = v.toWellFormed();
    } else if (typeof v === 'number' && Number.isFinite(v)) {
      props[name] = String(v);
    } else if (typeof v === 'boolean') {
      props[name] = String(v);
    } else {
      throw new Invalid(`${at}.${name} must be a string, a finite number or a boolean`);
    }
  }
  return props;
}
