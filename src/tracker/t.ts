// The tracker served as /t.js, the part every page loads: pageviews (SPA too), click ids and UTMs
// kept as timed first and last touches, consent (our own API and Google Consent Mode), custom
// events. Pages with a lead form, a tel: or a WhatsApp link, or a link to a hosted checkout also
// load /t-lead.js (src/tracker/lead.ts), which turns those into leads (and carries the visitor to
// the checkout) through the `lc` object below.
// It runs on the business's pages, so every entry point is wrapped: nothing it does may throw
// into the host page or block it. Minified by esbuild at server start (src/collect/tracker-route.ts);
// the size budget (1.5 KB gzipped) is checked by a test, so this file trades names for bytes.

type Attr = Record<string, any>;
/** The lc_attr cookie: first touch, last touch (each with its time `t`), visitor id, and per ad platform the newest touch with its click id. */
type Stored = { f: Attr; l: Attr; v: string; p?: Array<Attr | undefined> };

/** Wraps f so that its errors are swallowed: the tracker's loss, never the page's. */
type Safe = <A extends unknown[]>(f: (...a: A) => unknown) => (...a: A) => unknown;

// One expression and no top-level names, so nothing leaks into the page's global scope.
((safe: Safe) =>
safe(() => {
  const w = window as any;
  const d = document;
  const now = Date.now;
  const loc = location;
  const on = (target: EventTarget, type: string, f: (e: any) => unknown, capture?: boolean) => target.addEventListener(type, safe(f), capture);
  const script = d.currentScript as HTMLScriptElement;
  const endpoint = script.dataset.endpoint || new URL(script.src).origin;
  const CAMPAIGN = /^(gclid|gbraid|wbraid|fbclid|msclkid|utm_\w+)$/;
  // data-consent="required": nothing stored, no click id sent, until consent is given.
  let consent = script.dataset.consent != 'required';
  let queue: object[] = [];
  let last = '';
  const rnd = () => Math.random().toString(36).slice(2);
  // First-party cookies only: lc_attr (90 days from the last click), lc_s (the session: 30 idle
  // minutes), lc_p (the last pageview's URL, 10 s: a reload within it is not counted again).
  const cookie = (name: string) => decodeURIComponent((d.cookie.match('(^|; )' + name + '=([^;]*)') || [])[2] || '');
  const setCookie = (name: string, value: string, maxAge: number) => consent && (d.cookie = name + '=' + encodeURIComponent(value) + ';path=/;max-age=' + maxAge);

  // This URL's click ids and UTMs are a new touch, with its time; fbc is built as Meta's pixel would.
  const touch: Attr = {};
  new URL(loc.href).searchParams.forEach((v, k) => CAMPAIGN.test(k) && (touch[k] = v) && (touch.landing = loc.href) && (touch.t = now()));
  if (touch.fbclid) touch.fbc = 'fb.1.' + now() + '.' + touch.fbclid;
  /** Click ids per ad platform: Google's, Meta's. */
  const PLATFORMS = [['gclid', 'gbraid', 'wbraid'], ['fbclid', 'fbc']];
  let memory: Stored = { f: {}, l: {}, v: rnd() };
  const remember = () => {
    try {
      memory = JSON.parse(cookie('lc_attr'));
    } catch {
      // no cookie yet: keep the fresh visitor
    }
    if (touch.landing) {
      if (!memory.f.landing) memory.f = touch;
      memory.l = touch;
      // A Meta click after a Google one leaves the Google click as it was, and the other way round
      // (only the ids and the time: the cookie must stay far under the browser's 4 KB).
      memory.p = PLATFORMS.map((ids, i) => (ids.some((k) => touch[k]) ? Object.fromEntries([...ids, 't'].map((k) => [k, touch[k]])) : memory.p?.[i]));
    }
    // A click counts for 90 days from when it happened, not from the visitor's last page.
    setCookie('lc_attr', JSON.stringify(memory), 7776e3 - ((now() - memory.l.t) / 1e3 || 0));
  };
  let sid = '';
  const session = () => {
    sid = cookie('lc_s') || sid || rnd();
    setCookie('lc_s', sid, 1800);
    return sid;
  };
  /** When an fbc (fb.1.<ms>.<fbclid>) was made. */
  const at = (fbc: string) => +(fbc || '').split('.')[2]! || 0;
  // Per platform, the click ids of the newest touch that has one, while under 90 days old (a
  // cookie from before touches were timed: its first or last touch); Meta's _fbc when fresher.
  const attribution = (): Attr => {
    if (!consent) return {};
    const a: Attr = { ...memory.f, ...memory.l, fbp: cookie('_fbp') };
    PLATFORMS.forEach((ids, i) => {
      const t = memory.p?.[i] || [memory.l, memory.f].find((x) => ids.some((k) => x[k]));
      for (const k of ids) a[k] = t && !(t.t < now() - 7776e6) ? t[k] : '';
    });
    const fbc = cookie('_fbc');
    if (at(fbc) > at(a.fbc)) a.fbc = fbc;
    delete a.t;
    return a;
  };
  /** Without consent a URL (the page's, the referrer: the landing URL on the second page) goes out without its click ids. */
  const clean = (url: string) => (consent ? url : url.replace(/\b(gclid|gbraid|wbraid|fbclid|msclkid)=[^&#]*&?/g, ''));

  const flush = () => {
    if (!queue.length) return;
    const body = JSON.stringify(queue);
    const url = endpoint + '/collect';
    queue = [];
    if (!navigator.sendBeacon?.(url, body)) fetch(url, { method: 'POST', body, keepalive: true }).catch(() => 0);
  };
  const send = (type: string, name?: string, props?: object) => {
    // No id: the server gives each event one (the tracker never resends, so there is nothing to dedupe).
    // Every event says whether it was sent with ads consent (given, or implied where the site does
    // not ask): a call or WhatsApp click becomes a lead, and its sale is sent on that basis.
    queue.push({ type, name, props, url: clean(loc.href), referrer: clean(d.referrer), visitorId: memory.v, sessionId: session(), ts: now(), lang: navigator.language, attribution: attribution(), consent });
    setTimeout(safe(flush)); // one request for the events of one moment
  };

  // Leads: /t-lead.js, once a page has something to make them from.
  let leadPart = 0;
  const loadLeadPart = () =>
    leadPart ||
    !d.querySelector('[data-lc-lead],[href^="tel:"],[href*="wa.me"],[href*=whatsapp],[href*="pay."],[href*="buy."]') ||
    ((leadPart = 1), d.head.append(Object.assign(d.createElement('script'), { src: script.src.replace('t.js', 't-lead.js') })));

  // Pageviews; a reload of the same URL within 10 s is not counted again. Single-page apps and
  // back/forward are seen by watching the URL (a 300 ms check costs less than patching History).
  const pageview = () => {
    const url = loc.href;
    if (url == last) return;
    last = url;
    if (cookie('lc_p') != url) send('pageview');
    setCookie('lc_p', url, 10);
    loadLeadPart();
  };
  setInterval(safe(pageview), 300);
  on(w, 'pagehide', flush);
  // A form a single-page app shows without changing the URL (a pop-up): loaded as it is focused.
  on(d, 'focusin', loadLeadPart);

  // Consent: lc('consent', {ads}) or Google Consent Mode v2, whose `default` and `update` calls
  // are merged in order per purpose. A default is where a page starts, not the visitor's answer:
  // only a denial (ours, or an update) forgets what was stored.
  const setConsent = (ads: boolean, answer?: boolean) => {
    if (!ads && answer) for (const name of ['lc_attr', 'lc_s', 'lc_p']) setCookie(name, '', 0);
    consent = ads;
    remember();
  };
  const mode: Attr = {};
  const gtag = safe((x: any) => x[0] == 'consent' && setConsent(Object.assign(mode, x[2]).ad_storage + mode.ad_user_data == 'grantedgranted', x[1] == 'update'));
  // The lead part uses these: send, attribution, consent, Consent Mode's merged state, visitor,
  // session, clean, endpoint, load time.
  const api = Object.assign(
    safe((cmd: string, a: any, b?: object) => (cmd == 'event' ? send('custom', a, b) : cmd == 'consent' && setConsent(!!a.ads, true))),
    { s: send, a: attribution, c: () => consent, m: mode, v: () => memory.v, i: session, u: clean, e: endpoint, t: now() },
  );
  const dataLayer = (w.dataLayer ||= []);
  dataLayer.forEach(gtag);
  const push = dataLayer.push;
  dataLayer.push = (...a: unknown[]) => (a.forEach(gtag), push.apply(dataLayer, a));
  w.lc = api;
  remember();

  // Dynamic text: echo the searched keyword (text only, never HTML). The tag is `defer`, so the
  // page is parsed by now.
  d.querySelectorAll<HTMLElement>('[data-lc-text]').forEach((el) => memory.l[el.dataset.lcText!] && el.replaceChildren(memory.l[el.dataset.lcText!]!));
  pageview();
})())(
  (f) =>
    (...a) => {
      try {
        return f(...a);
      } catch {
        // swallowed
      }
    },
);
