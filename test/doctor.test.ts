// The connections check (npm run doctor, /api/admin/doctor) against the local stand-ins of Google,
// Meta, Telegram and S3 and a local website: everything configured right passes and counts
// nowhere; each named mistake fails with its words and exit code 1; signal quality equals what the
// leads imply, and a week without click ids tells the owner once.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { join } from 'node:path';
import { readFileSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import { NO_GEO } from '../src/collect/geo.ts';
import { Storage } from '../src/db/storage.ts';
import { CHECK_MESSAGE } from '../src/doctor/doctor.ts';
import { clockCheck, publicOriginCheck } from '../src/doctor/server.ts';
import { exposeSignal, signalChecks, signalDrop, watchSignal } from '../src/doctor/signal.ts';
import { createMetrics } from '../src/metrics.ts';
import { newLead } from '../src/leads/lead.ts';
import { Notifier } from '../src/notify/notify.ts';
import { CLIENT, startGoogle } from './support/google.ts';
import { adminGet, queryEmbedded, removeDir, runScript, send, startServer, tempDir } from './support/harness.ts';
import { META, startMeta } from './support/meta.ts';
import { cityRecord, writeMmdb } from './support/mmdb.ts';
import { selfSignedCert } from './support/push-service.ts';
import { startS3 } from './support/s3.ts';
import { startTelegram } from './support/telegram.ts';

const DAY = 86_400_000;
const TELEGRAM_TOKEN = '123:TEST';

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** The business's site: pages keyed by path. */
async function startSite(pages: Record<string, string>): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    const page = pages[req.url ?? ''];
    res.writeHead(page === undefined ? 404 : 200, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end(page ?? 'not found');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, server };
}

const page = (head: string, body: string) => `<!doctype html><html><head>${head}</head><body>${body}</body></html>`;
const FORM = '<form data-lc-lead method="post" action="/lead"><input name="name"><input name="phone" type="tel"><input name="lc_hp" tabindex="-1" autocomplete="off"><button>Send</button></form><a href="tel:+905321230000">Call</a>';
const GTAG = `<script async src="https://www.googletagmanager.com/gtag/js?id=AW-1"></script><script>gtag('consent', 'default', {ad_storage: 'denied'});</script>`;

function geoFile(dir: string, ageDays: number): string {
  const path = join(dir, `city-${ageDays}.mmdb`);
  writeFileSync(path, writeMmdb({ '81.214.0.0/16': cityRecord('TR', 'Istanbul', 'Istanbul') }, { buildEpoch: Math.floor((Date.now() - ageDays * DAY) / 1000) }));
  return path;
}

test('with every integration configured right, npm run doctor passes, sends only marked tests, and counts nowhere', { timeout: 180_000 }, async () => {
  const [google, metaApi, telegram, s3] = await Promise.all([startGoogle(), startMeta(), startTelegram(TELEGRAM_TOKEN, ['42']), startS3()]);
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const site = await startSite({ '/': page(`<script defer src="${origin}/t.js"></script>${GTAG}`, FORM) });
  const dir = tempDir('doctor');
  const env = {
    PORT: String(port),
    PUBLIC_ORIGIN: origin,
    GEOIP_CITY_DB: geoFile(dir, 3),
    SITE_URLS: `${site.url}/`,
    GOOGLE_CLIENT_ID: CLIENT.id, GOOGLE_CLIENT_SECRET: CLIENT.secret, GOOGLE_REFRESH_TOKEN: CLIENT.refreshToken,
    GOOGLE_ADS_CUSTOMER_ID: '123-456-7890', GOOGLE_ADS_LOGIN_CUSTOMER_ID: '999-888-7777', GOOGLE_CONVERSION_ACTION_ID: '55555',
    GOOGLE_DATAMANAGER_ENDPOINT: google.origin, GOOGLE_OAUTH_TOKEN_URL: google.tokenUrl,
    META_PIXEL_ID: META.pixelId, META_ACCESS_TOKEN: META.token, META_API_VERSION: META.version, META_GRAPH_URL: metaApi.url, META_TEST_EVENT_CODE: 'TEST4242',
    TELEGRAM_API_URL: telegram.url, TELEGRAM_BOT_TOKEN: TELEGRAM_TOKEN, TELEGRAM_CHAT_ID: '42',
    BACKUP_ENCRYPTION_KEY: 'a'.repeat(64),
    ...s3.env,
  };
  google.setConversionActions(['55555']);
  const server = await startServer(env);
  try {
    // One lead of the last 30 days, without a Google click id: auto-tagging looks off.
    const posted = await send(`${server.url}/lead`, { name: 'Ayşe', phone: '+905321230000', lcFill: 9000 }, { 'Content-Type': 'application/json' });
    assert.equal(posted.status, 201);
    const deliveriesBefore = (await adminGet<{ deliveries: unknown[] }>(server, '/api/admin/deliveries')).deliveries.length;
    // Over SSH: the script finds the server owning DATA_DIR and asks it (POST: --send).
    const run = await runScript('doctor.ts', ['--send'], { ...env, DATA_DIR: server.dataDir });
    assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
    const out = run.stdout;
    for (const line of [
      /ok {3}Google Ads +OAuth: the refresh token gave an access token/,
      /ok {3}Google Ads +a test sale sent with validateOnly was accepted for account 1234567890 \(via manager 9998887777\), conversion action 55555; nothing was recorded/,
      /ok {3}Meta +the token reaches dataset "Test Plumbing dataset" \(123456789012345\)/,
      /ok {3}Meta +a test Lead was sent with test code TEST4242/,
      /ok {3}Telegram +bot @lc_test_bot can write to chat 42/,
      /ok {3}Telegram +sent "Lean Capture connection check"/,
      /ok {3}Backups +s3:\/\/lc-backups\/.*: a probe object was written, read back and deleted/,
      /ok {3}Backups +backups are encrypted/,
      /warn Backups +no backup has succeeded yet/,
      /ok {3}ClickHouse +embedded mode: a test query answered; schema at version \d+/,
      /ok {3}GeoIP +.* \(3 days ago\)/,
      new RegExp(`ok {3}Website +${site.url}/: t\\.js tag from ${origin}; consent implied`),
      /ok {3}Website +.*: 1 lead form\(s\), 1 tel: link\(s\), 0 WhatsApp link\(s\)/,
      /ok {3}Website +.*Meta pixel not found, Google tag present, Consent Mode default present/,
      new RegExp(`warn Server +${origin} answers, over plain http`),
      /ok {3}Server +clock \d+ s (ahead of|behind) (Google|Meta)/,
      /ok {3}Server +uWebSockets\.js build in use: uWebSockets\.js v/,
      /warn Web push +VAPID keys present; no device is subscribed/,
      /warn Google Ads +click ids: none of the 1 leads of the last 30 days carried a Google click id \(gclid, gbraid, wbraid\)\n +→ Turn on auto-tagging/,
      /ok {3}Signal +Google: 0% of leads creditable \(0 of 1, 7 days\), 0 of 0 sales processed/,
    ]) assert.match(out, line);
    assert.doesNotMatch(out, /^fail/m);

    // Marked tests only: Google validated one event and recorded none; Meta got the test code.
    assert.equal(google.validated.length, 1);
    assert.equal(google.requests.length, 0, 'no conversion was recorded at Google');
    assert.deepEqual(metaApi.testCodes, ['TEST4242']);
    assert.equal(metaApi.events[0]!.event_name, 'Lead');
    const checkMessages = () => telegram.calls.filter((c) => c.text === CHECK_MESSAGE).length;
    assert.equal(checkMessages(), 1);
    assert.deepEqual(await s3.keys('connection-check/'), [], 'the probe object was deleted');

    // --json for scripts; without --send nothing is sent.
    const asJson = await runScript('doctor.ts', ['--json'], { ...env, DATA_DIR: server.dataDir });
    const report = JSON.parse(asJson.stdout) as { ok: boolean; checks: Array<{ status: string; integration: string }> };
    assert.equal(report.ok, true);
    assert.ok(report.checks.length > 20);
    assert.equal(checkMessages(), 1);

    // Nothing counts: no lead, no delivery, no event beyond the lead's own.
    assert.equal((await adminGet<{ leads: unknown[] }>(server, '/api/admin/leads')).leads.length, 1);
    assert.equal((await adminGet<{ deliveries: unknown[] }>(server, '/api/admin/deliveries')).deliveries.length, deliveriesBefore);
    await server.stop();
    assert.deepEqual(await queryEmbedded<{ type: string }>(server.dataDir, 'SELECT type FROM lean_capture.events'), [{ type: 'lead' }]);
  } finally {
    await server.stop();
    await Promise.all([google.close(), metaApi.close(), telegram.close(), s3.close()]);
    site.server.close();
    removeDir(server.dataDir);
    removeDir(dir);
  }
});

test('each named mistake fails with its fix and exit code 1 (the script alone, no server running)', { timeout: 180_000 }, async () => {
  const [google, metaApi, telegram, s3] = await Promise.all([startGoogle(), startMeta(), startTelegram(TELEGRAM_TOKEN, ['42']), startS3()]);
  const elsewhere = 'https://track.other.example';
  const site = await startSite({ '/no-tag': page(GTAG, FORM), '/elsewhere': page(`<script defer src="${elsewhere}/t.js"></script>`, FORM) });
  const dir = tempDir('doctor-fail');
  const closedOrigin = `http://127.0.0.1:${await freePort()}`; // nothing listens there
  // A data directory as the server leaves it (leads.db), no server running.
  const server = await startServer();
  await server.stop();
  google.setConversionActions(['55555']);
  google.setRefreshTokenValid(false);
  const env = {
    DATA_DIR: server.dataDir,
    PUBLIC_ORIGIN: closedOrigin,
    GEOIP_CITY_DB: geoFile(dir, 100),
    SITE_URLS: `${site.url}/no-tag, ${site.url}/elsewhere`,
    GOOGLE_CLIENT_ID: CLIENT.id, GOOGLE_CLIENT_SECRET: CLIENT.secret, GOOGLE_REFRESH_TOKEN: CLIENT.refreshToken,
    GOOGLE_ADS_CUSTOMER_ID: '1234567890', GOOGLE_CONVERSION_ACTION_ID: '77777',
    GOOGLE_DATAMANAGER_ENDPOINT: google.origin, GOOGLE_OAUTH_TOKEN_URL: google.tokenUrl,
    META_PIXEL_ID: META.pixelId, META_ACCESS_TOKEN: 'EAAB-revoked', META_API_VERSION: META.version, META_GRAPH_URL: metaApi.url,
    TELEGRAM_API_URL: telegram.url, TELEGRAM_BOT_TOKEN: TELEGRAM_TOKEN, TELEGRAM_CHAT_ID: '43',
    ...s3.env,
    S3_ACCESS_KEY_ID: 'AKIAWRONGKEY', // a key the store does not know
  };
  try {
    const run = await runScript('doctor.ts', [], env);
    assert.equal(run.code, 1, `${run.stdout}\n${run.stderr}`);
    const out = run.stdout;
    for (const line of [
      new RegExp(`fail Server +GET ${closedOrigin}/healthz from this server: connection refused`),
      /fail GeoIP +.* \(100 days ago\)\n +→ Run scripts\/geoip-update/,
      /fail Google Ads +OAuth: Google refused the refresh token \(invalid_grant\)/,
      /fail Meta +Meta refused the access token: Invalid OAuth access token.*\(code 190\)\n +→ Create a new token/,
      /fail Telegram +bot @lc_test_bot cannot reach chat 43: Bad Request: chat not found\n +→ Open @lc_test_bot in Telegram and press Start/,
      /fail Backups +S3 upload of connection-check\/\d+\.txt .*\n +→ Check S3_BUCKET/,
      new RegExp(`fail Website +${site.url}/no-tag: no t\\.js tag\\n +→ Paste <script defer src="${closedOrigin.replaceAll('.', '\\.')}/t\\.js"></script> into the page's <head>`),
      new RegExp(`fail Website +${site.url}/elsewhere: t\\.js comes from ${elsewhere}, not from ${closedOrigin.replaceAll('.', '\\.')}`),
      /warn Website +.*\/elsewhere: .*\n +→ |ok {3}Website +.*\/elsewhere: 1 lead form/,
      /ok {3}ClickHouse +embedded mode: a test query answered/,
      /warn Server +uWebSockets\.js build: not known|ok {3}Server +uWebSockets\.js build in use: .*no server running/,
    ]) assert.match(out, line);

    // The unknown conversion action, once OAuth works again.
    google.setRefreshTokenValid(true);
    const second = await runScript('doctor.ts', [], env);
    assert.equal(second.code, 1);
    assert.match(second.stdout, /fail Google Ads +the test sale for account 1234567890, conversion action 77777 was refused: .*Product destination not found or not accessible: conversion action 77777.*\n +→ Check GOOGLE_ADS_CUSTOMER_ID/);
    assert.equal(google.requests.length, 0, 'validateOnly only: nothing recorded at Google');
    assert.equal(metaApi.events.length, 0);
    assert.equal(telegram.calls.length, 0, 'no message without --send');
  } finally {
    await Promise.all([google.close(), metaApi.close(), telegram.close(), s3.close()]);
    site.server.close();
    removeDir(server.dataDir);
    removeDir(dir);
  }
});

test('signal quality equals what the leads imply, and a week with the click ids gone tells the owner once', async () => {
  const dir = tempDir('signal');
  const storage = Storage.open(join(dir, 'leads.db'));
  try {
    const now = Date.now();
    const add = (daysAgo: number, attribution: Record<string, string>, consentAds: boolean | undefined) =>
      storage.leads.create(
        newLead(
          { eventId: undefined, name: 'A', phone: '+905321230000', email: undefined, message: undefined, service: undefined, extra: undefined, refCode: undefined, consentAds, consentPersonalization: undefined, visitorId: undefined, sessionId: undefined, pageUrl: 'https://plumber.example.com/', referrer: undefined, attribution },
          { source: 'form', clientIp: undefined, userAgent: undefined, geo: NO_GEO, at: now - daysAgo * DAY },
        ),
      );
    // The week before: 14 leads, 8 with a gclid, 4 with an fbc under consent. This week: 10 leads, 1 gclid, no fbc.
    for (let i = 0; i < 10; i++) add(8 + (i % 5) / 10, i < 8 ? { gclid: `Cj0${i}` } : {}, i < 4 ? true : undefined);
    for (let i = 0; i < 4; i++) add(8.5, { fbc: `fb.1.${now}.x${i}` }, true);
    for (let i = 0; i < 10; i++) add(1 + (i % 5) / 10, i < 1 ? { gclid: `Cj1${i}` } : {}, undefined);

    // Three sales this week: one with a gclid, uploaded and processed by Google; one skipped (no click id); one not sent yet.
    const recent = storage.leads.list({ limit: 100 }).leads.filter((l) => l.created_at > now - 7 * DAY);
    const withClick = recent.find((l) => l.gclid)!;
    const [noClick, waiting] = recent.filter((l) => !l.gclid);
    for (const lead of [withClick, noClick!, waiting!]) storage.leads.recordSale(lead.id, { value: 100, currency: 'TRY', at: now - DAY }, 'owner');
    storage.outbox.enqueue('google', `google:${withClick.id}`, withClick.id, { leadId: withClick.id });
    storage.outbox.enqueue('google', `google:${noClick!.id}`, noClick!.id, { leadId: noClick!.id });
    storage.outbox.enqueue('google', `google:${waiting!.id}`, waiting!.id, { leadId: waiting!.id }, now + DAY);
    const due = storage.outbox.claimDue(Date.now() + 1000, 10, 'google');
    assert.equal(due.length, 2);
    for (const job of due) {
      if (job.lead_id === withClick.id) storage.outbox.finish(job, { outcome: 'ok', httpStatus: 200, response: 'accepted', remoteRef: 'req-1' }, 5);
      else storage.outbox.finish(job, { outcome: 'skipped', response: 'not sent: no click id and no email or phone: Google cannot credit this sale' }, 1);
    }
    storage.outbox.recordRemote('google', 'req-1', { status: 'accepted', detail: 'processed by Google' });

    const drop = signalDrop(storage.reports, 'google', now);
    assert.ok(drop);
    assert.equal(Math.round(drop.weekBefore * 100), 57); // 8 of 14
    assert.equal(Math.round(drop.lastWeek * 100), 10); // 1 of 10
    const lines = signalChecks(storage.reports, ['google', 'meta'], now).map((c) => `${c.status} ${c.tried}`);
    assert.match(lines[0]!, /^ok Google: 10% of leads creditable \(1 of 10, 7 days\), 1 of 3 sales processed \(1 with a click id, 1 uploaded\); 30 days: 38%, 1 of 3 sales; not processed: 1 × not sent: no click id and no email or phone: Google cannot credit this sale; 1 × waiting to be sent$/); // 9 of 24
    assert.match(lines[1]!, /^warn Google: creditable leads fell from 57% to 10% against the week before/);
    assert.match(lines[2]!, /^ok Meta: 0% of leads creditable \(0 of 10, 7 days\)/);
    assert.match(lines[3]!, /^warn Meta: creditable leads fell from 29% to 0%/);

    // The same figures in /metrics.
    const metrics = createMetrics();
    exposeSignal(metrics, storage.reports, ['google', 'meta']);
    const scraped = await metrics.registry.metrics();
    for (const line of ['lc_signal_leads{platform="google",days="7"} 10', 'lc_signal_creditable_leads{platform="google",days="7"} 1', 'lc_signal_creditable_leads{platform="google",days="30"} 9', 'lc_signal_creditable_leads{platform="meta",days="30"} 4', 'lc_signal_sales{platform="meta",days="30"} 3', 'lc_signal_sales_accepted{platform="google",days="7"} 1']) {
      assert.ok(scraped.includes(line), `${line} in\n${scraped.split('\n').filter((l) => l.startsWith('lc_signal')).join('\n')}`);
    }

    // Told once, although the hourly look runs again.
    const notifier = new Notifier(storage, { includeName: false, telegram: true, locale: 'en-US' });
    const stop = watchSignal(storage.reports, ['google', 'meta'], (key, alert) => void notifier.alert(key, alert, '/admin/#/connections'), 20);
    await new Promise((r) => setTimeout(r, 100));
    stop();
    const told = storage.outbox.list({}).filter((j) => j.destination === 'telegram');
    assert.deepEqual(told.map((j) => j.dedup_key.replace(/:\d+$/, '')).sort(), ['telegram:signal-drop:google', 'telegram:signal-drop:meta']);
    told.sort((a, b) => a.dedup_key.localeCompare(b.dedup_key));
    assert.match(JSON.parse(told[0]!.payload).body, /Leads with a Google click id: 10% this week, 57% the week before\. Likely cause: auto-tagging switched off/);
  } finally {
    storage.close();
    removeDir(dir);
  }
});

test('the public origin must answer over https with a valid certificate; the clock is compared with the platforms\' Date', async () => {
  const dir = tempDir('doctor-tls');
  const tls = selfSignedCert(dir);
  const server = createHttpsServer({ cert: readFileSync(tls.cert), key: readFileSync(tls.key) }, (_req, res) => res.end('{"status":"ok"}'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const origin = `https://127.0.0.1:${(server.address() as { port: number }).port}`;
    const check = await publicOriginCheck(origin);
    assert.equal(check.status, 'fail');
    assert.match(check.tried, /the TLS certificate is self-signed/);
    assert.equal((await publicOriginCheck(undefined)).status, 'fail');
  } finally {
    server.close();
    removeDir(dir);
  }
  const now = Date.now();
  const inSync = clockCheck([{ header: new Date(now - 400).toUTCString(), receivedAt: now, from: 'Google' }]);
  assert.equal(inSync.status, 'ok');
  assert.match(inSync.tried, /clock [01] s (ahead of|behind) Google/);
  const skewed = clockCheck([{ header: new Date(now).toUTCString(), receivedAt: now, from: 'Google' }, { header: new Date(now - 95_000).toUTCString(), receivedAt: now, from: 'Meta' }]);
  assert.equal(skewed.status, 'fail');
  assert.match(skewed.tried, /clock 9[56] s ahead of Meta/);
  assert.match(skewed.fix!, /timedatectl set-ntp true/);
});
