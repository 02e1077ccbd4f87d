// The connections check: every configured integration tried for real, nothing counted anywhere
// (Google's test sale is validateOnly, Meta's Lead carries the test code, nothing is stored as a
// lead, event or delivery), each result in plain words with its fix. The server runs it for
// GET /api/admin/doctor; `npm run doctor` asks the server, or runs it alone when none is running.
import type { BackupRecord } from '../backup/service.ts';
import type { Config } from '../config.ts';
import type { Storage } from '../db/storage.ts';
import { dayIn, withDeadline } from '../time.ts';
import { backupChecks } from './backups.ts';
import { CHECK_MESSAGE, pushChecks, telegramChecks } from './notifications.ts';
import { googleChecks, metaChecks, type Dated } from './platforms.ts';
import { fail, ok, report, warn, type Check, type DoctorReport } from './report.ts';
import { clickhouseChecks, clockCheck, configCheck, diskCheck, geoipCheck, publicOriginCheck, uwsCheck, type ClickHouseFacts } from './server.ts';
import { signalChecks, type Platform } from './signal.ts';
import { websiteChecks } from './website.ts';

export { CHECK_MESSAGE };

/** One group of checks may take this long (several requests, each with its own 10 s limit). */
const GROUP_DEADLINE_MS = 45_000;
const DAY = 86_400_000;

export interface DoctorDeps {
  config: Config;
  storage: Storage;
  clickhouse: ClickHouseFacts;
  /** The uWS build the running server loaded (undefined when no server runs). */
  uwsBuild: string | undefined;
  lastGoodBackup: () => BackupRecord | undefined;
  /** Queues a test push to every device through the outbox; only a running server can send it. */
  sendTestPush?: () => number;
}

export interface DoctorOptions {
  /** Also send the test notifications: a Telegram message, a push to each device. */
  send?: boolean;
}

export async function runDoctor(deps: DoctorDeps, options: DoctorOptions = {}): Promise<DoctorReport> {
  const { config, storage } = deps;
  const send = options.send === true;
  const dates: Dated[] = [];
  const group = (integration: string, work: () => Promise<Check[]>): Promise<Check[]> =>
    withDeadline(work(), GROUP_DEADLINE_MS, `no result within ${GROUP_DEADLINE_MS / 1000} s`).catch((err: Error) => [fail(integration, `the check itself failed: ${err.message.slice(0, 300)}`, 'Run it again; if it keeps failing, the server log has the details.')]);

  const now = Date.now();
  const leads30d = storage.reports.signal(now - 30 * DAY, now);
  const today = dayIn(now, config.leads.timeZone);
  const [origin, clickhouse, google, meta, telegram, backups, website] = await Promise.all([
    group('Server', async () => [await publicOriginCheck(config.publicOrigin)]),
    group('ClickHouse', () => clickhouseChecks(deps.clickhouse)),
    group('Google Ads', async () =>
      config.google
        ? googleChecks(config.google, config.leads.currency, leads30d.reduce((n, r) => n + r.google, 0), leads30d.reduce((n, r) => n + r.leads, 0), dates, today)
        : [warn('Google Ads', 'not configured: sales are not sent to Google', 'Set the GOOGLE_* keys (docs/deploy.md, section 6).')]),
    group('Meta', async () => (config.meta ? metaChecks(config.meta, config.publicOrigin, dates, today) : [warn('Meta', 'not configured: leads and sales are not sent to Meta', 'Set META_PIXEL_ID and META_ACCESS_TOKEN (docs/deploy.md, section 7).')])),
    group('Telegram', async () => (config.leads.telegram ? telegramChecks(config.leads.telegram, send) : [ok('Telegram', 'not configured (optional: web push notifies the phone)')])),
    group('Backups', () => backupChecks(config.backup, deps.lastGoodBackup())),
    group('Website', () => websiteChecks(config.siteUrls, config.publicOrigin)),
  ]);
  const devices = storage.push.list().length;
  const platforms: Platform[] = [...(config.google ? (['google'] as const) : []), ...(config.meta ? (['meta'] as const) : [])];
  return report([
    configCheck(config),
    ...origin,
    clockCheck(dates),
    diskCheck(config.dataDir, config.journal.maxBytes),
    uwsCheck(deps.uwsBuild),
    ...clickhouse,
    geoipCheck(config.geoipCityDb),
    ...google,
    ...meta,
    ...telegram,
    ...pushChecks(storage.settings.get('vapid') !== undefined || Boolean(config.leads.vapid.publicKey && config.leads.vapid.privateKey), devices, send, deps.sendTestPush),
    ...backups,
    ...website,
    ...webhookChecks(config, (platform) => storage.checkout.lastReceived(platform)),
    ...signalChecks(storage.reports, platforms),
  ]);
}

/** Webhooks and spam protection: configured or not, and what to paste into each provider's console. */
function webhookChecks(config: Config, lastReceived: (platform: 'stripe' | 'hotmart' | 'kiwify') => number | undefined): Check[] {
  const origin = config.publicOrigin ?? 'https://<PUBLIC_ORIGIN>';
  return [
    config.leads.turnstile ? ok('Turnstile', 'TURNSTILE_SECRET is set: form leads need a solved challenge (put the widget in each form)') : ok('Turnstile', 'not configured (optional: the honeypot and flood rules hold spam)'),
    ...checkoutChecks(config, origin, lastReceived),
    config.leads.googleLeadFormKey
      ? ok('Google lead forms', `key set; in Google Ads → the lead form asset → Lead delivery, the webhook URL is ${origin}/hooks/google-lead-form and the key is GOOGLE_LEAD_FORM_KEY`)
      : ok('Google lead forms', `not configured (optional): set GOOGLE_LEAD_FORM_KEY and paste ${origin}/hooks/google-lead-form into the lead form's webhook`),
  ];
}

/**
 * The hosted checkouts: each set up or not, where to paste its URL, and the proof that the
 * platform reaches us (the last webhook it sent; each platform has a "send test" button).
 */
function checkoutChecks(config: Config, origin: string, lastReceived: (platform: 'stripe' | 'hotmart' | 'kiwify') => number | undefined): Check[] {
  const setups = [
    { platform: 'stripe', name: 'Stripe', secret: config.checkouts.stripe, key: 'STRIPE_WEBHOOK_SECRET', where: 'Stripe → Developers → Webhooks (events checkout.session.completed, checkout.session.async_payment_succeeded, payment_intent.succeeded, charge.refunded)' },
    { platform: 'hotmart', name: 'Hotmart', secret: config.checkouts.hotmart, key: 'HOTMART_HOTTOK', where: 'Hotmart → Tools → Webhook (API and notifications), version 2.0.0 (events approved, complete, refunded, chargeback, cancelled)' },
    { platform: 'kiwify', name: 'Kiwify', secret: config.checkouts.kiwify, key: 'KIWIFY_WEBHOOK_TOKEN', where: 'Kiwify → Apps → Webhooks (events approved purchase, refund, chargeback)' },
  ] as const;
  return setups.map(({ platform, name, secret, key, where }) => {
    const url = `${origin}/hooks/${platform}`;
    if (!secret) return ok(name, `not configured (optional): to record sales paid on ${name}, add ${url} in ${where} and set ${key}`);
    const last = lastReceived(platform);
    return last === undefined
      ? warn(name, `${key} is set, but no webhook from ${name} has arrived yet`, `Add ${url} in ${where}, then send its test event: this line turns ok once one arrives.`)
      : ok(name, `${key} set; the last webhook from ${name} arrived ${new Date(last).toISOString()} at ${url}`);
  });
}
