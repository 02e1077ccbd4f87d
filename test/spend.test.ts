// What each campaign costs and earns: the spend sync against local stand-ins of the Google Ads
// API (searchStream: campaign costs, click_view) and Meta's insights (paged), joined to our own
// leads and sales in /api/admin/stats — cost per lead, cost per sale, ROAS — with a restated day,
// a quota error, a revoked token, another currency, and the wasted-spend alert.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { chromium } from 'playwright-core';
import { CLIENT, startGoogle } from './support/google.ts';
import { adminGet, eventually, monthIn, removeDir, send, startServer, ADMIN_TOKEN, type RunningServer } from './support/harness.ts';
import { META, startMeta } from './support/meta.ts';
import { startTelegram } from './support/telegram.ts';

type Json = Record<string, any>;
const DAY = 86_400_000;
// The business's days are its time zone's (the ad accounts report in it too): a zone whose date
// differs from UTC's right now and is not near its midnight, so a day cut in UTC anywhere shows.
const [ZONE, OFFSET] = new Date().getUTCHours() >= 10 ? ['Pacific/Kiritimati', '+14:00'] : ['Pacific/Pago_Pago', '-11:00'];
const day = (offset: number) => new Intl.DateTimeFormat('en-CA', { timeZone: ZONE }).format(Date.now() + offset * DAY);

describe('ad spend', () => {
  let server: RunningServer;
  let google: Awaited<ReturnType<typeof startGoogle>>;
  let meta: Awaited<ReturnType<typeof startMeta>>;
  let telegram: Awaited<ReturnType<typeof startTelegram>>;

  const sync = async (): Promise<Json> => {
    const before = (await adminGet<Json>(server, '/api/admin/spend')).last?.at;
    const res = await fetch(`${server.url}/api/admin/spend/sync`, { method: 'POST', headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } });
    assert.equal(res.status, 202);
    return eventually(async () => {
      const status = await adminGet<Json>(server, '/api/admin/spend');
      return status.running === null && status.last && status.last.at !== before ? status : undefined;
    }, 20_000, 'the spend sync to finish');
  };
  const lead = async (attribution: Record<string, string>, phone: string): Promise<string> => {
    const res = await send(`${server.url}/lead`, { name: 'Müşteri', phone, lcFill: 9000, pageUrl: 'https://usta.example.com/teklif', attribution, consent: { ads: true } }, { 'Content-Type': 'application/json' });
    assert.equal(res.status, 201);
    return ((await res.json()) as { id: string }).id;
  };
  const sell = async (id: string, value: number) => {
    const res = await fetch(`${server.url}/api/admin/leads/${id}/sale`, { method: 'POST', headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, 'Content-Type': 'application/json' }, body: JSON.stringify({ value }) });
    assert.equal(res.status, 201);
  };
  // The business's last 7 days, today included.
  const week = () => `from=${Date.parse(`${day(-6)}T00:00:00${OFFSET}`)}&to=${Date.now() + 1000}`;

  before(async () => {
    [google, meta, telegram] = await Promise.all([startGoogle(), startMeta(), startTelegram('123:TEST', ['42'])]);
    // 100 days of two Google campaigns (the first sync must take the last 90 only) and one Meta campaign billed in USD.
    for (let d = -99; d <= 0; d++) {
      google.ads.campaignDays.push({ day: day(d), campaignId: '111', campaign: 'Acil Tesisatçı', costMicros: 50_000_000, clicks: 10, impressions: 100 });
      google.ads.campaignDays.push({ day: day(d), campaignId: '222', campaign: 'Kombi Servisi', costMicros: 20_000_000, clicks: 4, impressions: 80 });
      meta.insights.rows.push({ day: day(d), campaignId: '333', campaign: 'Meta Kış', spend: '30.00', clicks: 5, impressions: 500 });
    }
    meta.insights.currency = 'USD';
    google.ads.loginCustomerId = '9998887777';
    google.ads.clicks.push({ day: day(0), gclid: 'GCLID-A', campaignId: '111', campaign: 'Acil Tesisatçı', adGroupId: '5001', adGroup: 'Acil', keyword: 'acil tesisatçı' });
    assert.notEqual(day(0), new Date().toISOString().slice(0, 10));
    server = await startServer({
      CURRENCY: 'TRY', LOCALE: 'tr-TR', DEFAULT_COUNTRY: 'TR', TIMEZONE: ZONE,
      GOOGLE_CLIENT_ID: CLIENT.id, GOOGLE_CLIENT_SECRET: CLIENT.secret, GOOGLE_REFRESH_TOKEN: CLIENT.refreshToken,
      GOOGLE_ADS_CUSTOMER_ID: '123-456-7890', GOOGLE_ADS_LOGIN_CUSTOMER_ID: '999-888-7777', GOOGLE_CONVERSION_ACTION_ID: '55555',
      GOOGLE_DATAMANAGER_ENDPOINT: google.origin, GOOGLE_OAUTH_TOKEN_URL: google.tokenUrl,
      GOOGLE_ADS_DEVELOPER_TOKEN: google.ads.developerToken, GOOGLE_ADS_API_ENDPOINT: google.origin, GOOGLE_ADS_API_VERSION: 'v26',
      META_PIXEL_ID: META.pixelId, META_ACCESS_TOKEN: META.token, META_API_VERSION: META.version, META_GRAPH_URL: meta.url, META_AD_ACCOUNT_ID: `act_${META.adAccount}`,
      TELEGRAM_API_URL: telegram.url, TELEGRAM_BOT_TOKEN: '123:TEST', TELEGRAM_CHAT_ID: '42',
    });
  });
  after(async () => {
    await server.stop();
    removeDir(server.dataDir);
    await Promise.all([google.close(), meta.close(), telegram.close()]);
  });

  test('the first sync fills 90 days; a gclid lead joins its campaign by click_view, a Meta lead by utm_id; cost per lead, per sale and ROAS follow', async () => {
    // The click says "Acil Tesisatçı" although the landing URL's utm_campaign says something else.
    const googleLead = await lead({ gclid: 'GCLID-A', utm_campaign: 'yanlis-kampanya', utm_source: 'google' }, '+905321110001');
    const metaLead = await lead({ utm_id: '333', utm_campaign: 'meta-kis', utm_source: 'facebook', fbc: `fb.1.${Date.now()}.abc` }, '+905321110002');
    await sell(googleLead, 1000);
    await sell(metaLead, 500);

    const status = await sync();
    assert.equal(status.last.ok, true, JSON.stringify(status.last.errors));
    assert.equal(status.last.days, 90);
    assert.equal(status.last.resolvedClicks, 1);
    assert.deepEqual(status.platforms, ['google', 'meta']);
    // Google: one campaign query over exactly the last 90 days, then click_view one day at a time.
    assert.equal(google.ads.queries[0], `SELECT campaign.id, campaign.name, segments.date, metrics.cost_micros, metrics.clicks, metrics.impressions, customer.currency_code FROM campaign WHERE segments.date BETWEEN '${day(-89)}' AND '${day(0)}'`);
    const clickDays = google.ads.queries.slice(1).map((q) => /segments\.date = '(.+)'$/.exec(q)![1]);
    assert.deepEqual(clickDays, [day(-2), day(-1), day(0)]);
    // Meta: 90 days × 1 campaign, 3 rows a page: every page followed.
    assert.equal(meta.insights.requests.length, 30);
    assert.match(decodeURIComponent(meta.insights.requests[0]!), new RegExp(`time_range=\\{"since":"${day(-89)}","until":"${day(0)}"\\}`));

    const detail = await adminGet<Json>(server, `/api/admin/leads/${googleLead}`);
    assert.equal(detail.lead.ad_campaign, 'Acil Tesisatçı');
    assert.equal(detail.lead.ad_keyword, 'acil tesisatçı');
    assert.equal(detail.lead.utm_campaign, 'yanlis-kampanya');

    const stats = await adminGet<Json>(server, `/api/admin/stats?${week()}`);
    const row = (name: string) => stats.byCampaign.find((c: Json) => c.campaign === name);
    assert.deepEqual(
      { ...row('Acil Tesisatçı') },
      { campaign: 'Acil Tesisatçı', platform: 'google', adClicks: 70, visits: 0, leads: 1, sales: 1, revenue: 1000, spend: 350, costPerLead: 350, costPerSale: 350, roas: 2.86 },
    );
    assert.equal(row('yanlis-kampanya'), undefined, 'the lead is counted under the campaign its click came from');
    assert.deepEqual({ ...row('Kombi Servisi') }, { campaign: 'Kombi Servisi', platform: 'google', adClicks: 28, visits: 0, leads: 0, sales: 0, revenue: 0, spend: 140, costPerLead: null, costPerSale: null, roas: 0 });
    // Meta's campaign is billed in USD: its lead and sale join by utm_id, its spend is shown apart, never added in.
    assert.deepEqual({ ...row('Meta Kış') }, { campaign: 'Meta Kış', platform: null, adClicks: null, visits: 0, leads: 1, sales: 1, revenue: 500, spend: 0, costPerLead: null, costPerSale: null, roas: null });
    assert.deepEqual(stats.otherCurrencySpend, [{ platform: 'meta', campaign: 'Meta Kış', currency: 'USD', spend: 210 }]);
    assert.equal(stats.totals.spend, 490);
    assert.equal(stats.totals.revenue, 1500);
    assert.equal(stats.totals.roas, 3.06);
    assert.equal(stats.totals.costPerLead, 245);
    assert.equal(stats.totals.costPerSale, 245);
    assert.deepEqual(stats.byDay.map((d: Json) => [d.day, d.spend]), [-6, -5, -4, -3, -2, -1, 0].map((d) => [day(d), 70]));
    assert.deepEqual(stats.byKeyword, [{ campaign: 'Acil Tesisatçı', keyword: 'acil tesisatçı', leads: 1, sales: 1, revenue: 1000 }]);
    // The 7 days before, for the comparison: spend only (the leads and sales are all this week).
    assert.deepEqual(stats.previous, { visits: 0, leads: 0, sales: 0, revenue: 0, spend: 490 });
  });

  test('a re-sync restates the last days without counting twice, and a campaign spending with no lead is told once', async () => {
    const today = google.ads.campaignDays.find((c) => c.day === day(0) && c.campaignId === '111')!;
    today.costMicros = 80_000_000; // Google revised today's cost
    const status = await sync();
    assert.equal(status.last.ok, true);
    assert.equal(status.last.days, 7);
    assert.match(google.ads.queries.at(-1)!, new RegExp(`BETWEEN '${day(-6)}' AND '${day(0)}'$`));
    const stats = await adminGet<Json>(server, `/api/admin/stats?${week()}`);
    assert.equal(stats.totals.spend, 520);
    assert.equal(stats.byCampaign.find((c: Json) => c.campaign === 'Acil Tesisatçı').spend, 380);
    // Kombi Servisi spent 140 TRY in 7 days with no lead: one message, not one per sync.
    const told = await eventually(async () => {
      const calls = telegram.calls.filter((c) => /^Kombi Servisi/.test(c.text));
      return calls.length > 0 ? calls : undefined;
    }, 10_000, 'the wasted-spend alert');
    assert.equal(told.length, 1);
    // In the business's language (LOCALE=tr-TR).
    assert.match(told[0]!.text, /^Kombi Servisi: harcama var, talep yok\nKombi Servisi son 7 günde ₺140,00 harcadı ve hiç talep getirmedi/);
    assert.equal(telegram.calls.filter((c) => /Acil Tesisatçı: harcama var/.test(c.text)).length, 0);
  });

  test('a quota error is retried; a revoked token parks Google with one clear status while Meta keeps syncing', async () => {
    google.ads.script.push('quota');
    let status = await sync();
    assert.equal(status.last.ok, false);
    assert.match(status.last.errors.google, /Google Ads API quota reached: Too many requests/);
    assert.equal(status.last.errors.meta, undefined);
    assert.deepEqual(status.parked, {});
    status = await sync();
    assert.equal(status.last.ok, true);

    google.setRefreshTokenValid(false);
    status = await sync();
    assert.match(status.parked.google, /Google refused our OAuth credentials \(invalid_grant\)/);
    assert.equal(status.last.errors.meta, undefined, 'Meta synced');
    const overview = await adminGet<Json>(server, '/api/admin/status');
    assert.match(overview.spend.parked.google, /invalid_grant/);
    google.setRefreshTokenValid(true);
    status = await sync();
    assert.deepEqual(status.parked, {});

    // The connections check proves both spend sources, and says when ads_read is missing.
    const spendLines = async () => (await adminGet<{ checks: Array<{ status: string; tried: string }> }>(server, '/api/admin/doctor')).checks.filter((c) => c.tried.startsWith('spend:')).map((c) => `${c.status} ${c.tried}`);
    assert.deepEqual(await spendLines(), [
      'ok spend: the Google Ads API (v26) accepts the developer token for account 1234567890; 2 campaign(s) with costs today',
      "ok spend: the token reads ad account 998877665544's insights (ads_read)",
    ]);
    meta.insights.adsRead = false;
    assert.match((await spendLines())[1]!, /^fail spend: Meta refused to read the ad account's spend: \(#200\) Ad account owner has NOT grant ads_management or ads_read permission \(code 200\)/);
    status = await sync();
    assert.match(status.parked.meta, /the token needs ads_read on ad account 998877665544/);
    meta.insights.adsRead = true;
    status = await sync();
    assert.deepEqual(status.parked, {});
  });

  test("the Sales screen shows spend, cost per lead, cost per sale and ROAS per campaign within a phone's width, and syncs on demand", async () => {
    const artifacts = fileURLToPath(new URL('./artifacts/', import.meta.url));
    mkdirSync(artifacts, { recursive: true });
    const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run'] });
    try {
      const page = await (await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true })).newPage();
      const errors: string[] = [];
      page.on('pageerror', (err) => errors.push(err.message));
      const code = /#\/setup\/([A-Za-z0-9_-]+)/.exec(server.output.find((l) => l.includes('setupUrl'))!)![1]!;
      await page.goto(`${server.url}/admin/#/setup/${code}`);
      await page.fill('input[name=password]', 'copper-meadow-violin-58');
      await page.click('button[type=submit]');
      await page.waitForSelector('.leads');
      await page.goto(`${server.url}/admin/#/dashboard`);
      await page.waitForSelector('.dashboard .spend-sync:not([hidden])');
      const text = (await page.textContent('.dashboard'))!;
      // "7 days" on the screen is the last 7 × 24 h: 8 calendar days of spend (today revised to 80).
      assert.match(text, /Reklam harcaması₺590,00(▲ \d+%)?Talep başına maliyet₺295,00Satış başına maliyet₺295,00Reklam getirisi2,54×/);
      const cards = await page.$$eval('.campaign', (els) => els.map((e) => e.textContent));
      assert.ok(cards.includes('Acil Tesisatçı · Google₺1.000,00 · Reklam harcaması ₺430,000 ziyaret · 1 talep · 1 satış · Talep başına maliyet ₺430,00 · Reklam getirisi 2,33×'), JSON.stringify(cards));
      assert.ok(cards.includes('Kombi Servisi · Google₺0,00 · Reklam harcaması ₺160,000 ziyaret · 0 talep · 0 satış · Talep başına maliyet — · Reklam getirisi 0,00×'), JSON.stringify(cards));
      assert.equal(cards[0]!.split(' · ')[0], 'Acil Tesisatçı', 'the campaign that makes money first');
      assert.match(text, /Başka para biriminde de harcandı \(yukarıya eklenmedi\): Meta Kış \$240,00/);
      assert.match(text, /acil tesisatçıAcil Tesisatçı11₺1\.000,00/);
      const width = await page.evaluate(() => document.documentElement.scrollWidth);
      assert.ok(width <= 390, `the page is ${width} px wide`);
      const queries = google.ads.queries.length;
      await page.click('.spend-sync button');
      await eventually(async () => (google.ads.queries.length > queries ? true : undefined), 10_000, 'the button to run a sync');
      // The screen redraws with the new figures once the sync is done.
      await page.waitForFunction(() => /eşitlendi/.test(document.querySelector('.spend-sync')?.textContent ?? '') && !document.querySelector('.spend-sync button')?.hasAttribute('disabled'));
      await page.waitForTimeout(1500);
      await page.waitForFunction(() => /eşitlendi/.test(document.querySelector('.spend-sync')?.textContent ?? ''));
      await page.screenshot({ path: `${artifacts}11-sales-spend.png`, fullPage: true });
      // Receipts in words: per platform what it got, and whether it arrived.
      const leads = (await adminGet<Json>(server, '/api/admin/leads')).leads as Json[];
      const sold = leads.find((l) => l.gclid === 'GCLID-A')!;
      await eventually(async () => ((await adminGet<Json>(server, `/api/admin/leads/${sold.id}`)).deliveries.filter((d: Json) => d.status === 'accepted').length >= 3 ? true : undefined), 20_000, 'the uploads');
      await page.goto(`${server.url}/admin/#/lead/${sold.id}`);
      await page.waitForSelector('.deliveries li');
      const receipts = await page.$$eval('.deliveries li', (els) => els.map((e) => e.textContent));
      for (const line of [/^Meta · Talep ✓ kabul edildi · \d\d:\d\d alındı/, /^Meta · Satın alma ✓ kabul edildi · \d\d:\d\d alındı/, /^Google Ads · satış ✓ (kabul edildi|gönderildi, işleniyor)/]) {
        assert.ok(receipts.some((r) => line.test(r!)), `${line} in ${JSON.stringify(receipts)}`);
      }
      const detail = (await page.textContent('.detail'))!;
      assert.match(detail, /KampanyaAcil Tesisatçı/, 'the campaign the click came from, not the URL tag');
      assert.match(detail, /Reklam grubuAcil/);
      assert.match(detail, /Anahtar kelimeacil tesisatçı/);
      const history = await page.$$eval('.history li', (els) => els.map((e) => e.textContent));
      assert.ok(history.some((x) => /Durum: Yeni → Satıldı$/.test(x!)), JSON.stringify(history));
      assert.ok(history.some((x) => new RegExp(`Satış: ₺1\\.000,00 · \\d+ ${monthIn(ZONE)} \\d\\d:\\d\\d$`).test(x!)), JSON.stringify(history));
      await page.screenshot({ path: `${artifacts}12-lead-receipts.png`, fullPage: true });
      assert.deepEqual(errors, []);
    } finally {
      await browser.close();
    }
  });
});
