// The tracker in a real browser (Debian's Chromium driven by playwright-core): a small site served
// by the test loads /t.js from the real server; outcomes are read back from ClickHouse and SQLite
// through the admin API.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { benchBeacons } from '../bench/beacons.ts';
import { buildTracker } from '../src/collect/tracker-route.ts';
import { adminGet, eventually, removeDir, startServer, type RunningServer } from './support/harness.ts';

type Json = Record<string, any>;
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const PHONE_UA = 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36';
const SIZE_BUDGET_GZIP = 1536; // 1.5 KiB; the goal is under 1 KiB
const LEAD_PART_BUDGET_GZIP = 1024; // loaded only where there is a form, a tel: or a WhatsApp link

function page(title: string, tracker: string, body: string, scriptAttributes = ''): string {
  return `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title>
<script defer src="${tracker}/t.js" ${scriptAttributes}></script></head><body>${body}</body></html>`;
}

const LANDING_BODY = `
<h1>Emergency <span data-lc-text="utm_term">plumber</span></h1>
<a id="second" href="/second">More</a>
<a id="tel" href="tel:+905321112233">Call us</a>
<a id="wa" href="https://wa.me/905321112233?text=Hello">WhatsApp</a>
<form id="lead" data-lc-lead method="post" action="/form-fallback">
  <input name="name"><input name="phone"><input name="email"><textarea name="message"></textarea>
  <input name="district">
  <input name="lc_hp" tabindex="-1" autocomplete="off" aria-hidden="true" style="position:absolute;left:-9999px">
  <span data-lc-error="phone"></span>
  <button id="send">Send</button>
</form>
<script>
  // Keep the test on this page (a tel: or wa.me navigation would replace it); the page's own
  // handlers run after the tracker's, which listens in the capture phase.
  for (const id of ['tel', 'wa']) document.getElementById(id).addEventListener('click', (e) => e.preventDefault());
  // A stand-in for the Meta pixel: records what the tracker hands it.
  window.fbq = (...args) => (window.fbqCalls = window.fbqCalls || []).push(args);
</script>`;

/** A lead form sent with no way to reach the person: the server refuses it and says why. */
const FORM_WITHOUT_CONTACT = `<form data-lc-lead method="post" action="/form-fallback"><input name="name" value="Ayşe"><input name="phone"><span data-lc-error="phone"></span><button id="send">Send</button></form>`;

describe('the tracker in Chromium', () => {
  let server: RunningServer;
  let site: Server;
  let siteUrl: string;
  let browser: Browser;
  const deadPort = 9; // discard port: nothing listens, connections are refused

  before(async () => {
    server = await startServer({ DEFAULT_COUNTRY: 'TR', FLUSH_INTERVAL_MS: '100' });
    const tracker = server.url;
    const pages: Record<string, string> = {
      '/': page('Landing', tracker, LANDING_BODY),
      '/second': page('Second', tracker, '<p>Second page</p><a id="back" href="/">Back</a>'),
      '/consent': page('Consent', tracker, LANDING_BODY, 'data-consent="required"'),
      '/down': page('Down', tracker, LANDING_BODY, `data-endpoint="http://127.0.0.1:${deadPort}"`),
      '/form-fallback': '<!doctype html><title>Posted natively</title><p>posted</p>',
      '/tr': page('Teklif', tracker, FORM_WITHOUT_CONTACT).replace('<html>', '<html lang="tr">'),
      '/pt': page('Orçamento', tracker, FORM_WITHOUT_CONTACT).replace('<html>', '<html lang="pt-BR">'),
      '/own-words': page('Own words', tracker, FORM_WITHOUT_CONTACT.replace('data-lc-lead', 'data-lc-lead data-lc-msg-phone="Numaranızı yazın, sizi arayalım."')).replace('<html>', '<html lang="tr">'),
    };
    site = createServer((req, res) => {
      const html = pages[new URL(req.url ?? '/', 'http://x').pathname];
      res.writeHead(html ? 200 : 404, { 'Content-Type': 'text/html; charset=utf-8' });
      res.end(html ?? 'not found');
    });
    await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve));
    const address = site.address();
    siteUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_FLAGS });
  });
  after(async () => {
    await browser?.close();
    await new Promise((resolve) => site?.close(resolve));
    await server.stop();
    removeDir(server.dataDir);
  });

  /** A fresh browser context (no cookies) and a page that records every script error and the beacons it sent. */
  async function visit(path: string): Promise<{ page: Page; errors: string[]; beacons: string[] }> {
    // Headless Chromium says "HeadlessChrome", which the bot filter drops, as it should: look like a phone.
    const context = await browser.newContext({ userAgent: PHONE_UA });
    const p = await context.newPage();
    const errors: string[] = [];
    const beacons: string[] = [];
    p.on('pageerror', (err) => errors.push(`pageerror: ${err.message}`));
    p.on('request', (request) => request.url().endsWith('/collect') && beacons.push(request.postData() ?? ''));
    p.on('console', (msg) => {
      // The browser reports refused connections itself; those are not script errors.
      if (msg.type() === 'error' && !/Failed to load resource|ERR_CONNECTION_REFUSED/.test(msg.text())) errors.push(`console: ${msg.text()}`);
    });
    await p.goto(siteUrl + path);
    await p.waitForFunction(() => typeof (window as any).lc === 'function');
    return { page: p, errors, beacons };
  }

  const visitorOf = async (p: Page): Promise<string> => {
    const cookie = (await p.context().cookies()).find((c) => c.name === 'lc_attr');
    return JSON.parse(decodeURIComponent(cookie!.value)).v;
  };
  const eventsOf = async (visitorId: string, count: number, what: string): Promise<Json[]> =>
    eventually(async () => {
      const { events } = await adminGet<{ events: Json[] }>(server, '/api/admin/events?limit=1000');
      const mine = events.filter((e) => e.visitor_id === visitorId).reverse();
      return mine.length >= count ? mine : undefined;
    }, 10_000, what);

  test('click ids and UTMs from the landing URL are kept first-touch and sent with every later pageview', async () => {
    const { page: p, errors, beacons } = await visit('/?gclid=G-BROWSER&utm_source=google&utm_medium=cpc&utm_campaign=spring&utm_term=boiler%20repair&fbclid=FBX1');
    assert.equal(await p.textContent('[data-lc-text]'), 'boiler repair', 'the keyword is echoed as text');
    const visitor = await visitorOf(p);
    const stored = JSON.parse(decodeURIComponent((await p.context().cookies()).find((c) => c.name === 'lc_attr')!.value));
    assert.match(stored.f.fbc, /^fb\.1\.\d{13}\.FBX1$/, 'fbc built from the fbclid');
    await Promise.all([p.waitForURL('**/second'), p.click('#second')]);
    const [landing, second] = await eventsOf(visitor, 2, 'two pageviews');
    assert.deepEqual([landing!.type, landing!.gclid, landing!.utm_campaign, landing!.utm_term, landing!.fbclid], ['pageview', 'G-BROWSER', 'spring', 'boiler repair', 'FBX1']);
    assert.equal(new URL(second!.url).pathname, '/second');
    assert.deepEqual([second!.gclid, second!.utm_source, second!.session_id], ['G-BROWSER', 'google', landing!.session_id], 'first touch carried to the next page, same session');
    assert.equal(second!.referrer_host, '127.0.0.1');
    assert.deepEqual(errors, []);
    // The benchmarks send beacons of this shape (bench/beacons.ts): the same fields, the same kinds
    // of values, no attribution key a browser sends that they leave out.
    const sent = beacons.map((b) => JSON.parse(b) as Json[]);
    const benched = benchBeacons().map((b) => JSON.parse(b.body) as Json[]);
    const shape = (events: Json[]) => events.map((e) => Object.entries(e).map(([k, v]) => `${k}:${typeof v}`).sort());
    assert.equal(sent.length, 2);
    for (const events of [...sent, ...benched]) assert.deepEqual(shape(events), shape(sent[0]!));
    const benchedKeys = new Set(benched.flatMap((events) => Object.keys(events[0]!.attribution)));
    for (const events of sent) for (const key of Object.keys(events[0]!.attribution)) assert.ok(benchedKeys.has(key), `the bench's beacons carry attribution.${key}`);
    await p.context().close();
  });

  test('single-page navigations and back count as pageviews; a reload within 10 s does not', async () => {
    const { page: p } = await visit('/');
    const visitor = await visitorOf(p);
    await p.evaluate(() => history.pushState({}, '', '/app/step-2'));
    await eventsOf(visitor, 2, 'the pushState pageview');
    await p.goBack();
    await eventsOf(visitor, 3, 'the back pageview');
    await p.reload();
    await p.waitForFunction(() => typeof (window as any).lc === 'function');
    await new Promise((r) => setTimeout(r, 1000));
    const events = await eventsOf(visitor, 3, 'pageviews');
    assert.deepEqual(events.map((e) => new URL(e.url).pathname), ['/', '/app/step-2', '/'], 'no pageview for the reload');
    await p.context().close();
  });

  test('call and WhatsApp clicks become events and leads; the WhatsApp text carries the reference code', async () => {
    const { page: p, errors } = await visit('/?gclid=G-CLICKS&utm_campaign=calls');
    const visitor = await visitorOf(p);
    await p.click('#tel');
    await p.click('#wa');
    const href = await p.getAttribute('#wa', 'href');
    const ref = visitor.slice(0, 5);
    assert.equal(new URL(href!).searchParams.get('text'), `Hello (ref ${ref})`);
    await p.click('#wa');
    assert.equal(new URL((await p.getAttribute('#wa', 'href'))!).searchParams.get('text'), `Hello (ref ${ref})`, 'a second click adds no second code');

    let all: Json[] = [];
    const events = await eventually(async () => {
      all = await eventsOf(visitor, 1, 'events');
      const clicks = all.filter((e) => e.type !== 'lead');
      return clicks.length >= 4 ? clicks : undefined;
    }, 10_000, 'pageview, call and two whatsapp clicks').catch((err) => {
      throw new Error(`${err.message}; got ${JSON.stringify(all.map((e) => [e.type, e.name]))}`);
    });
    assert.deepEqual(events.map((e) => e.type), ['pageview', 'call', 'whatsapp', 'whatsapp']);
    assert.equal(events[2]!.props.ref, ref);
    const { leads } = await eventually(async () => {
      const page = await adminGet<Json>(server, `/api/admin/leads?q=${ref}`);
      return page.leads.length > 0 ? page : undefined;
    }, 5000, 'the WhatsApp lead');
    assert.deepEqual([leads[0].source, leads[0].ref_code, leads[0].gclid, leads[0].utm_campaign, leads[0].visitor_id], ['whatsapp', ref.toUpperCase(), 'G-CLICKS', 'calls', visitor]);
    const calls = (await adminGet<Json>(server, '/api/admin/leads?limit=200')).leads.filter((l: Json) => l.source === 'call' && l.visitor_id === visitor);
    assert.equal(calls.length, 1);
    assert.equal(calls[0].gclid, 'G-CLICKS');
    assert.deepEqual(errors, []);
    await p.context().close();
  });

  test('a lead form submitted twice quickly makes exactly one lead, with its attribution and consent', async () => {
    const { page: p, errors } = await visit('/?gclid=G-FORM&utm_source=google&utm_campaign=forms&fbclid=FBFORM');
    const visitor = await visitorOf(p);
    await p.fill('[name=name]', 'Elif');
    await p.fill('[name=phone]', '0532 444 55 66');
    await p.fill('[name=email]', 'Elif@Example.com');
    await p.fill('[name=district]', 'Kadıköy');
    await p.waitForTimeout(2100); // a person's pace: sooner than LEAD_MIN_FILL_MS after load, a lead is held
    await p.click('#send');
    await p.click('#send');
    await p.waitForSelector('form[data-lc-state=sent]');
    assert.equal(p.url(), `${siteUrl}/?gclid=G-FORM&utm_source=google&utm_campaign=forms&fbclid=FBFORM`, 'no navigation');
    await new Promise((r) => setTimeout(r, 300));
    const leads = (await adminGet<Json>(server, '/api/admin/leads?limit=200')).leads.filter((l: Json) => l.visitor_id === visitor);
    assert.equal(leads.length, 1);
    const lead = leads[0];
    assert.deepEqual(
      [lead.source, lead.name, lead.phone, lead.email, lead.gclid, lead.utm_campaign, lead.consent_ads, lead.extra],
      ['form', 'Elif', '+905324445566', 'elif@example.com', 'G-FORM', 'forms', true, 'district: Kadıköy'],
    );
    assert.match(lead.fbc, /^fb\.1\.\d{13}\.FBFORM$/);
    assert.equal(lead.flag, null, 'the empty honeypot and a person\'s fill time: not held');
    const fbq = (await p.evaluate(() => (window as any).fbqCalls)) as unknown[][];
    assert.ok(fbq.length >= 1);
    for (const call of fbq) assert.deepEqual(call, ['track', 'Lead', {}, { eventID: lead.event_id }], 'the pixel gets the id the server sends to Meta');

    // Field errors from the server are shown in the form (a lead is refused only when it leaves
    // no way to reach the person: no email, and a phone too short to dial).
    await p.fill('[name=email]', '');
    await p.fill('[name=phone]', '12');
    await p.click('#send');
    await p.waitForSelector('form[data-lc-state=error]');
    assert.match((await p.textContent('[data-lc-error=phone]')) ?? '', /not a valid phone number/);
    assert.deepEqual(errors, []);
    await p.context().close();
  });

  test("a form's field error is written in the page's language (lang), or in the site's own words", async () => {
    for (const [path, words] of [['/tr', 'telefon numarası veya e-posta adresi gerekli'], ['/pt', 'informe um telefone ou um e-mail'], ['/own-words', 'Numaranızı yazın, sizi arayalım.']] as const) {
      const { page: p, errors } = await visit(path);
      await p.click('#send');
      await p.waitForSelector('form[data-lc-state=error]');
      assert.equal(await p.textContent('[data-lc-error=phone]'), words, path);
      assert.deepEqual(errors, []);
      await p.context().close();
    }
    // Without the tracker (a plain post), the browser's language decides.
    const res = await fetch(`${server.url}/lead`, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'Accept-Language': 'tr-TR,tr;q=0.9,en;q=0.5' }, body: 'name=Ay%C5%9Fe' });
    assert.equal(res.status, 422);
    assert.match(await res.text(), /<title>Lütfen formu kontrol edin<\/title>.*phone: telefon numarası veya e-posta adresi gerekli/s);
  });

  test('with data-consent="required" nothing is stored and no click id sent until consent; denial forgets at once', async () => {
    const { page: p, errors } = await visit('/consent?gclid=G-CONSENT&utm_campaign=consent');
    await new Promise((r) => setTimeout(r, 500));
    assert.deepEqual((await p.context().cookies()).map((c) => c.name), [], 'no cookie before consent');
    const before = (await adminGet<{ events: Json[] }>(server, '/api/admin/events?limit=1000')).events.filter((e) => e.path === '/consent');
    assert.equal(before.length, 1);
    assert.equal(before[0]!.gclid, '', 'no click id before consent');
    assert.ok(!before[0]!.url.includes('G-CONSENT'), 'not even in the page URL');

    await p.evaluate(() => (window as any).lc('consent', { ads: true }));
    const visitor = await visitorOf(p);
    await p.evaluate(() => (window as any).lc('event', 'quote_opened', { plan: 'gold' }));
    const [custom] = (await eventsOf(visitor, 2, 'the custom event after consent')).filter((e) => e.type === 'custom');
    assert.deepEqual([custom!.name, custom!.props.plan, custom!.gclid, custom!.utm_campaign], ['quote_opened', 'gold', 'G-CONSENT', 'consent']);

    // Google Consent Mode v2: a denied update is honoured at once.
    await p.evaluate(() => {
      const w = window as any;
      w.dataLayer.push(['consent', 'update', { ad_storage: 'denied', ad_user_data: 'denied' }]);
    });
    assert.deepEqual((await p.context().cookies()).map((c) => c.name).filter((n) => n.startsWith('lc_')), []);
    assert.deepEqual(errors, []);
    await p.context().close();
  });

  test('when the endpoint is down the page shows no error and navigation works; the form still posts natively', async () => {
    const { page: p, errors } = await visit('/down?gclid=G-DOWN');
    await p.click('#tel');
    await p.click('#wa');
    await p.evaluate(() => (window as any).lc('event', 'nothing_listens'));
    await p.fill('[name=phone]', '+905321234567');
    await Promise.all([p.waitForURL('**/form-fallback'), p.click('#send')]);
    assert.equal(await p.textContent('p'), 'posted');
    await p.goto(siteUrl + '/second');
    assert.equal(await p.title(), 'Second');
    assert.deepEqual(errors, []);
    await p.context().close();
  });

  test('/t.js (every page) and /t-lead.js (pages with forms, calls, WhatsApp) are within their size budgets and served compressed with an ETag', async () => {
    const tracker = buildTracker();
    const lead = buildTracker('lead');
    console.log(`# tracker: ${tracker.code.length} B minified, ${tracker.gzip.length} B gzip, ${tracker.brotli.length} B brotli (budget ${SIZE_BUDGET_GZIP} B gzip); lead part ${lead.gzip.length} B gzip (budget ${LEAD_PART_BUDGET_GZIP} B)`);
    assert.ok(tracker.gzip.length <= SIZE_BUDGET_GZIP, `t.js is ${tracker.gzip.length} B gzipped, over the ${SIZE_BUDGET_GZIP} B budget`);
    assert.ok(lead.gzip.length <= LEAD_PART_BUDGET_GZIP, `t-lead.js is ${lead.gzip.length} B gzipped, over the ${LEAD_PART_BUDGET_GZIP} B budget`);
    const leadPart = await fetch(`${server.url}/t-lead.js`, { headers: { 'Accept-Encoding': 'gzip' } });
    assert.equal(leadPart.status, 200);
    assert.equal(await leadPart.text(), lead.code);
    const br = await fetch(`${server.url}/t.js`, { headers: { 'Accept-Encoding': 'br, gzip' } });
    assert.equal(br.headers.get('content-encoding'), 'br');
    assert.match(br.headers.get('cache-control') ?? '', /max-age=\d+/);
    assert.equal(await br.text(), tracker.code);
    const etag = br.headers.get('etag')!;
    const again = await fetch(`${server.url}/t.js`, { headers: { 'If-None-Match': etag } });
    assert.equal(again.status, 304);
  });
});
