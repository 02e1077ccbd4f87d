// Composition root: config → stores → HTTP → workers, and one shutdown path that stops
// accepting, flushes every accepted row to ClickHouse, then exits 0.
import { chmodSync, mkdirSync } from 'node:fs';
import { leadAdminRoutes } from './admin/leads.ts';
import { adminRoutes } from './admin/routes.ts';
import { LoginThrottle, Owner } from './admin/owner.ts';
import { sessionRoutes } from './admin/session.ts';
import { statsRoute } from './admin/stats.ts';
import { loadPwa, pwaRoutes } from './admin/pwa.ts';
import type { AdminAuth } from './admin/auth.ts';
import { GeoLocator } from './collect/geo.ts';
import { collectRoute } from './collect/route.ts';
import { buildTracker, trackerRoutes } from './tracker/serve.ts';
import { AgentParser } from './collect/user-agent.ts';
import { APP_VERSION, ConfigError, loadEnv, readConfig, type Config } from './config.ts';
import { Batcher } from './events/batcher.ts';
import { Journal } from './events/journal.ts';
import { openClickHouse } from './events/clickhouse.ts';
import { migrate } from './events/schema.ts';
import { buildApp, listen, type Guard, type Request, type Route } from './http/server.ts';
import { rateLimit, TokenBuckets } from './http/rate-limit.ts';
import { clientNet } from './http/client-ip.ts';
import { loadUws, UwsLoadError } from './http/uws.ts';
import { createLogger } from './log.ts';
import { createMetrics, type Metrics } from './metrics.ts';
import { openDatabase, schemaVersion as sqliteSchemaVersion } from './leads/database.ts';
import { leadEventRow, leadsFromContactClicks } from './leads/from-events.ts';
import { enqueueNotifications, notifyOwner } from './leads/notify.ts';
import { Turnstile } from './leads/spam.ts';
import { leadRoutes } from './leads/routes.ts';
import { stripeRoute } from './leads/stripe.ts';
import { LeadStore } from './leads/store.ts';
import { Outbox } from './outbox/outbox.ts';
import { OutboxWorker } from './outbox/worker.ts';
import { telegram } from './destinations/telegram.ts';
import { vapidKeys, webPush } from './destinations/webpush.ts';
import { PushEndpoints } from './destinations/push-endpoint.ts';
import { google } from './destinations/google.ts';
import { meta } from './destinations/meta.ts';
import { backupRoutes } from './admin/backups.ts';
import { privacyRoutes } from './admin/privacy.ts';
import { anonymiseClosedLeads, applyEventRetention } from './privacy/retention.ts';
import { backupDeps } from './backup/backup.ts';
import { Backups } from './backup/service.ts';

const SHUTDOWN_FLUSH_MS = 10_000;

async function main(): Promise<void> {
  let config: Config;
  try {
    config = readConfig(loadEnv());
  } catch (err) {
    if (err instanceof ConfigError) fatal(err.message);
    throw err;
  }
  const log = createLogger(config.logLevel, config.logToJournald);

  let loaded;
  try {
    loaded = loadUws();
  } catch (err) {
    if (err instanceof UwsLoadError) fatal(err.message);
    throw err;
  }
  for (const reason of loaded.skipped) log.info({ reason }, 'uWebSockets.js build skipped');
  log.info({ build: loaded.build }, 'uWebSockets.js loaded');

  // Leads, the journal and backup staging hold personal data: everything we create is owner-only.
  process.umask(0o077);
  try {
    mkdirSync(config.dataDir, { recursive: true });
  } catch (err) {
    fatal(`DATA_DIR ${config.dataDir} cannot be created (${(err as NodeJS.ErrnoException).code}): set DATA_DIR in .env to a writable directory (with the systemd unit: /var/lib/lean-capture)`);
  }
  try {
    chmodSync(config.dataDir, 0o700);
  } catch (err) {
    log.warn({ err, dataDir: config.dataDir }, 'DATA_DIR could not be made owner-only (chmod 700 it yourself)');
  }
  const metrics = createMetrics();
  const db = await openClickHouse(config.clickhouse);
  const schemaVersion = await migrate(db);
  log.info({ mode: db.mode, database: config.clickhouse.database, schemaVersion }, 'ClickHouse ready');

  const ttl = await applyEventRetention(db, config.clickhouse.database, config.retention.eventDays);
  if (ttl !== 'unchanged') log.info({ days: config.retention.eventDays, ttl }, 'event retention changed');

  const geo = new GeoLocator(config.geoipCityDb, log);
  const journal = new Journal(config.journal, log, metrics);
  const batcher = new Batcher(db, journal, { table: 'events', flushIntervalMs: config.flushIntervalMs, flushMaxRows: config.flushMaxRows }, log, metrics);
  metrics.gauge('lc_batch_pending_rows', 'Rows accepted and not yet confirmed by ClickHouse', () => batcher.snapshot().pendingRows);

  // Leads, the outbox and the owner's notifications.
  const leadsDb = openDatabase(config.leads.databasePath);
  const store = new LeadStore(leadsDb);
  const outbox = new Outbox(leadsDb, config.leads.outboxMaxAttempts, config.leads.outboxStatusCheckMs);
  if (config.leads.vapid.subject === undefined) log.warn('VAPID_SUBJECT is not set (mailto: or https: URL): some push services reject pushes without a real contact');
  const vapid = vapidKeys(leadsDb, config.leads.vapid, 'mailto:owner@lean-capture.invalid');
  const pushEndpoints = new PushEndpoints(new Set(config.leads.pushAllowHosts));
  const destinations = [
    webPush(leadsDb, vapid, pushEndpoints),
    ...(config.leads.telegram ? [telegram(config.leads.telegram)] : []),
    ...(config.google ? [google(config.google, store), google(config.google, store, true)] : []),
    ...(config.meta ? [meta(config.meta, store)] : []),
  ];
  if (config.meta) {
    store.onCreate.push((lead) => !lead.flag && outbox.enqueue('meta', `meta:lead:${lead.id}`, lead.id, { leadId: lead.id, event: 'Lead' }));
    // One Purchase per lead: Meta keeps the first event of an event_id and counts a second one as
    // another purchase, so a correction cannot reach it. Before it is sent, a correction changes
    // what is sent (the event is built from the lead at send time).
    store.onSale.push((lead, sale) => {
      const existing = outbox.enqueue('meta', `meta:purchase:${lead.id}`, lead.id, { leadId: lead.id, event: 'Purchase' });
      if (existing === 'done') store.remark(lead.id, 'meta', 'meta', `Meta keeps the first value it received; ${sale.value} ${sale.currency} goes to Google only (Meta takes no corrections)`);
    });
  }
  if (config.google) {
    // A sale, or a restated value (a correction, a refund, LOST after SOLD), is one Google event
    // under the lead's transaction id; each change of the lead is one job (updated_at tells them apart).
    // Test leads go to Google as validateOnly requests (google-test): checked, never recorded.
    store.onSale.push((lead, sale) => outbox.enqueue(lead.is_test ? 'google-test' : 'google', `google:${lead.id}:${sale.value}:${sale.currency}:${sale.at}:${lead.updated_at}`, lead.id, { leadId: lead.id }));
  } else log.warn({ google: config.googleProblems }, 'sales are not sent to Google Ads');
  const worker = new OutboxWorker(outbox, destinations, log, metrics, { parkedProbeMs: config.leads.outboxParkedProbeMs, statusCheckMs: config.leads.outboxStatusCheckMs });
  const agents = new AgentParser();
  const notify = { includeName: config.leads.notifyIncludeName, telegram: config.leads.telegram !== undefined, locale: config.leads.locale };
  // A lead held by the spam checks is stored for the owner to look at, not pushed to their phone;
  // a flood says so once an hour instead of once per lead.
  store.onCreate.push((lead) => {
    if (!lead.flag) enqueueNotifications(leadsDb, outbox, lead, notify);
    else if (lead.flag === 'flood') notifyOwner(leadsDb, outbox, `lead-flood:${new Date().toISOString().slice(0, 13)}`, { title: 'Leads held', body: 'Many leads from one source within an hour: they are held in the app, not notified one by one.', url: '/admin/#/' }, notify.telegram);
  });
  store.onCreate.push((lead) =>
    // After the commit: the notifications go out now, and the lead is counted in ClickHouse.
    queueMicrotask(() => {
      worker.wake();
      if (lead.flag) return; // held leads are not counted
      journal
        .append(JSON.stringify(leadEventRow(lead, agents)) + '\n', 1)
        .then(() => batcher.added())
        .catch((err) => log.warn({ err, lead: lead.id }, 'lead stored, but its analytics event could not be journaled'));
    }),
  );
  metrics.gauge('lc_outbox_dead_jobs', 'Outbox jobs that stopped retrying (replay them from the admin API)', () => outbox.counts().dead);
  metrics.gauge('lc_outbox_pending_jobs', 'Outbox jobs waiting to be sent', () => outbox.counts().pending);
  worker.wake();

  // Backups: run here when asked (only this process can read the embedded ClickHouse).
  const backups = new Backups(
    config.backup && backupDeps({ ...config, backup: config.backup }, leadsDb, db),
    leadsDb,
    {
      notify: (key, title, body) => {
        notifyOwner(leadsDb, outbox, key, { title, body, url: '/admin/#/settings' }, notify.telegram);
        worker.wake();
      },
    },
    log,
  );
  if (config.backup && !config.backup.encryptionKey) log.warn('BACKUP_ENCRYPTION_KEY is not set: backups (which hold phone numbers) are stored unencrypted');
  // Hourly chores: late backups, and leads whose contact data retention has ended.
  const anonymise = () => {
    const n = anonymiseClosedLeads(leadsDb, config.retention.leadDays);
    if (n > 0) log.info({ leads: n, days: config.retention.leadDays }, 'closed leads anonymised (retention)');
  };
  anonymise();
  const backupWatch = setInterval(() => {
    backups.checkAge();
    anonymise();
  }, 3_600_000);
  backupWatch.unref();

  const owner = new Owner(leadsDb);
  const auth: AdminAuth = { adminToken: config.adminToken, owner, secureCookies: config.publicOrigin?.startsWith('https://') ?? false };
  if (config.adminToken === undefined) log.info('ADMIN_TOKEN is not set: scripts cannot use the admin API, and /metrics is served to loopback only');

  const tracker = buildTracker();
  const trackerLead = buildTracker('lead');
  log.info({ bytes: tracker.code.length, gzip: tracker.gzip.length, brotli: tracker.brotli.length, leadPartGzip: trackerLead.gzip.length }, 'tracker built');
  const app = buildApp({ uws: loaded.uws, log, metrics, https: config.publicOrigin?.startsWith('https://') ?? false, bodyTimeoutMs: config.bodyTimeoutMs, trustProxy: config.trustProxy }, withRateLimits(config, metrics, [
    ...trackerRoutes(tracker, trackerLead),
    ...pwaRoutes(loadPwa({ locale: config.leads.locale, currency: config.leads.currency })),
    collectRoute({
      geo,
      agents,
      journal,
      batcher,
      metrics,
      onContactClicks: (beacons, hit) => {
        try {
          leadsFromContactClicks({ store, db: leadsDb, spam: config.leads.spam }, beacons, hit);
        } catch (err) {
          log.error({ err }, 'a call/WhatsApp click was journaled but its lead could not be stored');
        }
      },
    }),
    ...sessionRoutes({ auth, throttle: new LoginThrottle(), log }),
    statsRoute({ auth, db: leadsDb, clickhouse: db, currency: config.leads.currency }),
    ...(config.stripeWebhookSecret
      ? [stripeRoute({ secret: config.stripeWebhookSecret, db: leadsDb, store, defaultCountry: config.leads.defaultCountry, log, onSale: () => worker.wake() })]
      : []),
    ...leadRoutes({
      store,
      geo,
      defaultCountry: config.leads.defaultCountry,
      thanksUrl: config.leads.thanksUrl,
      googleLeadFormKey: config.leads.googleLeadFormKey,
      db: leadsDb,
      spam: config.leads.spam,
      turnstile: config.leads.turnstile && new Turnstile(config.leads.turnstile.secret, config.leads.turnstile.verifyUrl),
    }),
    ...leadAdminRoutes({
      auth,
      db: leadsDb,
      store,
      outbox,
      worker,
      clickhouse: db,
      defaultCountry: config.leads.defaultCountry,
      currency: config.leads.currency,
      vapidPublicKey: vapid.publicKey,
      pushEndpoints,
    }),
    ...backupRoutes(auth, backups),
    ...privacyRoutes({ auth, db: leadsDb, clickhouse: db, batcher, defaultCountry: config.leads.defaultCountry, log }),
    ...adminRoutes({
      auth,
      db,
      database: config.clickhouse.database,
      batcher,
      journal,
      geo,
      metrics,
      uwsBuild: loaded.build,
      schemaVersion,
      appVersion: APP_VERSION,
      statusExtras: () => ({
        leads: { database: config.leads.databasePath, schemaVersion: sqliteSchemaVersion(leadsDb) },
        outbox: { ...outbox.counts(), destinations: worker.status() },
        google: { configured: config.google !== undefined, problems: config.googleProblems },
        backup: backups.status(),
      }),
    }),
  ]));
  const server = await listen(app, loaded.uws, config.host, config.port);
  log.info({ host: config.host, port: server.port }, 'listening');
  metrics.loopDelay.reset(); // opening the stores blocks once at start; measure stalls from here
  if (!owner.hasPassword()) {
    const { code, expiresAt } = owner.newSetupCode();
    const base = config.publicOrigin ?? `http://${config.host === '0.0.0.0' ? 'localhost' : config.host}:${server.port}`;
    log.warn({ setupUrl: `${base}/admin/#/setup/${code}`, expiresAt: new Date(expiresAt).toISOString() }, 'no owner password yet: open this one-time link to set it (or run npm run set-password)');
  }

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down: no new connections, flushing');
    server.close();
    app.close(); // ends keep-alive connections too, so no request arrives after the flush
    geo.close();
    await worker.stop();
    clearInterval(backupWatch); // a backup still running is abandoned: no manifest, so no backup
    const unflushed = await batcher.close(SHUTDOWN_FLUSH_MS);
    journal.close();
    if (unflushed > 0) log.warn({ rows: unflushed }, 'ClickHouse did not confirm these rows in time; they stay in the journal for the next start');
    await db.close();
    leadsDb.close();
    log.info({ confirmedRows: batcher.snapshot().confirmedRows }, 'stopped');
    log.flush();
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  // A terminal closing (or an admin's habit) must not end the server silently: settings are read
  // at start, and the GeoIP database reloads by itself when its file changes.
  process.on('SIGHUP', () => log.info('SIGHUP: nothing to reload (restart to apply .env changes; GeoIP reloads by itself); still running'));
}

/** Puts the rate limits on the routes they protect: beacons, leads and webhooks, the owner's login. */
function withRateLimits(config: Config, metrics: Metrics, routes: Route[]): Route[] {
  const clientOf = (req: Request) => clientNet(req.clientIp);
  const { collect, lead, hooks, login, globalPerSecond, clients } = config.rateLimits;
  const global = new TokenBuckets(globalPerSecond * 60, 1, globalPerSecond);
  const guard = (name: string, perMinute: number, withGlobal: boolean) =>
    perMinute === 0 && (!withGlobal || globalPerSecond === 0) ? undefined // off: no work per request
      : rateLimit({ name, perClient: new TokenBuckets(perMinute, clients), global: withGlobal ? global : undefined }, clientOf, metrics.rateLimited);
  const beacons = guard('beacon', collect, true);
  const leads = guard('lead', lead, true);
  // Webhooks come from a few addresses of Stripe's or Google's, each signed or keyed: a busy day's
  // payments and refunds must not meet a visitor's lead limit.
  const webhooks = guard('webhook', hooks, true);
  const logins = guard('login', login, false);
  const limited = (route: Route, limit: Guard | undefined): Route => (limit ? { ...route, guards: [limit, ...(route.guards ?? [])] } : route);
  return routes.map((route) => {
    if (route.path === '/collect') return limited(route, beacons);
    if (route.method === 'post' && route.path === '/lead') return limited(route, leads);
    if (route.method === 'post' && route.path.startsWith('/hooks/')) return limited(route, webhooks);
    if (route.method === 'post' && (route.path === '/api/admin/session' || route.path === '/api/admin/setup')) return limited(route, logins);
    return route;
  });
}

function fatal(message: string): never {
  process.stderr.write(`lean-capture: ${message}\n`);
  process.exit(1);
}

main().catch((err) => {
  if (err instanceof Error && err.name === 'NewerSchema') fatal(err.message);
  process.stderr.write(`lean-capture: failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  if (err instanceof Error && err.cause) process.stderr.write(`  cause: ${String((err.cause as Error).message ?? err.cause)}\n`);
  process.exit(1);
});
