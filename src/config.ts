// Configuration: read once from the environment (and `.env`), validated at boot, then passed in.
// Nothing else in src/ reads process.env. Every key is documented in .env.example.
import { existsSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { resolve, join } from 'node:path';
import { parseEnv } from 'node:util';

/** This build's version (package.json), for logs, status and backup manifests. */
export const APP_VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** The configuration the backup scripts need; throws with the reason when backups cannot run. */
export function readConfigForBackups(env: Env): Config & { backup: BackupConfig } {
  const config = readConfig(env);
  if (!config.backup) throw new Error('backups are not configured: set S3_BUCKET and the other S3_* keys (see .env.example)');
  return config as Config & { backup: BackupConfig };
}

/** When the journal fsyncs: after every record, never, or every N ms. */
export type FsyncPolicy = 'always' | 'off' | number;

/** Google Ads conversions through the Data Manager API. */
export interface GoogleConfig {
  clientId: string;
  clientSecret: string;
  refreshToken: string;
  customerId: string;
  loginCustomerId: string | undefined;
  conversionActionId: string;
  endpoint: string;
  tokenUrl: string;
  /** A click older than this (GOOGLE_CLICK_WINDOW_DAYS, the conversion action's window) cannot earn a sale. */
  clickWindowDays: number;
  /** The Google Ads API for spend and click_view (GOOGLE_ADS_DEVELOPER_TOKEN); undefined = no spend from Google. */
  ads: { developerToken: string; endpoint: string; version: string } | undefined;
}

/** Meta's Conversions API. */
export interface MetaConfig {
  pixelId: string;
  accessToken: string;
  apiVersion: string;
  graphUrl: string;
  testEventCode: string | undefined;
  /** The ad account whose spend is read (META_AD_ACCOUNT_ID, digits without act_); undefined = no spend from Meta. */
  adAccountId: string | undefined;
}

export type TrustProxy = { kind: 'none' } | { kind: 'hops'; hops: number } | { kind: 'cloudflare' };

export interface Config {
  port: number;
  host: string;
  dataDir: string;
  publicOrigin: string | undefined;
  trustProxy: TrustProxy;
  adminToken: string | undefined;
  logLevel: string;
  /** stdout is the systemd journal (JOURNAL_STREAM set by systemd): log lines carry priorities. */
  logToJournald: boolean;
  clickhouse: ClickHouseConfig;
  flushIntervalMs: number;
  flushMaxRows: number;
  geoipCityDb: string;
  journal: { dir: string; fsync: FsyncPolicy; maxBytes: number };
  leads: LeadsConfig;
  /** Google Ads conversions through the Data Manager API; undefined unless the GOOGLE_* keys are set. */
  google: GoogleConfig | undefined;
  /** Meta Conversions API; undefined unless META_PIXEL_ID and META_ACCESS_TOKEN are set. */
  meta: MetaConfig | undefined;
  /** Webhook secrets of the hosted checkouts; a checkout's route exists only when its secret is set. */
  checkouts: { stripe: string | undefined; hotmart: string | undefined; kiwify: string | undefined };
  /** Backups to S3; undefined unless S3_BUCKET is set. */
  backup: BackupConfig | undefined;
  /** Requests per minute per client IP (0 = no limit), a global ceiling per second, and how many clients are tracked. */
  rateLimits: { collect: number; lead: number; hooks: number; login: number; globalPerSecond: number; clients: number };
  /** A request body must arrive within this time. */
  bodyTimeoutMs: number;
  /** Days events stay in ClickHouse, and days a closed lead keeps its contact data (0 = forever). */
  retention: { eventDays: number; leadDays: number };
  /** The business's pages (SITE_URLS) the connections check fetches to find the tag, forms and links. */
  siteUrls: string[];
  /** The server's own connections check runs this long after start, then daily (0 = only when asked). */
  doctorAfterStartMs: number;
  /** Minutes between spend syncs (SPEND_SYNC_MINUTES; 0 = only when asked). */
  spendSyncMinutes: number;
}

export interface BackupConfig {
  s3: { endpoint: string | undefined; region: string; bucket: string; prefix: string; accessKeyId: string | undefined; secretAccessKey: string | undefined; forcePathStyle: boolean; timeoutMs: number };
  /** A whole backup (or restore drill) that takes longer fails: a frozen S3 endpoint never hangs it for good. */
  timeoutMs: number;
  /** AES-256-GCM key; without it backups are compressed but not encrypted. */
  encryptionKey: Buffer | undefined;
  keep: { daily: number; weekly: number; monthly: number };
  /** The owner is told when the last good backup is older than this. */
  maxAgeHours: number;
}

export interface WhatsAppConfig {
  apiUrl: string;
  apiVersion: string;
  phoneNumberId: string;
  token: string;
  /** The owner's number, digits with the country code. */
  to: string;
  /** An approved template whose body is {{1}} (title) and {{2}} (text), and its language code. */
  template: string;
  language: string;
}

export interface LeadsConfig {
  databasePath: string;
  /** ISO 3166 country for phone numbers written without +country code. */
  defaultCountry: string | undefined;
  locale: string;
  /** The business's time zone (TIMEZONE, IANA): times shown and days cut in it. */
  timeZone: string;
  currency: string;
  thanksUrl: string | undefined;
  googleLeadFormKey: string | undefined;
  notifyIncludeName: boolean;
  outboxMaxAttempts: number;
  outboxParkedProbeMs: number;
  outboxStatusCheckMs: number;
  vapid: { publicKey: string | undefined; privateKey: string | undefined; subject: string | undefined };
  /** Push endpoint hosts allowed although they are not public addresses (tests, a relay of your own). */
  pushAllowHosts: string[];
  telegram: { apiUrl: string; botToken: string; chatId: string } | undefined;
  /** WhatsApp Business Cloud API: a template message to the owner's number; undefined unless WHATSAPP_* are set. */
  whatsapp: WhatsAppConfig | undefined;
  /** Cloudflare Turnstile for form leads (fail closed); undefined without TURNSTILE_SECRET. */
  turnstile: { secret: string; verifyUrl: string } | undefined;
  spam: { minFillMs: number; perIpPerHour: number; perPhonePerHour: number };
}

export type ClickHouseConfig =
  | { mode: 'embedded'; path: string; database: string }
  | { mode: 'server'; url: string; database: string; user: string; password: string };

export type Env = Record<string, string | undefined>;

const MIN_LEAD_FORM_KEY = 16;
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
  }
}

/** The process environment over the values of `.env` in the working directory, if there is one. */
export function loadEnv(cwd = process.cwd(), env: Env = process.env): Env {
  const file = join(cwd, '.env');
  const fromFile = existsSync(file) ? parseEnv(readFileSync(file, 'utf8')) : {};
  return { ...fromFile, ...env };
}

export function readConfig(env: Env): Config {
  const problems: string[] = [];
  const str = (key: string, fallback: string) => {
    const v = env[key]?.trim();
    return v === undefined || v === '' ? fallback : v;
  };
  const optional = (key: string) => {
    const v = env[key]?.trim();
    return v === undefined || v === '' ? undefined : v;
  };
  const int = (key: string, fallback: number, min: number, max: number) => {
    const raw = optional(key);
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) {
      problems.push(`${key} must be an integer from ${min} to ${max}, got "${raw}"`);
      return fallback;
    }
    return n;
  };

  const dataDir = resolve(str('DATA_DIR', './data'));
  const trustProxy = parseTrustProxy(optional('TRUST_PROXY'), problems);
  // Behind a proxy on this host, only the proxy may reach us: a client connecting directly could
  // write its own X-Forwarded-For (and log in over plain HTTP). Compose sets HOST explicitly.
  const host = str('HOST', trustProxy.kind === 'none' ? '0.0.0.0' : '127.0.0.1');
  if (isIP(host) === 0 && host !== 'localhost') problems.push(`HOST must be an IP address, got "${host}"`);

  const logLevel = str('LOG_LEVEL', 'info');
  if (!LOG_LEVELS.includes(logLevel)) problems.push(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}`);

  const publicOrigin = optional('PUBLIC_ORIGIN');
  if (publicOrigin !== undefined && !/^https?:\/\/[^/]+$/.test(publicOrigin)) {
    problems.push(`PUBLIC_ORIGIN must be an origin like https://track.example.com, got "${publicOrigin}"`);
  }

  const adminToken = optional('ADMIN_TOKEN');
  if (adminToken !== undefined && adminToken.length < 16) problems.push('ADMIN_TOKEN must be at least 16 characters');

  const database = str('CLICKHOUSE_DATABASE', 'lean_capture');
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,63}$/.test(database)) {
    problems.push(`CLICKHOUSE_DATABASE must be a plain identifier, got "${database}"`);
  }
  const url = optional('CLICKHOUSE_URL');
  let clickhouse: ClickHouseConfig;
  if (url === undefined) {
    clickhouse = { mode: 'embedded', path: join(dataDir, 'clickhouse'), database };
  } else {
    if (!/^https?:\/\/.+/.test(url)) problems.push(`CLICKHOUSE_URL must be an http(s) URL, got "${url}"`);
    clickhouse = {
      mode: 'server',
      url,
      database,
      user: str('CLICKHOUSE_USER', 'default'),
      password: str('CLICKHOUSE_PASSWORD', ''),
    };
  }

  return finish(problems, {
    port: int('PORT', 8080, 0, 65535),
    host,
    dataDir,
    publicOrigin,
    logToJournald: optional('JOURNAL_STREAM') !== undefined,
    trustProxy,
    adminToken,
    logLevel,
    clickhouse,
    flushIntervalMs: int('FLUSH_INTERVAL_MS', 1000, 10, 60_000),
    flushMaxRows: int('FLUSH_MAX_ROWS', 1000, 1, 100_000),
    geoipCityDb: resolve(str('GEOIP_CITY_DB', join(dataDir, 'GeoLite2-City.mmdb'))),
    leads: readLeadsConfig(dataDir, publicOrigin, str, optional, int, problems),
    google: readGoogleConfig(str, optional, int, problems),
    meta: readMetaConfig(str, optional, problems),
    backup: readBackupConfig(str, optional, int, problems),
    rateLimits: {
      collect: int('RATE_LIMIT_COLLECT', 600, 0, 1_000_000),
      lead: int('RATE_LIMIT_LEAD', 10, 0, 100_000),
      hooks: int('RATE_LIMIT_HOOKS', 120, 0, 100_000),
      login: int('RATE_LIMIT_LOGIN', 10, 0, 10_000),
      globalPerSecond: int('RATE_LIMIT_GLOBAL', 2000, 0, 1_000_000),
      clients: int('RATE_LIMIT_CLIENTS', 100_000, 100, 10_000_000),
    },
    bodyTimeoutMs: int('HTTP_BODY_TIMEOUT_MS', 30_000, 100, 600_000),
    retention: { eventDays: int('EVENT_RETENTION_DAYS', 730, 0, 36_500), leadDays: int('LEAD_RETENTION_DAYS', 730, 0, 36_500) },
    checkouts: { stripe: optional('STRIPE_WEBHOOK_SECRET'), hotmart: optional('HOTMART_HOTTOK'), kiwify: optional('KIWIFY_WEBHOOK_TOKEN') },
    siteUrls: parseSiteUrls(optional('SITE_URLS'), problems),
    doctorAfterStartMs: int('CONNECTIONS_CHECK_DELAY_MS', 30_000, 0, 86_400_000),
    spendSyncMinutes: int('SPEND_SYNC_MINUTES', 60, 0, 1440),
    journal: {
      dir: join(dataDir, 'journal'),
      fsync: parseFsync(str('JOURNAL_FSYNC', '200'), problems),
      maxBytes: int('JOURNAL_MAX_BYTES', 1024 ** 3, 64 * 1024, Number.MAX_SAFE_INTEGER),
    },
  });
}

function readWhatsApp(str: (key: string, fallback: string) => string, optional: (key: string) => string | undefined, locale: string, problems: string[]): WhatsAppConfig | undefined {
  const phoneNumberId = optional('WHATSAPP_PHONE_NUMBER_ID');
  const token = optional('WHATSAPP_TOKEN');
  const to = optional('WHATSAPP_TO')?.replace(/[\s+()-]/g, '');
  const set = [phoneNumberId, token, to].filter((v) => v !== undefined).length;
  if (set === 0) return undefined;
  if (set < 3) {
    problems.push('WHATSAPP_PHONE_NUMBER_ID, WHATSAPP_TOKEN and WHATSAPP_TO go together: set all three or none');
    return undefined;
  }
  if (!/^\d{8,15}$/.test(to!)) problems.push(`WHATSAPP_TO must be the owner's number with its country code, got "${to}"`);
  const base = locale.split('-')[0]!.toLowerCase();
  return {
    apiUrl: str('WHATSAPP_API_URL', 'https://graph.facebook.com').replace(/\/$/, ''),
    apiVersion: str('WHATSAPP_API_VERSION', 'v24.0'),
    phoneNumberId: phoneNumberId!,
    token: token!,
    to: to!,
    template: str('WHATSAPP_TEMPLATE', 'lean_capture_alert'),
    language: str('WHATSAPP_TEMPLATE_LANGUAGE', base === 'pt' ? 'pt_BR' : base === 'tr' ? 'tr' : 'en'),
  };
}

/** The time zone of LOCALE's country where it has one zone people mean; UTC elsewhere (set TIMEZONE). */
const COUNTRY_ZONES: Record<string, string> = {
  TR: 'Europe/Istanbul', BR: 'America/Sao_Paulo', PT: 'Europe/Lisbon', DE: 'Europe/Berlin', AT: 'Europe/Vienna', CH: 'Europe/Zurich', FR: 'Europe/Paris', ES: 'Europe/Madrid',
  IT: 'Europe/Rome', NL: 'Europe/Amsterdam', BE: 'Europe/Brussels', GB: 'Europe/London', IE: 'Europe/Dublin', PL: 'Europe/Warsaw', GR: 'Europe/Athens', AZ: 'Asia/Baku',
  AE: 'Asia/Dubai', SA: 'Asia/Riyadh', IN: 'Asia/Kolkata', AR: 'America/Argentina/Buenos_Aires', CO: 'America/Bogota', CL: 'America/Santiago', PE: 'America/Lima',
};
function zoneOfLocale(locale: string): string {
  let region: string | undefined;
  try {
    region = new Intl.Locale(locale).region;
  } catch {
    region = undefined;
  }
  return (region && COUNTRY_ZONES[region]) || 'UTC';
}

function parseSiteUrls(raw: string | undefined, problems: string[]): string[] {
  const urls = (raw ?? '').split(',').map((u) => u.trim()).filter((u) => u !== '');
  for (const url of urls) if (!/^https?:\/\/[^/\s]+/.test(url)) problems.push(`SITE_URLS must be http(s) page addresses separated by commas, got "${url}"`);
  return urls;
}

function parseTrustProxy(raw: string | undefined, problems: string[]): TrustProxy {
  if (raw === undefined || raw === '0' || raw === 'false') return { kind: 'none' };
  if (raw === 'cloudflare') return { kind: 'cloudflare' };
  const hops = Number(raw);
  if (Number.isInteger(hops) && hops > 0 && hops <= 10) return { kind: 'hops', hops };
  problems.push(`TRUST_PROXY must be 0, a number of proxy hops (1-10) or "cloudflare", got "${raw}"`);
  return { kind: 'none' };
}

function readLeadsConfig(
  dataDir: string,
  publicOrigin: string | undefined,
  str: (key: string, fallback: string) => string,
  optional: (key: string) => string | undefined,
  int: (key: string, fallback: number, min: number, max: number) => number,
  problems: string[],
): LeadsConfig {
  const defaultCountry = optional('DEFAULT_COUNTRY')?.toUpperCase();
  if (defaultCountry !== undefined && !/^[A-Z]{2}$/.test(defaultCountry)) problems.push(`DEFAULT_COUNTRY must be a two-letter country code like TR, got "${defaultCountry}"`);
  const locale = str('LOCALE', 'en');
  try {
    new Intl.DateTimeFormat(locale);
  } catch {
    problems.push(`LOCALE must be a BCP 47 language tag like tr-TR, got "${locale}"`);
  }
  const timeZone = str('TIMEZONE', zoneOfLocale(locale));
  try {
    if (!/^[A-Za-z0-9_+\-/]+$/.test(timeZone)) throw new Error();
    new Intl.DateTimeFormat('en', { timeZone });
  } catch {
    problems.push(`TIMEZONE must be an IANA time zone like Europe/Istanbul, got "${timeZone}"`);
  }
  const currency = str('CURRENCY', 'EUR').toUpperCase();
  if (!/^[A-Z]{3}$/.test(currency)) problems.push(`CURRENCY must be an ISO 4217 code like TRY or EUR, got "${currency}"`);
  const thanksUrl = optional('LEAD_THANKS_URL');
  if (thanksUrl !== undefined && !/^https?:\/\/./.test(thanksUrl)) problems.push(`LEAD_THANKS_URL must be an http(s) URL, got "${thanksUrl}"`);
  const botToken = optional('TELEGRAM_BOT_TOKEN');
  const chatId = optional('TELEGRAM_CHAT_ID');
  if ((botToken === undefined) !== (chatId === undefined)) problems.push('TELEGRAM_BOT_TOKEN and TELEGRAM_CHAT_ID go together: set both or neither');
  const vapid = { publicKey: optional('VAPID_PUBLIC_KEY'), privateKey: optional('VAPID_PRIVATE_KEY'), subject: optional('VAPID_SUBJECT') ?? (publicOrigin?.startsWith('https:') ? publicOrigin : undefined) };
  if ((vapid.publicKey === undefined) !== (vapid.privateKey === undefined)) problems.push('VAPID_PUBLIC_KEY and VAPID_PRIVATE_KEY go together: set both or neither (unset = generated once and kept)');
  if (vapid.subject !== undefined && !/^(mailto:|https:)/.test(vapid.subject)) problems.push(`VAPID_SUBJECT must be a mailto: or https: URL, got "${vapid.subject}"`);
  const leadFormKey = optional('GOOGLE_LEAD_FORM_KEY');
  // The key is the webhook's only credential; Google Ads accepts any text, so we ask for a guess-proof one.
  if (leadFormKey !== undefined && leadFormKey.length < MIN_LEAD_FORM_KEY) problems.push(`GOOGLE_LEAD_FORM_KEY must be at least ${MIN_LEAD_FORM_KEY} characters (a random one: openssl rand -hex 16), got ${leadFormKey.length}`);
  const notifyIncludeName = str('NOTIFY_INCLUDE_NAME', 'false');
  if (!['true', 'false'].includes(notifyIncludeName)) problems.push('NOTIFY_INCLUDE_NAME must be true or false');
  return {
    databasePath: join(dataDir, 'leads.db'),
    defaultCountry,
    locale,
    timeZone,
    currency,
    thanksUrl,
    googleLeadFormKey: leadFormKey,
    notifyIncludeName: notifyIncludeName === 'true',
    outboxMaxAttempts: int('OUTBOX_MAX_ATTEMPTS', 10, 1, 100),
    outboxParkedProbeMs: int('OUTBOX_PARKED_PROBE_MS', 900_000, 100, 86_400_000),
    outboxStatusCheckMs: int('OUTBOX_STATUS_CHECK_MS', 60_000, 100, 3_600_000),
    vapid,
    pushAllowHosts: (optional('PUSH_ALLOW_HOSTS') ?? '').split(',').map((h) => h.trim()).filter(Boolean),
    telegram: botToken && chatId ? { apiUrl: str('TELEGRAM_API_URL', 'https://api.telegram.org').replace(/\/$/, ''), botToken, chatId } : undefined,
    whatsapp: readWhatsApp(str, optional, locale, problems),
    turnstile: optional('TURNSTILE_SECRET') ? { secret: optional('TURNSTILE_SECRET')!, verifyUrl: str('TURNSTILE_VERIFY_URL', 'https://challenges.cloudflare.com/turnstile/v0/siteverify') } : undefined,
    spam: { minFillMs: int('LEAD_MIN_FILL_MS', 2000, 0, 600_000), perIpPerHour: int('LEAD_FLOOD_PER_IP', 5, 1, 100_000), perPhonePerHour: int('LEAD_FLOOD_PER_PHONE', 3, 1, 100_000) },
  };
}

function readBackupConfig(str: (key: string, fallback: string) => string, optional: (key: string) => string | undefined, int: (key: string, fallback: number, min: number, max: number) => number, problems: string[]): BackupConfig | undefined {
  const bucket = optional('S3_BUCKET');
  const keyText = optional('BACKUP_ENCRYPTION_KEY');
  let encryptionKey: Buffer | undefined;
  if (keyText !== undefined) {
    const hex = /^[0-9a-fA-F]{64}$/.test(keyText);
    encryptionKey = Buffer.from(keyText, hex ? 'hex' : 'base64');
    if (encryptionKey.length !== 32 || (!hex && encryptionKey.toString('base64') !== keyText)) {
      problems.push('BACKUP_ENCRYPTION_KEY must be 32 random bytes, as 64 hex characters or base64 (openssl rand -base64 32)');
    }
  }
  const forcePathStyle = str('S3_FORCE_PATH_STYLE', 'false');
  if (!['true', 'false'].includes(forcePathStyle)) problems.push('S3_FORCE_PATH_STYLE must be true or false');
  const endpoint = optional('S3_ENDPOINT');
  if (endpoint !== undefined && !/^https?:\/\/.+/.test(endpoint)) problems.push(`S3_ENDPOINT must be an http(s) URL, got "${endpoint}"`);
  let prefix = str('S3_PREFIX', 'lean-capture/');
  if (prefix !== '' && !prefix.endsWith('/')) prefix += '/';
  const keep = { daily: int('BACKUP_KEEP_DAILY', 14, 1, 3650), weekly: int('BACKUP_KEEP_WEEKLY', 8, 0, 520), monthly: int('BACKUP_KEEP_MONTHLY', 12, 0, 120) };
  const maxAgeHours = int('BACKUP_MAX_AGE_HOURS', 36, 1, 24 * 365);
  if (bucket === undefined) return undefined;
  return {
    s3: {
      endpoint, region: str('S3_REGION', 'us-east-1'), bucket, prefix, accessKeyId: optional('S3_ACCESS_KEY_ID'), secretAccessKey: optional('S3_SECRET_ACCESS_KEY'), forcePathStyle: forcePathStyle === 'true',
      timeoutMs: int('S3_TIMEOUT_MS', 60_000, 100, 3_600_000),
    },
    timeoutMs: int('BACKUP_TIMEOUT_MS', 7_200_000, 1000, 86_400_000),
    encryptionKey,
    keep,
    maxAgeHours,
  };
}

function readMetaConfig(str: (key: string, fallback: string) => string, optional: (key: string) => string | undefined, problems: string[]): MetaConfig | undefined {
  const pixelId = optional('META_PIXEL_ID');
  const accessToken = optional('META_ACCESS_TOKEN');
  if (pixelId === undefined && accessToken === undefined) return undefined;
  if (pixelId === undefined || accessToken === undefined) {
    problems.push('META_PIXEL_ID and META_ACCESS_TOKEN go together: set both or neither');
    return undefined;
  }
  if (!/^\d+$/.test(pixelId)) problems.push(`META_PIXEL_ID must be the numeric pixel (dataset) id, got "${pixelId}"`);
  const apiVersion = str('META_API_VERSION', 'v24.0');
  if (!/^v\d+\.\d+$/.test(apiVersion)) problems.push(`META_API_VERSION must look like v24.0, got "${apiVersion}"`);
  const adAccountId = optional('META_AD_ACCOUNT_ID')?.replace(/^act_/, '');
  if (adAccountId !== undefined && !/^\d+$/.test(adAccountId)) problems.push(`META_AD_ACCOUNT_ID must be the numeric ad account id (act_ optional), got "${adAccountId}"`);
  return { pixelId, accessToken, apiVersion, graphUrl: str('META_GRAPH_URL', 'https://graph.facebook.com'), testEventCode: optional('META_TEST_EVENT_CODE'), adAccountId };
}

/** Google is optional; like every integration, a partial setup stops the start with what is missing. */
function readGoogleConfig(str: (key: string, fallback: string) => string, optional: (key: string) => string | undefined, int: (key: string, fallback: number, min: number, max: number) => number, allProblems: string[]): GoogleConfig | undefined {
  const digits = (key: string) => optional(key)?.replace(/-/g, '');
  const values = {
    clientId: optional('GOOGLE_CLIENT_ID'),
    clientSecret: optional('GOOGLE_CLIENT_SECRET'),
    refreshToken: optional('GOOGLE_REFRESH_TOKEN'),
    customerId: digits('GOOGLE_ADS_CUSTOMER_ID'),
    conversionActionId: optional('GOOGLE_CONVERSION_ACTION_ID'),
  };
  const keys: Record<keyof typeof values, string> = {
    clientId: 'GOOGLE_CLIENT_ID',
    clientSecret: 'GOOGLE_CLIENT_SECRET',
    refreshToken: 'GOOGLE_REFRESH_TOKEN',
    customerId: 'GOOGLE_ADS_CUSTOMER_ID',
    conversionActionId: 'GOOGLE_CONVERSION_ACTION_ID',
  };
  const set = Object.values(values).filter((v) => v !== undefined).length;
  if (set === 0) return undefined;
  const problems = (Object.keys(values) as Array<keyof typeof values>).filter((k) => values[k] === undefined).map((k) => `${keys[k]} is missing`);
  const loginCustomerId = digits('GOOGLE_ADS_LOGIN_CUSTOMER_ID');
  for (const [key, value] of [['GOOGLE_ADS_CUSTOMER_ID', values.customerId], ['GOOGLE_ADS_LOGIN_CUSTOMER_ID', loginCustomerId], ['GOOGLE_CONVERSION_ACTION_ID', values.conversionActionId]] as const) {
    if (value !== undefined && !/^\d{1,20}$/.test(value)) problems.push(`${key} must be a number (dashes allowed), got "${value}"`);
  }
  if (problems.length > 0) {
    allProblems.push(...problems.map((p) => `${p} (the GOOGLE_* keys go together: set them all or none)`));
    return undefined;
  }
  return {
    ...(values as { [K in keyof typeof values]: string }),
    loginCustomerId,
    endpoint: str('GOOGLE_DATAMANAGER_ENDPOINT', 'https://datamanager.googleapis.com'),
    tokenUrl: str('GOOGLE_OAUTH_TOKEN_URL', 'https://oauth2.googleapis.com/token'),
    clickWindowDays: int('GOOGLE_CLICK_WINDOW_DAYS', 90, 1, 90),
    ads: readGoogleAdsApi(str, optional, allProblems),
  };
}

function readGoogleAdsApi(str: (key: string, fallback: string) => string, optional: (key: string) => string | undefined, problems: string[]): GoogleConfig['ads'] {
  const developerToken = optional('GOOGLE_ADS_DEVELOPER_TOKEN');
  if (developerToken === undefined) return undefined;
  // v26: released October 2026, sunset projected November 2027 (Google's release schedule).
  const version = str('GOOGLE_ADS_API_VERSION', 'v26');
  if (!/^v\d+(_\d+)?$/.test(version)) problems.push(`GOOGLE_ADS_API_VERSION must look like v26, got "${version}"`);
  return { developerToken, endpoint: str('GOOGLE_ADS_API_ENDPOINT', 'https://googleads.googleapis.com').replace(/\/$/, ''), version };
}

function parseFsync(raw: string, problems: string[]): FsyncPolicy {
  if (raw === 'always' || raw === 'off') return raw;
  const ms = Number(raw);
  if (Number.isInteger(ms) && ms >= 1 && ms <= 60_000) return ms;
  problems.push(`JOURNAL_FSYNC must be "always", "off" or an interval in ms (1-60000), got "${raw}"`);
  return 200;
}

function finish(problems: string[], config: Config): Config {
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}
