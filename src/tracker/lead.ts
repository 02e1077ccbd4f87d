// /t-lead.js: the part of the tracker that makes leads, loaded by /t.js (src/tracker/t.ts) on
// pages with a lead form, a tel: link, a WhatsApp link or a link to a hosted checkout. It works through the `lc` object the
// core leaves on window: send, attribution, consent, visitor, session, clean, endpoint, load time.
// Same rules as the core: every entry point wrapped, nothing thrown into the page.

type Safe = <A extends unknown[]>(f: (...a: A) => unknown) => (...a: A) => unknown;

((safe: Safe) =>
safe(() => {
  const w = window as any;
  const d = document;
  const lc = w.lc;
  if (!lc?.s || lc.l) return; // no core, or loaded already
  lc.l = 1;
  const on = (type: string, f: (e: any) => unknown) => d.addEventListener(type, safe(f), true);

  // Hosted checkouts: the link (or form) takes this visitor's id to the platform, which passes it
  // back in its webhook (Hotmart and Kiwify: sck; Stripe Payment Links: client_reference_id),
  // with the UTMs; only with consent where the site asks. Done at the click, so links a page adds
  // later are carried too. Returns the link, or nothing when it is not a checkout.
  const checkout = (href: string) => {
    const u = new URL(href, location.href);
    const host = u.hostname;
    if (!lc.c() || !/^(pay|go)\.hotmart\.com$|^pay\.kiwify\.com(\.br)?$|^buy\.stripe\.com$/.test(host)) return;
    const a = lc.a();
    for (const k in a) /^utm_/.test(k) && a[k] && u.searchParams.set(k, a[k]);
    u.searchParams.set(host[0] == 'b' ? 'client_reference_id' : 'sck', lc.v());
    lc.s('checkout', host, { href: u.href });
    return u.href;
  };

  // Calls and WhatsApp: the WhatsApp text gets a reference code the owner can match to this click.
  on('click', (e) => {
    const a = e.target.closest('a');
    if (a?.protocol == 'tel:') lc.s('call', '', { href: a.href });
    if (a?.href) a.href = checkout(a.href) || a.href;
    if (!/^(wa\.me|api\.whatsapp\.com)$/.test(a?.hostname)) return;
    const ref = lc.v().slice(0, 5);
    const u = new URL((a.lc ||= a.href)); // from the original link: a second click adds no second code
    u.searchParams.set('text', (u.searchParams.get('text') || '') + ' (ref ' + ref + ')');
    lc.s('whatsapp', '', { href: (a.href = u.href), ref });
  });

  // Lead forms: posted as JSON with the attribution; without the tracker they post natively.
  // Spam check: the time from page load to sending (robots are quick); the honeypot field is
  // markup in the form itself (name="lc_hp", see the README).
  on('submit', (e) => {
    const form = e.target;
    // A form that posts to a checkout: its fields carry the same (a GET form's action loses its query).
    const to = checkout(form.action);
    if (to) new URL(to).searchParams.forEach((value, name) => form.append(Object.assign(d.createElement('input'), { type: 'hidden', name, value })));
    if (!('lcLead' in form.dataset)) return;
    e.preventDefault();
    // One id per form on this page: a double click, a retry or a second send is the same lead.
    form.lc ||= crypto.randomUUID?.();
    // The form's own fields as they are (the server keeps unknown ones as extra text).
    // Personalization is a purpose of its own: known only from the page's Consent Mode.
    const personalization = lc.m.ad_personalization;
    const lead = { ...Object.fromEntries(new FormData(form)), lang: d.documentElement.lang, lcFill: Date.now() - lc.t, eventId: form.lc, visitorId: lc.v(), sessionId: lc.i(), pageUrl: lc.u(location.href), attribution: lc.a(), consent: { ads: lc.c(), personalization: personalization && personalization == 'granted' } };
    // The page styles the outcome: form[data-lc-state=sent|error], [data-lc-error=<field>] get the message.
    // text/plain JSON: a simple request, no CORS preflight.
    fetch(lc.e + '/lead', { method: 'POST', body: JSON.stringify(lead) })
      .then((r) =>
        r.json().then((body) => {
          form.dataset.lcState = r.ok ? 'sent' : 'error';
          // The Meta pixel, if the site runs it, hears of the lead once the server has it, with
          // the id the server sends to Meta: Meta counts it once.
          if (r.ok) w.fbq?.('track', 'Lead', {}, { eventID: form.lc });
          // The site's own words win (data-lc-msg-phone="…" on the form), else the server's in the page's language.
          for (const k in body.errors) form.querySelector('[data-lc-error=' + k + ']')?.replaceChildren(form.dataset['lcMsg' + k[0]!.toUpperCase() + k.slice(1)] || body.errors[k]);
        }),
      )
      .catch(() => {
        // Our server unreachable: the plain post still works, and carries the same id (one lead).
        form.append(Object.assign(d.createElement('input'), { type: 'hidden', name: 'eventId', value: form.lc }));
        form.submit();
      });
  });
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
