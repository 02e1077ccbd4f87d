// The tracker served as /t.js: pageviews (SPA too), click ids and UTMs kept first- and last-touch
// for 90 days, call / WhatsApp clicks, lead forms to POST /lead, custom events, consent.
// It runs on the business's pages, so every entry point is wrapped: nothing it does may throw
// into the host page or block it. Minified by esbuild at server start (src/tracker/serve.ts);
// the size budget (1.5 KB gzipped) is checked by a test, so this file trades names for bytes.

type Attr = Record<string, string>;
/** The lc_attr cookie: first touch, last touch, visitor id. */
type Stored = { f: Attr; l: Attr; v: string };

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
  // First-party cookies only: lc_attr (90 days), lc_s (the session: 30 idle minutes), lc_p (the
  // last pageview's URL, 10 s: a reload within it is not counted again).
  const cookie = (name: string) => decodeURIComponent((d.cookie.match('(^|; )' + name + '=([^;]*)') || [])[2] || '');
  const setCookie = (name: string, value: string, maxAge: number) => consent && (d.cookie = name + '=' + encodeURIComponent(value) + ';path=/;max-age=' + maxAge);

  // This URL's click ids and UTMs are a new touch; fbc is built as Meta's pixel would.
  const touch: Attr = {};
  new URL(loc.href).searchParams.forEach((v, k) => CAMPAIGN.test(k) && (touch[k] = v) && (touch.landing = loc.href));
  if (touch.fbclid && !cookie('_fbc')) touch.fbc = 'fb.1.' + now() + '.' + touch.fbclid;
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
    }
    setCookie('lc_attr', JSON.stringify(memory), 7776e3); // 90 days
  };
  let sid = '';
  const session = () => {
    sid = cookie('lc_s') || sid || rnd();
    setCookie('lc_s', sid, 1800);
    return sid;
  };
  // Meta's own cookies when it set them; else the fbc built from the landing URL's fbclid.
  const attribution = (): Attr => (consent ? { fbc: cookie('_fbc')!, fbp: cookie('_fbp')!, ...memory.f, ...memory.l } : {});
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

  // Pageviews; a reload of the same URL within 10 s is not counted again. Single-page apps and
  // back/forward are seen by watching the URL (a 300 ms check costs less than patching History).
  const pageview = () => {
    const url = loc.href;
    if (url == last) return;
    last = url;
    if (cookie('lc_p') != url) send('pageview');
    setCookie('lc_p', url, 10);
  };
  setInterval(safe(pageview), 300);
  on(w, 'pagehide', flush);

  // Calls and WhatsApp: the WhatsApp text gets a reference code the owner can match to this click.
  on(d, 'click', (e) => {
    const a = e.target.closest('a');
    if (a?.protocol == 'tel:') send('call', '', { href: a.href });
    if (!/^(wa\.me|api\.whatsapp\.com)$/.test(a?.hostname)) return;
    const ref = memory.v.slice(0, 5);
    const u = new URL((a.lc ||= a.href)); // from the original link: a second click adds no second code
    u.searchParams.set('text', (u.searchParams.get('text') || '') + ' (ref ' + ref + ')');
    send('whatsapp', '', { href: (a.href = u.href), ref });
  }, true);

  // Spam check: the time from page load to sending a lead form (robots are quick). The other
  // one, a field people never see, is markup in the form itself (name="lc_hp", see the README).
  const t0 = now();

  // Lead forms: posted as JSON with the attribution; without this script they post natively.
  on(d, 'submit', (e) => {
    const form = e.target;
    if (!('lcLead' in form.dataset)) return;
    e.preventDefault();
    // One id per form on this page: a double click, a retry or a second send is the same lead.
    // The Meta pixel, if the site runs it, gets the same id: Meta counts the lead once.
    form.lc ||= crypto.randomUUID?.();
    w.fbq?.('track', 'Lead', {}, { eventID: form.lc });
    // The form's own fields as they are (the server keeps unknown ones as extra text).
    const lead = { ...Object.fromEntries(new FormData(form)), lcFill: now() - t0, eventId: form.lc, visitorId: memory.v, sessionId: session(), pageUrl: clean(loc.href), attribution: attribution(), consent: { ads: consent } };
    // The page styles the outcome: form[data-lc-state=sent|error], [data-lc-error=<field>] get the message.
    // text/plain JSON: a simple request, no CORS preflight.
    fetch(endpoint + '/lead', { method: 'POST', body: JSON.stringify(lead) })
      .then((r) =>
        r.json().then((body) => {
          form.dataset.lcState = r.ok ? 'sent' : 'error';
          for (const k in body.errors) form.querySelector('[data-lc-error=' + k + ']')?.replaceChildren(body.errors[k]);
        }),
      )
      .catch(() => form.submit()); // our server unreachable: the plain post still works
  }, true);

  // Consent: lc('consent', {ads}); Google Consent Mode v2 updates count too. Denied = forget now.
  const setConsent = (ads: boolean) => {
    if (!ads) for (const name of ['lc_attr', 'lc_s', 'lc_p']) setCookie(name, '', 0);
    consent = ads;
    remember();
  };
  const api = safe((cmd: string, a: any, b?: object) => (cmd == 'event' ? send('custom', a, b) : cmd == 'consent' && setConsent(!!a.ads)));
  const gtag = safe((x: any) => x[0] == 'consent' && setConsent(x[2].ad_storage + x[2].ad_user_data == 'grantedgranted'));
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
