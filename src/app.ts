// The parts behind the routes, built from the stores and connected: lead changes to deliveries
// and notifications, leads to analytics, backups and retention to their schedules. Returns the
// routes, what to do once listening, and how to stop the parts' work.
import { leadAdminRoutes } from './admin/leads.ts';
import { adminRoutes } from './admin/ops.ts';
import { announceSetupLink, firstStart, LoginThrottle, Owner } from './admin/owner.ts';
import { sessionRoutes } from './admin/session.ts';
import { statsRoute } from './admin/stats.ts';
import { loadPwa, pwaRoutes } from './admin/pwa.ts';
import { backupRoutes } from './admin/backups.ts';
import { doctorRoutes } from './admin/doctor.ts';
import { spendRoutes } from './admin/spend.ts';
import { privacyRoutes } from './admin/privacy.ts';
import type { AdminAuth } from './admin/auth.ts';
import { backupDeps } from './backup/backup.ts';
import { backupRecords, Backups } from './backup/service.ts';
import { GeoLocator } from './collect/geo.ts';
import { collectRoute } from './collect/route.ts';
import { buildTracker, trackerRoutes } from './collect/tracker-route.ts';
import { AgentParser } from './collect/user-agent.ts';
import { APP_VERSION, type Config } from './config.ts';
import type { Storage } from './db/storage.ts';
import { configuredDestinations } from './destinations/configured.ts';
import { runDoctor } from './doctor/doctor.ts';
import { DoctorService } from './doctor/service.ts';
import { exposeSignal, watchSignal } from './doctor/signal.ts';
import type { Events } from './events/open.ts';
import type { Route } from './http/server.ts';
import { countLeadsAsEvents, leadsFromContactClicks } from './leads/from-events.ts';
import { leadRoutes } from './leads/routes.ts';
import { Turnstile } from './leads/spam.ts';
import { checkoutRoutes } from './checkout/routes.ts';
import type { Logger } from './log.ts';
import type { Metrics } from './metrics.ts';
import { digestNotification, watchDigest, weeklyDigest } from './notify/digest.ts';
import { Notifier } from './notify/notify.ts';
import { money, type OwnerAlert } from './notify/texts.ts';
import { routeLeadChanges } from './outbox/lead-jobs.ts';
import { OutboxWorker } from './outbox/worker.ts';
import { spendAlerts } from './spend/alerts.ts';
import { googleAdsApi } from './spend/google-ads.ts';
import { metaInsights } from './spend/meta-insights.ts';
import { SpendSync } from './spend/sync.ts';
import { keepLeadRetention } from './privacy/retention.ts';

export interface Parts {
  routes: Route[];
  /** Once the server listens at `baseUrl`; `terminal`: a person reads stdout (the first-start block). */
  started(baseUrl: string, terminal?: boolean): void;
  stop(): Promise<void>;
}

export async function assemble({ config, log, metrics, events, storage, uwsBuild }: { config: Config; log: Logger; metrics: Metrics; events: Events; storage: Storage; uwsBuild: string }): Promise<Parts> {
  const settings = config.leads;
  const { clickhouse } = events;
  const geo = new GeoLocator(config.geoipCityDb, log);
  const agents = new AgentParser();

  // Lead changes become deliveries and notifications in the change's transaction; new leads count in analytics.
  const { destinations, vapidPublicKey, pushEndpoints } = await configuredDestinations(config, storage, log);
  const worker = new OutboxWorker(storage.outbox, destinations, log, metrics, { parkedProbeMs: settings.outboxParkedProbeMs, statusCheckMs: settings.outboxStatusCheckMs });
  routeLeadChanges(storage.leads, storage.outbox, destinations, () => worker.wake());
  const notifier = new Notifier(storage, { includeName: settings.notifyIncludeName, telegram: settings.telegram !== undefined, whatsapp: settings.whatsapp !== undefined, locale: settings.locale });
  notifier.watch(storage.leads);
  countLeadsAsEvents(storage.leads, events.sink, agents, log);
  worker.wake();
  /** Tells the owner something that is not a lead, in his language, and sends it now. */
  const tell = (url: string) => (key: string, alert: OwnerAlert) => {
    notifier.alert(key, alert, url);
    worker.wake();
  };

  // Backups run here when asked (only this process can read the embedded ClickHouse).
  const backups = new Backups(config.backup && backupDeps({ ...config, backup: config.backup }, storage, clickhouse), storage.settings, { notify: tell('/admin/#/settings') }, log);
  if (config.backup && !config.backup.encryptionKey) log.warn('BACKUP_ENCRYPTION_KEY is not set: backups (which hold phone numbers) are stored unencrypted');
  const digest = (key: string, now: number) => {
    notifier.owner(key, digestNotification(weeklyDigest(storage.reports, settings.currency, now), settings.locale, settings.currency));
    worker.wake();
  };
  const platforms = [...(config.google ? (['google'] as const) : []), ...(config.meta ? (['meta'] as const) : [])];
  exposeSignal(metrics, storage.reports, platforms);
  const stopChores = [
    backups.watchAge(),
    keepLeadRetention(storage.personalData, config.retention.leadDays, log),
    watchDigest(digest, settings.timeZone),
    watchSignal(storage.reports, platforms, tell('/admin/#/connections')),
  ];

  // The connections check: on demand, shortly after start, then daily; its last report feeds the app's banner.
  const doctor = new DoctorService(({ send }) =>
    runDoctor({
      config, storage, uwsBuild,
      clickhouse: { clickhouse, database: config.clickhouse.database, backlogBytes: events.journal.backlogBytes(), journalMaxBytes: config.journal.maxBytes },
      lastGoodBackup: () => backupRecords(storage.settings).lastOk,
      sendTestPush: () => {
        const devices = notifier.test();
        worker.wake();
        return devices;
      },
    }, { send }), storage.settings, log);
  if (config.doctorAfterStartMs > 0) stopChores.push(doctor.schedule(config.doctorAfterStartMs));

  // Ad spend: synced hourly and on demand; after each sync, campaigns that waste money are told once a week.
  const spend = new SpendSync({
    clickhouse, leads: storage.leads, settings: storage.settings, log, timeZone: settings.timeZone, everyMs: config.spendSyncMinutes * 60_000,
    sources: {
      google: config.google?.ads ? googleAdsApi({ ...config.google, ads: config.google.ads }) : undefined,
      meta: config.meta?.adAccountId ? metaInsights({ ...config.meta, adAccountId: config.meta.adAccountId }) : undefined,
    },
    onSynced: () => {
      spendAlerts(clickhouse, storage.reports, settings.currency, settings.timeZone, (value, currency) => money(value, currency, settings.locale)).then(
        (alerts) => {
          for (const a of alerts) tell('/admin/#/dashboard')(a.key, a.alert);
        },
        (err: unknown) => log.error({ err }, 'spend alerts could not be computed'),
      );
    },
  });
  if (spend.platforms.length > 0 && config.spendSyncMinutes > 0) stopChores.push(spend.schedule());

  const owner = new Owner(storage);
  const auth: AdminAuth = { adminToken: config.adminToken, owner, secureCookies: config.publicOrigin?.startsWith('https://') ?? false };
  if (config.adminToken === undefined) log.info('ADMIN_TOKEN is not set: scripts cannot use the admin API, and /metrics is served to loopback only');
  const tracker = buildTracker();
  const trackerLead = buildTracker('lead');
  log.info({ bytes: tracker.code.length, gzip: tracker.gzip.length, brotli: tracker.brotli.length, leadPartGzip: trackerLead.gzip.length }, 'tracker built');
  const { defaultCountry, currency } = settings;

  const routes = [
    ...trackerRoutes(tracker, trackerLead),
    ...pwaRoutes(loadPwa({ locale: settings.locale, currency, timeZone: settings.timeZone })),
    collectRoute({
      geo, agents, events: events.sink, metrics,
      onContactClicks: (beacons, hit) => {
        try {
          leadsFromContactClicks({ store: storage.leads, spam: settings.spam }, beacons, hit);
        } catch (err) {
          log.error({ err }, 'a call/WhatsApp click was journaled but its lead could not be stored');
        }
      },
    }),
    ...leadRoutes({
      store: storage.leads, geo, defaultCountry, thanksUrl: settings.thanksUrl, googleLeadFormKey: settings.googleLeadFormKey, spam: settings.spam,
      turnstile: settings.turnstile && new Turnstile(settings.turnstile.secret, settings.turnstile.verifyUrl),
    }),
    ...checkoutRoutes(config.checkouts, { storage, clickhouse, notifier, defaultCountry, log }),
    ...sessionRoutes({ auth, throttle: new LoginThrottle(), log }),
    statsRoute({ auth, reports: storage.reports, clickhouse, currency, timeZone: settings.timeZone }),
    ...leadAdminRoutes({ auth, storage, notifier, worker, clickhouse, defaultCountry, currency, vapidPublicKey, pushEndpoints }),
    ...backupRoutes(auth, backups),
    ...doctorRoutes(auth, doctor),
    ...spendRoutes(auth, spend),
    ...privacyRoutes({ auth, personalData: storage.personalData, clickhouse, batcher: events.batcher, defaultCountry, log }),
    ...adminRoutes({
      auth, clickhouse, database: config.clickhouse.database, batcher: events.batcher, journal: events.journal, geo, metrics, uwsBuild, schemaVersion: events.schemaVersion, appVersion: APP_VERSION,
      statusExtras: () => ({
        leads: { database: settings.databasePath, schemaVersion: storage.schemaVersion() },
        outbox: { ...storage.outbox.counts(), destinations: worker.status() },
        google: { configured: config.google !== undefined, problems: config.google ? [] : ['not configured: sales are not sent to Google Ads'] },
        backup: backups.status(),
        doctor: doctor.summary(),
        spend: spend.status(),
      }),
    }),
  ];

  return {
    routes,
    started: (baseUrl, terminal) => {
      const setupUrl = announceSetupLink(owner, baseUrl, log);
      if (setupUrl && terminal) process.stdout.write(firstStart({ dataDir: config.dataDir, setupUrl, origin: config.publicOrigin ?? baseUrl }));
    },
    async stop() {
      geo.close();
      await worker.stop();
      for (const stop of stopChores) stop();
    },
  };
}
