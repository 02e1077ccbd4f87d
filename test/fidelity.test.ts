// Attribution fidelity: journeys as a new user's visitors make them — the real tracker in
// Chromium on a site served from another origin than the server, each visitor through a reverse
// proxy that sets its own X-Forwarded-For (as Caddy does; rate limits and spam rules stay on),
// leads from calls, WhatsApp,
// forms and Google lead forms, each then sold as the owner would (the PWA's sale endpoint, the
// sales API by WhatsApp code) — checked against what the strict Google and Meta stand-ins
// received. Prints one summary line. `npm run test:fidelity` runs it with more visitors per kind.
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { createServer, request, type Server } from 'node:http';
import { after, before, test } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { googlePhone } from '../src/destinations/normalise.ts';
import { ADMIN_TOKEN, adminGet, eventually, removeDir, startServer, type RunningServer } from './support/harness.ts';
import { googleEnv, startGoogle } from './support/google.ts';
import { META, startMeta } from './support/meta.ts';
import { HOTTOK, KIWIFY_TOKEN, hotmartBody, kiwifyBody, post } from './support/checkouts.ts';

type Json = Record<string, any>;
const VISITORS = Number(process.env.FIDELITY_VISITORS ?? 1);
/** The hosted checkouts, resolved to this machine (nothing listens on 443): tests never reach them. */
const CHECKOUT_HOSTS = '--host-resolver-rules=MAP pay.hotmart.com 127.0.0.1, MAP pay.kiwify.com.br 127.0.0.1, MAP buy.stripe.com 127.0.0.1';
const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', CHECKOUT_HOSTS];
const PHONE_UA = 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36';
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const STRIPE_SECRET = 'whsec_fidelity';
const IPHONE_UA = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1';

let server: RunningServer;
let site: Server;
let siteUrl: string;
let browser: Browser;
let google: Awaited<ReturnType<typeof startGoogle>>;
let meta: Awaited<ReturnType<typeof startMeta>>;
const outcomes: Array<{ kind: string; ok: boolean; why: string }> = [];
/** Leads whose sale must reach Google, and Meta (as one Purchase); leads whose consent was denied. */
const expected = { google: [] as string[], meta: [] as string[], denied: [] as string[] };
/** The event_id a lead's Purchase goes to Meta under when it is not `<lead>:purchase` (a checkout's transaction). */
const metaEventIds = new Map<string, string>();

const admin = (path: string, method = 'GET', body?: unknown) =>
  fetch(server.url + path, { method, headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, 'Content-Type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });

/** A cookie banner on Google Consent Mode, as common ones do it: a denied default on every page, then the stored answer as an update. */
const CONSENT_MODE = `<script>window.dataLayer = window.dataLayer || []; function gtag() { dataLayer.push(arguments); }
gtag('consent', 'default', { ad_storage: 'denied', ad_user_data: 'denied', ad_personalization: 'denied', analytics_storage: 'denied' });
if (localStorage.cm === 'yes') gtag('consent', 'update', { ad_storage: 'granted', ad_user_data: 'granted', ad_personalization: 'granted' });
window.accept = () => { localStorage.cm = 'yes'; gtag('consent', 'update', { ad_storage: 'granted', ad_user_data: 'granted' }); };</script>`;

/** A page of the business's site; `tracker` is the visitor's way to our server (their proxy). */
function page(tracker: string, attributes: string, head = ''): string {
  return `<!doctype html><html><head><meta charset="utf-8"><title>Usta</title>${head}
<script defer src="${tracker}/t.js" ${attributes}></script></head><body>
<a id="next" href="?page=2&amp;tk=${encodeURIComponent(tracker)}">Next</a> <a id="tel" href="tel:+905321112233">Call</a> <a id="wa" href="https://wa.me/905321112233?text=Merhaba">WhatsApp</a>
<form id="lead" data-lc-lead method="post" action="/fallback"><input name="phone"><button id="send">Send</button></form>
<script>for (const id of ['tel', 'wa']) document.getElementById(id).addEventListener('click', (e) => e.preventDefault());
window.fbq = (...args) => (window.fbqCalls = window.fbqCalls || []).push(args); // the Meta pixel, as a stand-in</script>
</body></html>`;
}

function shop(tracker: string, attributes: string, head = ''): string {
  return `<!doctype html><html><head><meta charset="utf-8"><title>Curso</title>${head}
<script defer src="${tracker}/t.js" ${attributes}></script></head><body>
<a id="hotmart" href="https://pay.hotmart.com/X93485743A?off=k2pasun0&amp;checkoutMode=10">Comprar</a>
<a id="stripe" href="https://buy.stripe.com/test_14k5lq7Hn0yd8lW000">Pay</a>
<button id="later" onclick="document.body.insertAdjacentHTML('beforeend', '&lt;a id=kiwify href=https://pay.kiwify.com.br/gOjcexD&gt;Comprar agora&lt;/a&gt;')">Offer</button>
</body></html>`;
}

before(async () => {
  google = await startGoogle();
  meta = await startMeta();
  server = await startServer({
    DEFAULT_COUNTRY: 'TR',
    CURRENCY: 'TRY',
    FLUSH_INTERVAL_MS: '100',
    ...googleEnv(google),
    GOOGLE_LEAD_FORM_KEY: 'fidelity-lead-form-key-0123',
    META_PIXEL_ID: META.pixelId,
    META_ACCESS_TOKEN: META.token,
    META_API_VERSION: META.version,
    META_GRAPH_URL: meta.url,
    STRIPE_WEBHOOK_SECRET: STRIPE_SECRET,
    HOTMART_HOTTOK: HOTTOK,
    KIWIFY_WEBHOOK_TOKEN: KIWIFY_TOKEN,
    TRUST_PROXY: '1',
    // The production defaults, on: every visitor has its own address through its proxy.
    RATE_LIMIT_COLLECT: '600',
    RATE_LIMIT_LEAD: '10',
    RATE_LIMIT_HOOKS: '120',
    RATE_LIMIT_LOGIN: '10',
    RATE_LIMIT_GLOBAL: '2000',
  });
  const pages: Record<string, (tracker: string) => string> = {
    '/': (t) => page(t, ''),
    '/consent': (t) => page(t, 'data-consent="required"'),
    '/banner': (t) => page(t, '', CONSENT_MODE),
    '/banner-required': (t) => page(t, 'data-consent="required"', CONSENT_MODE),
    '/fallback': () => '<!doctype html><p>posted</p>',
    // A sales page whose buy buttons go to hosted checkouts; one added later, as a pop-up would.
    '/shop': (t) => shop(t, ''),
    '/shop-consent': (t) => shop(t, 'data-consent="required"', CONSENT_MODE),
    // A single-page app whose quote form appears in a pop-up, without a URL change.
    '/spa': (t) => `<!doctype html><html><head><meta charset="utf-8"><title>Usta</title><script defer src="${t}/t.js"></script></head><body>
<button id="open">Get a quote</button>
<script>document.getElementById('open').onclick = () => document.body.insertAdjacentHTML('beforeend', '<form id="lead" data-lc-lead method="post" action="/fallback"><input name="phone"><button id="send">Send</button></form>');</script>
</body></html>`,
  };
  site = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const html = pages[url.pathname]?.(url.searchParams.get('tk') ?? server.url);
    res.writeHead(html ? 200 : 404, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end(html ?? 'not found');
  });
  await new Promise<void>((resolve) => site.listen(0, 'localhost', resolve));
  const address = site.address();
  siteUrl = `http://localhost:${typeof address === 'object' && address ? address.port : 0}`; // another origin than the server's 127.0.0.1
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: CHROMIUM_FLAGS });
});

after(async () => {
  const correct = outcomes.filter((o) => o.ok).length;
  const at = (id: string) => google?.events().filter((e) => e.transactionId === id) ?? [];
  const purchases = (id: string) => meta?.events.filter((e) => e.event_name === 'Purchase' && e.event_id === (metaEventIds.get(id) ?? `${id}:purchase`)) ?? [];
  // A restated value (a refund) is a legitimate second event of a transaction; the same value twice is a duplicate.
  const repeats = (events: Array<Record<string, any>>) => events.length - new Set(events.map((e) => e.conversionValue ?? e.custom_data?.value)).size;
  const googleOnce = expected.google.filter((id) => at(id).length >= 1 && repeats(at(id)) === 0).length;
  const metaOnce = expected.meta.filter((id) => purchases(id).length === 1).length;
  const consentWrong = (google?.events() ?? []).filter((e) => e.consent?.adUserData === 'CONSENT_DENIED' && !expected.denied.includes(e.transactionId)).length;
  const duplicates = expected.google.reduce((n, id) => n + repeats(at(id)), 0) + expected.meta.reduce((n, id) => n + Math.max(0, purchases(id).length - 1), 0);
  process.stdout.write(`# fidelity: ${correct}/${outcomes.length} journeys correct | google exactly-once ${googleOnce}/${expected.google.length} | meta ${metaOnce}/${expected.meta.length} | consent wrong ${consentWrong} | duplicates ${duplicates}\n`);
  for (const o of outcomes.filter((x) => !x.ok)) process.stdout.write(`#   wrong: ${o.kind}: ${o.why}\n`);
  await browser?.close();
  await new Promise((resolve) => site?.close(resolve));
  await server?.stop();
  if (server) removeDir(server.dataDir);
  await google?.close();
  await meta?.close();
  for (const proxy of proxies) proxy.close();
});

const proxies: Server[] = [];
let visitors = 0;

/**
 * A visitor's own way to the server: a reverse proxy that, like Caddy, replaces X-Forwarded-For
 * with the visitor's address (here a made-up public one per visitor).
 */
async function proxy(): Promise<string> {
  const ip = `81.214.${1 + Math.floor(visitors / 250)}.${1 + (visitors++ % 250)}`;
  const target = new URL(server.url);
  const front = createServer((req, res) => {
    const upstream = request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: { ...req.headers, host: target.host, 'x-forwarded-for': ip } }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', () => res.writeHead(502).end());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
  proxies.push(front);
  const address = front.address();
  return `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
}

/** A visitor (own address, fresh browser context) landing on `path` with `query`; `go` visits another page of the site. */
async function land(path: string, query: string, userAgent = PHONE_UA): Promise<Page & { go(pathAndQuery: string): Promise<void> }> {
  const tk = encodeURIComponent(await proxy());
  const context = await browser.newContext({ userAgent });
  const p = (await context.newPage()) as Page & { go(pathAndQuery: string): Promise<void> };
  p.go = async (pathAndQuery: string) => {
    await p.goto(`${siteUrl}${pathAndQuery}${pathAndQuery.includes('?') ? '&' : '?'}tk=${tk}`);
    await p.waitForFunction(() => typeof (window as any).lc === 'function');
  };
  await p.go(`${path}${query}`);
  return p;
}

/** The newest lead of a source, once it exists. */
async function newestLead(source: string, after: Set<string>): Promise<Json> {
  return eventually(async () => (await adminGet<{ leads: Json[] }>(server, '/api/admin/leads')).leads.find((l) => l.source === source && !after.has(l.id)), 10_000, `a ${source} lead`);
}

async function knownLeads(): Promise<Set<string>> {
  return new Set((await adminGet<{ leads: Json[] }>(server, '/api/admin/leads')).leads.map((l) => l.id));
}

async function journey(kind: string, run: () => Promise<void>): Promise<void> {
  try {
    await run();
    outcomes.push({ kind, ok: true, why: '' });
  } catch (err) {
    outcomes.push({ kind, ok: false, why: (err as Error).message.split('\n', 1)[0]! });
    throw err;
  }
}

const googleEvent = (transactionId: string) => eventually(async () => google.events().find((e) => e.transactionId === transactionId), 15_000, `the sale of ${transactionId} at Google`);

test('a call after a Google click, on a site that does not ask for consent: the sale reaches Google with the click id and consent granted', async () => {
  for (let v = 0; v < VISITORS; v++) {
    await journey('call after a Google click', async () => {
      const before = await knownLeads();
      const p = await land('/', `?gclid=Cj0-call-${v}&utm_source=google`);
      await p.click('#tel');
      const lead = await newestLead('call', before);
      assert.equal(lead.gclid, `Cj0-call-${v}`);
      assert.equal(lead.consent_ads, true, 'implied consent travels with the click');
      assert.equal(lead.flag, null, 'not held by the flood rules: through its proxy each visitor has its own address');
      await p.context().close();
      assert.equal((await admin(`/api/admin/leads/${lead.id}/sale`, 'POST', { value: 1500 })).status, 201);
      expected.google.push(lead.id);
      const event = await googleEvent(lead.id);
      assert.equal(event.adIdentifiers?.gclid, `Cj0-call-${v}`);
      assert.equal(event.consent.adUserData, 'CONSENT_GRANTED');
      assert.equal(event.consent.adPersonalization, undefined, 'nobody asked about personalization: unspecified');
      assert.equal(event.eventSource, 'PHONE');
    });
  }
});

test('WhatsApp with its reference code, consent asked for and given: sold through the sales API by code; Google and Meta each get the sale once', async () => {
  for (let v = 0; v < VISITORS; v++) {
    await journey('WhatsApp with consent given', async () => {
      const before = await knownLeads();
      const p = await land('/consent', `?gclid=Cj0-wa-${v}&fbclid=FB-wa-${v}`);
      await p.evaluate(() => (window as any).lc('consent', { ads: true }));
      await p.click('#wa');
      const lead = await newestLead('whatsapp', before);
      assert.equal(lead.consent_ads, true);
      assert.equal(lead.gclid, `Cj0-wa-${v}`);
      assert.match(lead.fbc ?? '', new RegExp(`^fb\\.1\\.\\d+\\.FB-wa-${v}$`));
      await p.context().close();
      assert.equal((await admin('/api/admin/sales', 'POST', { refCode: lead.ref_code, value: 900 })).status, 201);
      expected.google.push(lead.id);
      expected.meta.push(lead.id);
      const event = await googleEvent(lead.id);
      assert.equal(event.adIdentifiers?.gclid, `Cj0-wa-${v}`);
      assert.equal(event.consent.adUserData, 'CONSENT_GRANTED');
      const purchase = await eventually(async () => meta.events.find((e) => e.event_name === 'Purchase' && e.event_id === `${lead.id}:purchase`), 15_000, 'the Purchase at Meta');
      assert.equal(purchase.user_data.fbc, lead.fbc);
    });
  }
});

test('consent asked for and refused: no click id leaves the browser, and the sale is not sent, with the reason on the lead', async () => {
  for (let v = 0; v < VISITORS; v++) {
    await journey('call with consent refused', async () => {
      const before = await knownLeads();
      const p = await land('/consent', `?gclid=Cj0-denied-${v}`);
      await p.evaluate(() => (window as any).lc('consent', { ads: false }));
      // The second page's referrer is the landing URL, click id and all: it must not travel either.
      await p.click('#next');
      await p.waitForURL(/page=2/);
      await p.waitForFunction(() => typeof (window as any).lc === 'function');
      await p.evaluate(() => (window as any).lc('consent', { ads: false }));
      await p.click('#tel');
      const lead = await newestLead('call', before);
      assert.equal(lead.consent_ads, false);
      expected.denied.push(lead.id);
      assert.equal(lead.gclid, null, 'the click id stayed in the browser');
      assert.doesNotMatch(lead.page_url ?? '', /gclid/);
      const stored = await eventually(async () => {
        const { events } = await adminGet<{ events: Json[] }>(server, '/api/admin/events?limit=1000');
        const mine = events.filter((e) => e.visitor_id === lead.visitor_id);
        return mine.length >= 3 ? mine : undefined; // two pageviews and the call
      }, 10_000, 'the visitor\'s events in ClickHouse');
      assert.doesNotMatch(JSON.stringify(stored), /Cj0-denied/, 'no click id in any field of any event (URL, referrer, attribution)');
      await p.context().close();
      assert.equal((await admin(`/api/admin/leads/${lead.id}/sale`, 'POST', { value: 700 })).status, 201);
      const google = await eventually(async () => (await adminGet<Json>(server, `/api/admin/leads/${lead.id}`)).deliveries.find((d: Json) => d.destination === 'google' && d.state !== 'pending' && d.state !== 'sending'), 15_000, 'the Google delivery settled');
      assert.equal(google.state, 'skipped', 'not sent on purpose is not a failure');
      assert.equal(google.status, 'skipped');
      assert.match(google.last_error, /not sent: no click id, and no ads consent/);
      assert.ok(!(await adminGet<Json>(server, `/api/admin/leads/${lead.id}`)).deliveries.some((d: Json) => d.destination === 'meta' && d.state === 'done'), 'nothing to Meta');
    });
  }
});

test('a Google lead form lead, sold: ad_user_data granted (the person gave the data in Google\'s form), personalization left unspecified, the phone hashed', async () => {
  for (let v = 0; v < VISITORS; v++) {
    await journey('Google lead form', async () => {
      const phone = `+9053255500${String(v).padStart(2, '0')}`;
      const hook = await fetch(`${server.url}/hooks/google-lead-form`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ lead_id: `GLF-${v}-${Date.now()}`, google_key: 'fidelity-lead-form-key-0123', gcl_id: `Cj0-form-${v}`, user_column_data: [{ column_id: 'PHONE_NUMBER', string_value: phone }] }),
      });
      assert.equal(hook.status, 200);
      const { id } = (await hook.json()) as { id: string };
      assert.equal((await admin(`/api/admin/leads/${id}/sale`, 'POST', { value: 3000 })).status, 201);
      expected.google.push(id);
      const event = await googleEvent(id);
      assert.equal(event.consent?.adUserData, 'CONSENT_GRANTED');
      assert.equal(event.consent?.adPersonalization, undefined, 'unspecified, never DENIED for a consent that is not known');
      assert.equal(event.adIdentifiers?.gclid, `Cj0-form-${v}`);
      assert.deepEqual(event.userData?.userIdentifiers, [{ phoneNumber: sha256(googlePhone(phone)) }]);
    });
  }
});

for (const path of ['/banner', '/banner-required']) {
  test(`a Google Consent Mode banner (${path === '/banner' ? 'without' : 'with'} data-consent): each page's denied default does not lose the click; the accepted visitor's call on the second page is credited`, async () => {
    for (let v = 0; v < VISITORS; v++) {
      await journey(`Consent Mode banner ${path}`, async () => {
        const before = await knownLeads();
        const p = await land(path, `?gclid=Cj0-banner${path.length}-${v}&utm_campaign=banner`);
        await p.evaluate(() => (window as any).accept());
        await p.click('#next'); // page 2: the banner's default (denied), then its update (granted)
        await p.waitForURL(/page=2/);
        await p.waitForFunction(() => typeof (window as any).lc === 'function');
        // a partial update on its own is not a denial
        await p.evaluate(() => (window as any).gtag('consent', 'update', { ad_user_data: 'granted' }));
        await p.click('#tel');
        const lead = await newestLead('call', before);
        assert.equal(lead.gclid, `Cj0-banner${path.length}-${v}`, 'the click survived the second page\'s default');
        assert.equal(lead.utm_campaign, 'banner');
        assert.equal(lead.consent_ads, true);
        await p.context().close();
        assert.equal((await admin(`/api/admin/leads/${lead.id}/sale`, 'POST', { value: 1200 })).status, 201);
        expected.google.push(lead.id);
        assert.equal((await googleEvent(lead.id)).adIdentifiers?.gclid, `Cj0-banner${path.length}-${v}`);
      });
    }
  });
}

test('a form after a Meta and a Google click, the banner granting every purpose: sold in the PWA, Google gets the gclid with ad_user_data and ad_personalization granted; Meta gets the Lead under the pixel\'s eventID, and the Purchase', async () => {
  for (let v = 0; v < VISITORS; v++) {
    await journey('form after Meta and Google clicks', async () => {
      const before = await knownLeads();
      const p = await land('/banner', `?fbclid=FB-form-${v}`);
      await p.evaluate(() => (window as any).gtag('consent', 'update', { ad_storage: 'granted', ad_user_data: 'granted', ad_personalization: 'granted' }));
      await p.go(`/banner?gclid=Cj0-form-${v}&utm_campaign=forms`);
      await p.evaluate(() => (window as any).gtag('consent', 'update', { ad_storage: 'granted', ad_user_data: 'granted', ad_personalization: 'granted' }));
      await p.fill('[name=phone]', `0532 700 ${String(10 + v).padStart(2, '0')} 00`);
      await p.waitForTimeout(2100); // a person takes a moment to fill a form (LEAD_MIN_FILL_MS: quicker is a robot)
      await p.click('#send');
      await p.waitForSelector('form[data-lc-state=sent]');
      const lead = await newestLead('form', before);
      assert.deepEqual([lead.gclid, lead.consent_ads, lead.consent_personalization, lead.flag], [`Cj0-form-${v}`, true, true, null]);
      const pixel = (await p.evaluate(() => (window as any).fbqCalls)) as unknown[][];
      assert.deepEqual(pixel, [['track', 'Lead', {}, { eventID: lead.event_id }]], 'the pixel heard of the lead once the server had it');
      await p.context().close();
      const metaLead = await eventually(async () => meta.events.find((e) => e.event_name === 'Lead' && e.event_id === lead.event_id), 15_000, 'the Lead at Meta');
      assert.match(metaLead.user_data.fbc, new RegExp(`\\.FB-form-${v}$`), 'the Meta click, kept through the later Google click');
      assert.equal((await admin(`/api/admin/leads/${lead.id}/sale`, 'POST', { value: 2500 })).status, 201);
      expected.google.push(lead.id);
      expected.meta.push(lead.id);
      const event = await googleEvent(lead.id);
      assert.deepEqual([event.adIdentifiers?.gclid, event.consent.adUserData, event.consent.adPersonalization], [`Cj0-form-${v}`, 'CONSENT_GRANTED', 'CONSENT_GRANTED']);
      await eventually(async () => meta.events.find((e) => e.event_name === 'Purchase' && e.event_id === `${lead.id}:purchase`), 15_000, 'the Purchase at Meta');
    });
  }
});

test('a returning visitor: a later Google click (gbraid) wins over the first (gclid); a later Meta click leaves the Google click as it was; a click older than 90 days is not sent', async () => {
  for (let v = 0; v < VISITORS; v++) {
    await journey('returning visitor, newer Google click', async () => {
      const before = await knownLeads();
      const p = await land('/', `?gclid=Cj0-first-${v}`);
      await p.go(`/?gbraid=GB-later-${v}`);
      await p.go(`/?fbclid=FB-later-${v}`);
      await p.click('#tel');
      const lead = await newestLead('call', before);
      assert.deepEqual([lead.gclid, lead.gbraid], [null, `GB-later-${v}`], 'the newest Google click only');
      assert.match(lead.fbc ?? '', new RegExp(`\\.FB-later-${v}$`));
      await p.context().close();
      assert.equal((await admin(`/api/admin/leads/${lead.id}/sale`, 'POST', { value: 800 })).status, 201);
      expected.google.push(lead.id);
      const event = await googleEvent(lead.id);
      assert.deepEqual([event.adIdentifiers?.gclid, event.adIdentifiers?.gbraid], [undefined, `GB-later-${v}`]);
    });
    await journey('a click older than the window', async () => {
      const before = await knownLeads();
      const tk = encodeURIComponent(await proxy());
      const context = await browser.newContext({ userAgent: PHONE_UA });
      const old = Date.now() - 100 * 86_400_000;
      const stored = { f: { gclid: `Cj0-stale-${v}`, landing: `${siteUrl}/?gclid=Cj0-stale-${v}`, t: old }, l: { gclid: `Cj0-stale-${v}`, landing: `${siteUrl}/?gclid=Cj0-stale-${v}`, t: old }, v: `stale${v}xyz` };
      await context.addCookies([{ name: 'lc_attr', value: encodeURIComponent(JSON.stringify(stored)), url: siteUrl }]);
      const p = await context.newPage();
      await p.goto(`${siteUrl}/?tk=${tk}`);
      await p.waitForFunction(() => typeof (window as any).lc === 'function');
      await p.click('#tel');
      const lead = await newestLead('call', before);
      assert.equal(lead.gclid, null, 'a 100-day-old click is not the one that earned this');
      await context.close();
    });
  }
});

test('an iPhone visitor from an app campaign (gbraid) calls; a Meta visitor clicks twice over days (old click, then a new one) and writes on WhatsApp; the sale is recorded twice by a CRM', async () => {
  for (let v = 0; v < VISITORS; v++) {
    await journey('iPhone with gbraid', async () => {
      const before = await knownLeads();
      const p = await land('/', `?gbraid=GB-ios-${v}`, IPHONE_UA);
      await p.click('#tel');
      const lead = await newestLead('call', before);
      await p.context().close();
      assert.equal(lead.gbraid, `GB-ios-${v}`);
      // A CRM reports the sale, then reports it again (a retry): one sale.
      for (const status of [201, 200]) assert.equal((await admin('/api/admin/sales', 'POST', { leadId: lead.id, value: 650 })).status, status);
      expected.google.push(lead.id);
      const event = await googleEvent(lead.id);
      assert.deepEqual([event.adIdentifiers?.gbraid, event.adIdentifiers?.gclid], [`GB-ios-${v}`, undefined]);
    });
    await journey('old Meta click, then a new one', async () => {
      const before = await knownLeads();
      const p = await land('/', `?fbclid=FB-old-${v}`);
      // Meta's pixel set its own cookie at that first visit; days later a new ad click arrives.
      await p.context().addCookies([{ name: '_fbc', value: `fb.1.${Date.now() - 5 * 86_400_000}.FB-old-${v}`, url: siteUrl }]);
      await p.go(`/?fbclid=FB-new-${v}`);
      await p.click('#wa');
      const lead = await newestLead('whatsapp', before);
      await p.context().close();
      assert.match(lead.fbc ?? '', new RegExp(`\\.FB-new-${v}$`), 'the freshest click, not the pixel\'s older cookie');
      assert.equal((await admin('/api/admin/sales', 'POST', { refCode: lead.ref_code, value: 300 })).status, 201);
      expected.meta.push(lead.id);
      const purchase = await eventually(async () => meta.events.find((e) => e.event_name === 'Purchase' && e.event_id === `${lead.id}:purchase`), 15_000, 'the Purchase at Meta');
      assert.equal(purchase.user_data.fbc, lead.fbc);
    });
  }
});

test('a Stripe payment reported twice (Checkout and its PaymentIntent), then partly refunded: one sale, restated once at Google', async () => {
  const stripe = async (id: string, type: string, object: Record<string, unknown>) => {
    const body = JSON.stringify({ id, type, created: Math.floor(Date.now() / 1000), data: { object } });
    const t = Math.floor(Date.now() / 1000);
    const res = await fetch(`${server.url}/hooks/stripe`, { method: 'POST', headers: { 'Content-Type': 'application/json', 'Stripe-Signature': `t=${t},v1=${createHmac('sha256', STRIPE_SECRET).update(`${t}.${body}`).digest('hex')}` }, body });
    assert.equal(res.status, 200);
  };
  for (let v = 0; v < VISITORS; v++) {
    await journey('Stripe payment, both events, then a refund', async () => {
      const before = await knownLeads();
      const p = await land('/', `?gclid=Cj0-stripe-${v}`);
      await p.click('#tel');
      const lead = await newestLead('call', before);
      await p.context().close();
      const pi = `pi_fid_${v}_${Date.now()}`;
      await stripe(`evt_a_${pi}`, 'checkout.session.completed', { id: `cs_${pi}`, payment_status: 'paid', payment_intent: pi, amount_total: 120000, currency: 'try', client_reference_id: lead.id });
      await stripe(`evt_b_${pi}`, 'payment_intent.succeeded', { id: pi, amount_received: 120000, currency: 'try', metadata: { lead_id: lead.id } });
      expected.google.push(lead.id);
      await googleEvent(lead.id);
      await stripe(`evt_c_${pi}`, 'charge.refunded', { id: `ch_${pi}`, payment_intent: pi, amount: 120000, amount_refunded: 20000, currency: 'try' });
      await eventually(async () => (google.events().some((e) => e.transactionId === lead.id && e.conversionValue === 1000) ? true : undefined), 15_000, 'the restated value');
      assert.deepEqual(google.events().filter((e) => e.transactionId === lead.id).map((e) => e.conversionValue), [1200, 1000]);
    });
  }
});

/**
 * Clicks a buy button and returns the URL the browser went to. The checkouts' hosts resolve to
 * this machine, where nothing answers (CHECKOUT_HOSTS below): the page really leaves, as it would
 * for the checkout, and no request interception stands between its last beacon and our server.
 */
async function checkoutClick(p: Page, selector: string, origin: string): Promise<URL> {
  const [request] = await Promise.all([p.waitForEvent('request', (r) => r.url().startsWith(origin) && r.isNavigationRequest()), p.click(selector)]);
  return new URL(request.url());
}

/** The click to the checkout, in ClickHouse: what the webhook's match reads. */
const checkoutEvent = (visitor: string) =>
  eventually(async () => (await adminGet<{ events: Json[] }>(server, '/api/admin/events?limit=500')).events.find((e) => e.type === 'checkout' && e.visitor_id === visitor), 10_000, 'the checkout click in ClickHouse');

/** The lead a checkout's transaction made. */
const checkoutLead = (eventId: string) =>
  eventually(async () => (await adminGet<{ leads: Json[] }>(server, '/api/admin/leads')).leads.find((l) => l.source === 'checkout' && l.event_id === eventId), 10_000, `the lead of ${eventId}`);

const BUYER = { name: 'Ana Beatriz Souza', email: 'ana.souza@gmail.com', phone: '11987654321' };

test('Hotmart after a Google and a Meta click: the buy link carries the visitor; the webhook (sent three times, then "complete") is one sale; Google and Meta get it once, under the click and the transaction; a refund restates it at Google', async () => {
  for (let v = 0; v < VISITORS; v++) {
    await journey('Hotmart sale, replayed, refunded', async () => {
      const p = await land('/shop', `?gclid=Cj0-hot-${v}&fbclid=FB-hot-${v}&utm_source=google&utm_campaign=confeitaria`);
      const visitor: string = await p.evaluate(() => (window as any).lc.v());
      const to = await checkoutClick(p, '#hotmart', 'https://pay.hotmart.com/');
      assert.equal(to.searchParams.get('sck'), visitor, 'the visitor goes to Hotmart in sck');
      assert.equal(to.searchParams.get('off'), 'k2pasun0', 'the offer stays');
      assert.equal(to.searchParams.get('utm_campaign'), 'confeitaria');
      await checkoutEvent(visitor);
      await p.context().close();
      const transaction = `HP${Date.now()}${v}`;
      const approved = hotmartBody('PURCHASE_APPROVED', { transaction, price: 497, sck: visitor, buyer: BUYER });
      for (let i = 0; i < 3; i++) assert.equal((await post.hotmart(server.url, approved)).status, 200, 'a replay is acknowledged');
      assert.equal((await post.hotmart(server.url, hotmartBody('PURCHASE_COMPLETE', { transaction, price: 497, sck: visitor, buyer: BUYER }))).status, 200);
      const lead = await checkoutLead(`hotmart:${transaction}`);
      assert.deepEqual([lead.status, lead.sale_value, lead.sale_currency, lead.gclid, lead.consent_ads, lead.email, lead.phone], ['SOLD', 497, 'BRL', `Cj0-hot-${v}`, true, BUYER.email, '+5511987654321']);
      assert.match(lead.fbc ?? '', new RegExp(`^fb\\.1\\.\\d+\\.FB-hot-${v}$`));
      expected.google.push(lead.id);
      expected.meta.push(lead.id);
      metaEventIds.set(lead.id, transaction);
      const event = await googleEvent(lead.id);
      assert.deepEqual([event.adIdentifiers?.gclid, event.conversionValue, event.currency, event.eventSource, event.consent.adUserData], [`Cj0-hot-${v}`, 497, 'BRL', 'WEB', 'CONSENT_GRANTED']);
      const purchase = await eventually(async () => meta.events.find((e) => e.event_name === 'Purchase' && e.event_id === transaction), 15_000, 'the Purchase at Meta');
      assert.deepEqual([purchase.action_source, purchase.user_data.fbc, purchase.custom_data], ['website', lead.fbc, { value: 497, currency: 'BRL' }]);
      assert.match(purchase.event_source_url, /\/shop\?/);
      assert.equal((await post.hotmart(server.url, hotmartBody('PURCHASE_REFUNDED', { transaction, price: 497, sck: visitor, buyer: BUYER }))).status, 200);
      await eventually(async () => (google.events().some((e) => e.transactionId === lead.id && e.conversionValue === 0) ? true : undefined), 15_000, 'the refund restated at Google');
      assert.deepEqual(google.events().filter((e) => e.transactionId === lead.id).map((e) => e.conversionValue), [497, 0]);
    });
  }
});

test('Kiwify on a site that asks for consent: refused, the link goes as it was; given, a link the page adds later carries the visitor; the sale reaches Meta with the fbc and Google with the click', async () => {
  for (let v = 0; v < VISITORS; v++) {
    await journey('Kiwify sale, consent asked', async () => {
      const refused = await land('/shop-consent', `?gclid=Cj0-kiwi-no-${v}`);
      await refused.click('#later');
      const plain = await checkoutClick(refused, '#kiwify', 'https://pay.kiwify.com.br/');
      assert.equal(plain.search, '', 'no consent: nothing added to the link');
      await refused.context().close();

      const p = await land('/shop-consent', `?gclid=Cj0-kiwi-${v}&fbclid=FB-kiwi-${v}&utm_source=facebook`);
      await p.evaluate(() => (window as any).accept());
      const visitor: string = await p.evaluate(() => (window as any).lc.v());
      await p.click('#later'); // the pop-up's link did not exist when the page loaded
      const to = await checkoutClick(p, '#kiwify', 'https://pay.kiwify.com.br/');
      assert.equal(to.searchParams.get('sck'), visitor);
      assert.equal(to.searchParams.get('utm_source'), 'facebook');
      await checkoutEvent(visitor);
      await p.context().close();
      const orderId = `kw-${Date.now()}-${v}`;
      const body = kiwifyBody('order_approved', { orderId, cents: 19_700, sck: visitor, buyer: { ...BUYER, phone: '+5511912345678' } });
      for (let i = 0; i < 3; i++) assert.equal((await post.kiwify(server.url, body)).status, 200);
      const lead = await checkoutLead(`kiwify:${orderId}`);
      assert.deepEqual([lead.sale_value, lead.sale_currency, lead.gclid, lead.consent_ads], [197, 'BRL', `Cj0-kiwi-${v}`, true]);
      expected.google.push(lead.id);
      expected.meta.push(lead.id);
      metaEventIds.set(lead.id, orderId);
      assert.equal((await googleEvent(lead.id)).adIdentifiers?.gclid, `Cj0-kiwi-${v}`);
      const purchase = await eventually(async () => meta.events.find((e) => e.event_name === 'Purchase' && e.event_id === orderId), 15_000, 'the Purchase at Meta');
      assert.match(purchase.user_data.fbc, new RegExp(`\\.FB-kiwi-${v}$`));
    });
  }
});

test('a Stripe Payment Link after a Google click: client_reference_id carries the visitor; the payment is one sale at Google', async () => {
  for (let v = 0; v < VISITORS; v++) {
    await journey('Stripe Payment Link sale', async () => {
      const p = await land('/shop', `?gclid=Cj0-link-${v}`);
      const visitor: string = await p.evaluate(() => (window as any).lc.v());
      const to = await checkoutClick(p, '#stripe', 'https://buy.stripe.com/');
      assert.equal(to.searchParams.get('client_reference_id'), visitor);
      await checkoutEvent(visitor);
      await p.context().close();
      const pi = `pi_link_${v}_${Date.now()}`;
      const body = JSON.stringify({ id: `evt_${pi}`, type: 'checkout.session.completed', created: Math.floor(Date.now() / 1000), livemode: true, data: { object: { id: `cs_${pi}`, payment_status: 'paid', payment_intent: pi, payment_link: 'plink_1', amount_total: 19_900, currency: 'brl', client_reference_id: visitor, customer_details: { email: 'link.buyer@gmail.com', name: 'Link Buyer' } } } });
      const t = Math.floor(Date.now() / 1000);
      const signature = `t=${t},v1=${createHmac('sha256', STRIPE_SECRET).update(`${t}.${body}`).digest('hex')}`;
      assert.equal((await post.stripe(server.url, body, signature)).status, 200);
      const lead = await checkoutLead(`stripe:${pi}`);
      expected.google.push(lead.id);
      const event = await googleEvent(lead.id);
      assert.deepEqual([event.adIdentifiers?.gclid, event.conversionValue, event.currency], [`Cj0-link-${v}`, 199, 'BRL']);
    });
  }
});

test('a single-page app\'s pop-up form (no form, no link, no URL change at load) still becomes a lead with its click', async () => {
  for (let v = 0; v < VISITORS; v++) {
    await journey('SPA pop-up form', async () => {
      const before = await knownLeads();
      const p = await land('/spa', `?gclid=Cj0-spa-${v}`);
      await p.click('#open');
      await p.click('[name=phone]'); // focusing the form loads the lead part
      await p.fill('[name=phone]', `+9053270090${String(v).padStart(2, '0')}`);
      await p.waitForTimeout(2100);
      await p.click('#send');
      await p.waitForSelector('form[data-lc-state=sent]');
      const lead = await newestLead('form', before);
      assert.equal(lead.gclid, `Cj0-spa-${v}`);
      await p.context().close();
    });
  }
});

test('the stand-ins refused nothing', () => {
  assert.deepEqual(google.rejected, []);
  assert.deepEqual(meta.rejected, []);
});
