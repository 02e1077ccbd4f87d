// The owner's app: a hash-routed single page over the admin API. DOM is built with h() from
// data, never from HTML strings, so nothing a visitor typed can become markup.
import { chosenLanguage, language, LANGUAGES, texts as t } from './texts.js';

const config = JSON.parse(document.getElementById('config').textContent);
// Numbers and dates as the business writes them, unless this device chose another language.
const locale = chosenLanguage ? language : config.locale;
document.documentElement.lang = language;
document.title = t.appName;
const main = document.querySelector('main');
const nav = document.querySelector('nav');

// ---------- helpers ----------
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) if (c !== undefined && c !== null && c !== false) el.append(c);
  return el;
}
const money = (value, currency = config.currency) => new Intl.NumberFormat(locale, { style: 'currency', currency }).format(value);
/** A visited page as a short path; a beacon without a URL (or with one we cannot read) still shows. */
const pagePath = (e) => {
  try {
    return new URL(e.url).pathname;
  } catch {
    return e.url || '—';
  }
};
// Every time in the business's time zone (TIMEZONE), wherever the phone is.
const timeZone = config.timeZone || 'UTC';
const dateTime = (ms) => new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeStyle: 'short', timeZone }).format(ms);
/** ClickHouse's times are UTC without a zone ("2026-12-02 09:05:00.000"): read them as UTC, not as the phone's time. */
const chTime = (text) => Date.parse(/(Z|[+-]\d\d:?\d\d)$/.test(text) ? text : `${text.replace(' ', 'T')}Z`);
const zoneParts = new Intl.DateTimeFormat('en-CA', { timeZone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
/** How far the business's clock is ahead of UTC at a moment (ms). */
const zoneOffset = (ms) => {
  const p = Object.fromEntries(zoneParts.formatToParts(ms).map((x) => [x.type, x.value]));
  return Date.UTC(+p.year, +p.month - 1, +p.day, +p.hour, +p.minute, +p.second) - (ms - (ms % 1000));
};
/** The business's calendar day of a moment (YYYY-MM-DD), and the moment a day (YYYY-MM-DD) begins there. */
const zoneDay = (ms) => new Intl.DateTimeFormat('en-CA', { timeZone }).format(ms);
const zoneMidnight = (day) => {
  const utc = Date.parse(`${day}T00:00:00Z`);
  const first = utc - zoneOffset(utc);
  const second = utc - zoneOffset(first);
  // Where the clocks change at midnight, one of the two falls on the day before: the earliest in the day.
  return [Math.min(first, second), Math.max(first, second)].find((t) => zoneDay(t) === day) ?? second;
};
const times = (x) => `${new Intl.NumberFormat(locale, { minimumFractionDigits: 2, maximumFractionDigits: 2 }).format(x)}×`;
const separators = Object.fromEntries(new Intl.NumberFormat(locale).formatToParts(12345.6).filter((p) => p.type === 'group' || p.type === 'decimal').map((p) => [p.type, p.value]));
/** An amount as the owner types it in his locale ("1.500,50" in tr-TR, "1,500.50" in en): NaN when it is not one. */
const parseAmount = (text) => {
  const plain = text.replace(/[\s\u00a0\u202f]/g, '').split(separators.group ?? ',').join('').replace(separators.decimal ?? '.', '.');
  return /^\d+(\.\d{1,2})?$/.test(plain) ? Number(plain) : NaN;
};
const amountText = (n) => new Intl.NumberFormat(locale, { minimumFractionDigits: 0, maximumFractionDigits: 2 }).format(n);
/** A number as people read it: +90 532 111 22 33, +55 11 99999-0000; others as stored. */
const formatPhone = (e164) => {
  const tr = /^\+90(\d{3})(\d{3})(\d{2})(\d{2})$/.exec(e164);
  if (tr) return `+90 ${tr[1]} ${tr[2]} ${tr[3]} ${tr[4]}`;
  const br = /^\+55(\d{2})(\d{4,5})(\d{4})$/.exec(e164);
  if (br) return `+55 ${br[1]} ${br[2]}-${br[3]}`;
  return e164;
};
const percent = (x) => (x === null ? '—' : new Intl.NumberFormat(locale, { style: 'percent', maximumFractionDigits: 1 }).format(x));
// "5 min ago", "3 saat önce", "há 2 dias": Intl's words for the language on screen.
const relative = new Intl.RelativeTimeFormat(locale, { numeric: 'auto', style: 'short' });
const ago = (ms) => {
  const minutes = Math.round((ms - Date.now()) / 60000);
  if (minutes > -60) return relative.format(minutes, 'minute');
  if (minutes > -1440) return relative.format(Math.round(minutes / 60), 'hour');
  return relative.format(Math.round(minutes / 1440), 'day');
};
const SOURCE_ICON = { form: '📝', call: '📞', whatsapp: '💬', google_lead_form: '🅖', checkout: '🛒' };
const CHECKOUTS = { hotmart: 'Hotmart', kiwify: 'Kiwify', stripe: 'Stripe' };

let offline = false;
/** Bumped by every navigation: a screen whose data arrives after the owner moved on does not render. */
let generation = 0;
/** `since`: when the data on screen was fetched (the kept answer's Date), so the owner knows how old it is. */
function setOffline(value, since) {
  offline = value;
  document.body.classList.toggle('offline', value);
  const banner = document.querySelector('.offline-banner');
  if (banner) banner.textContent = value && since ? t.offlineSince(dateTime(since)) : t.offline;
}

class ApiError extends Error {
  constructor(status, problem) {
    super(problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

async function api(path, { method = 'GET', body } = {}) {
  let res;
  try {
    res = await fetch(path, {
      method,
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', 'X-LC-CSRF': '1' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    setOffline(true);
    throw new ApiError(0, { title: t.networkError });
  }
  setOffline(res.headers.get('x-lc-offline') === '1', Date.parse(res.headers.get('date') ?? '') || undefined);
  const data = res.status === 204 ? null : await res.json().catch(() => ({}));
  // Logged out (session expired, or logged out elsewhere): back to the login screen.
  if (res.status === 401 && !path.startsWith('/api/admin/session')) {
    location.hash = '#/login';
    throw new ApiError(401, data ?? {});
  }
  // A proxy's or the server's failure says so in the owner's words, not "HTTP 502".
  if (!res.ok) throw new ApiError(res.status, res.status >= 500 ? { ...data, title: t.serverError(res.status), detail: undefined } : data ?? {});
  return data;
}

/** The navigation (generation) the screen on display belongs to. */
let shownFor = 0;
function show(...children) {
  shownFor = generation;
  main.replaceChildren(...children);
  main.focus();
}

function field(label, input) {
  return h('label', { class: 'field' }, h('span', {}, label), input);
}

// ---------- auth ----------
function passwordScreen(title, hint, submit) {
  const input = h('input', { type: 'password', name: 'password', autocomplete: title === t.loginTitle ? 'current-password' : 'new-password', required: true, minlength: 12 });
  const error = h('p', { class: 'error', role: 'alert' });
  const form = h(
    'form',
    {
      class: 'card auth',
      onsubmit: async (e) => {
        e.preventDefault();
        error.textContent = '';
        try {
          await submit(input.value);
          location.hash = '#/';
        } catch (err) {
          error.textContent = err.status === 429 ? t.tooMany(err.problem.detail?.match(/\d+/)?.[0] ?? '') : err.status === 401 ? t.wrongPassword : err.problem?.detail || err.problem?.title || err.message;
        }
      },
    },
    h('h1', {}, title),
    hint && h('p', {}, hint),
    field(t.password, input),
    error,
    h('button', { type: 'submit', class: 'primary' }, title === t.loginTitle ? t.logIn : t.save),
  );
  nav.hidden = true;
  show(form);
  input.focus();
}

// ---------- leads list ----------
/** The list's filters, pages and scroll position outlive a visit to a lead. */
const listState = { status: '', q: '', pages: 1, scroll: 0, returning: false };

// A lead stays unread (highlighted) until it is opened on this device; leads from before the app's
// first use on it count as read.
const unreadSince = Number(localStorage.getItem('lc-unread-since') || localStorage.getItem('lc-last-seen') || Date.now());
localStorage.setItem('lc-unread-since', String(unreadSince));
const readLeads = new Set(JSON.parse(localStorage.getItem('lc-read') || '[]'));
function markRead(id) {
  readLeads.add(id);
  localStorage.setItem('lc-read', JSON.stringify([...readLeads].slice(-1000)));
}

async function leadsScreen() {
  nav.hidden = false;
  const returning = listState.returning;
  listState.returning = false;
  const list = h('ul', { class: 'leads', 'aria-live': 'polite' });
  const sentinel = h('div', { class: 'sentinel' });
  const search = h('input', { type: 'search', placeholder: t.search, 'aria-label': t.search, value: listState.q });
  const chips = h(
    'div',
    { class: 'chips', role: 'group' },
    ['', 'NEW', 'CONTACTED', 'QUOTED', 'SOLD', 'LOST'].map((s) =>
      h('button', { class: 'chip', 'aria-pressed': String(listState.status === s), onclick: () => { listState.status = s; leadsScreen(); } }, s ? t.statuses[s] : t.all),
    ),
  );
  const page = { cursor: null, loading: false, loaded: 0 };
  const load = async (reset) => {
    if ((page.loading && !reset) || (!reset && page.cursor === undefined)) return;
    page.loading = true;
    try {
      const params = new URLSearchParams({ limit: '30' });
      if (listState.status) params.set('status', listState.status);
      if (listState.q) params.set('q', listState.q);
      if (!reset && page.cursor) params.set('cursor', page.cursor);
      const result = await api(`/api/admin/leads?${params}`);
      if (reset) {
        list.replaceChildren();
        page.loaded = 0;
      }
      page.loaded++;
      for (const lead of result.leads) {
        list.append(
          h(
            'li',
            { class: lead.created_at > unreadSince && !readLeads.has(lead.id) ? 'lead unread' : 'lead' },
            h(
              'a',
              { class: 'row', href: `#/lead/${lead.id}`, onclick: () => Object.assign(listState, { pages: page.loaded, scroll: window.scrollY, returning: true }) },
              h('span', { class: 'icon', 'aria-label': t.sources[lead.source] }, SOURCE_ICON[lead.source]),
              h('span', { class: 'who' }, lead.name || lead.phone || (lead.ref_code ? `#${lead.ref_code}` : t.sources[lead.source])),
              h('span', { class: `status s-${lead.status}` }, t.statuses[lead.status]),
              lead.flag && h('span', { class: 'status s-held' }, t.held[lead.flag] ?? lead.flag),
              h('span', { class: 'meta' }, [lead.phone && formatPhone(lead.phone), lead.ad_campaign ?? lead.utm_campaign, lead.city, ago(lead.created_at)].filter(Boolean).join(' · ')),
              (lead.service || lead.message) && h('span', { class: 'preview' }, [lead.service, lead.message?.slice(0, 90)].filter(Boolean).join(' — ')),
            ),
            lead.phone && h('a', { class: 'row-call', href: `tel:${lead.phone}`, 'aria-label': `${t.call} ${lead.phone}` }, '📞'),
          ),
        );
      }
      if (reset && result.leads.length === 0) list.append(h('li', { class: 'empty' }, listState.q || listState.status ? t.noMatch : t.noLeads));
      page.cursor = result.nextCursor ?? undefined;
    } finally {
      page.loading = false;
    }
  };
  search.addEventListener('input', () => {
    clearTimeout(search.timer);
    search.timer = setTimeout(() => { listState.q = search.value.trim(); load(true); }, 250);
  });
  const refresh = h('button', { class: 'refresh', onclick: () => load(true) }, t.refresh);
  const banner = h('div', { class: 'connections-banner', role: 'alert', hidden: true });
  show(h('section', {}, banner, h('div', { class: 'toolbar' }, search, refresh), chips, list, sentinel));
  connectionsBanner(banner);
  pullToRefresh(main, () => load(true));
  await load(true);
  // Back from a lead: the same pages, the same place in the list.
  if (returning) {
    while (page.loaded < listState.pages && page.cursor !== undefined) await load(false);
    window.scrollTo(0, listState.scroll);
  }
  new IntersectionObserver((entries) => entries[0].isIntersecting && load(false)).observe(sentinel);
}

function pullToRefresh(el, refresh) {
  let startY = null;
  el.ontouchstart = (e) => { startY = window.scrollY === 0 ? e.touches[0].clientY : null; };
  el.ontouchend = (e) => {
    if (startY !== null && e.changedTouches[0].clientY - startY > 80) refresh();
    startY = null;
  };
}

// ---------- lead detail ----------
async function leadScreen(id, message = '') {
  nav.hidden = false;
  const mine = generation;
  const { lead, history, deliveries, journey } = await api(`/api/admin/leads/${encodeURIComponent(id)}`);
  if (mine !== generation) return;
  markRead(lead.id);
  const digits = (lead.phone || '').replace(/\D/g, '');
  const hasClickId = Boolean(lead.gclid || lead.gbraid || lead.wbraid);
  // What the owner just did, said where he looks (the screen redraws after a change).
  const notice = h('p', { class: 'notice', role: 'status' }, message);
  const patch = async (change) => {
    try {
      await api(`/api/admin/leads/${lead.id}`, { method: 'PATCH', body: change });
      await leadScreen(id, t.saved);
    } catch (err) {
      notice.textContent = Object.values(err.problem?.errors || {}).join(' ') || err.message;
      notice.classList.add('error');
    }
  };
  // Status in one tap; SOLD comes from the sale form below (it carries the value).
  const statusButtons = h('div', { class: 'status-buttons', role: 'group', 'aria-label': t.status },
    ['NEW', 'CONTACTED', 'QUOTED', 'LOST'].map((s) => h('button', { class: 'chip', 'aria-pressed': String(lead.status === s), onclick: async () => {
      if (lead.status === s) return;
      if (lead.status === 'SOLD' && !confirm(t.confirmUnsell)) return;
      await patch({ status: s });
    } }, t.statuses[s])));
  const phone = h('input', { type: 'tel', value: lead.phone || '', autocomplete: 'off' });
  const note = h('textarea', { rows: 3 }, lead.note || '');
  const save = h('button', {
    class: 'primary',
    onclick: async () => {
      const change = {};
      if (phone.value.trim() && phone.value.trim() !== lead.phone) change.phone = phone.value.trim();
      if (note.value !== (lead.note || '')) change.note = note.value;
      if (Object.keys(change).length > 0) await patch(change);
    },
  }, t.save);

  // Quote to sale in two taps: "Send price" writes the price to the person on WhatsApp and marks
  // the lead quoted with it; the sale below then starts from that price.
  const quote = h('input', { type: 'text', inputmode: 'decimal', autocomplete: 'off', name: 'quote', placeholder: amountText(1500), value: lead.quote_value ? amountText(lead.quote_value) : undefined });
  const sendPrice = digits && lead.status !== 'SOLD' && h('section', { class: 'card quote' }, field(t.quoteLabel(config.currency), quote),
    h('button', { class: 'button wa send-price', onclick: async () => {
      const amount = parseAmount(quote.value);
      if (!(amount > 0)) return quote.focus();
      window.open(`https://wa.me/${digits}?text=${encodeURIComponent(t.quoteMessage(lead.name, lead.service, money(amount)))}`, '_blank', 'noopener');
      await patch({ quote: amount, ...(lead.status === 'NEW' || lead.status === 'CONTACTED' ? { status: 'QUOTED' } : {}) });
    } }, '💬 ', t.sendPrice));
  // Typed as the owner writes money ("1.500" is fifteen hundred in Turkish), shown back formatted.
  const value = h('input', { type: 'text', inputmode: 'decimal', autocomplete: 'off', name: 'value', required: true, placeholder: amountText(1500), value: lead.quote_value ? amountText(lead.quote_value) : undefined });
  value.addEventListener('blur', () => {
    const n = parseAmount(value.value);
    if (n > 0) value.value = amountText(n);
  });
  // From the lead's day to today, both in this phone's time zone.
  const date = h('input', { type: 'date', name: 'date', min: zoneDay(lead.created_at), max: zoneDay(Date.now()) });
  // A sale dated past a platform's window is recorded but not credited there: said before it is saved.
  const windowWarning = h('p', { class: 'small bad', role: 'status' });
  const checkWindow = () => {
    const at = date.value ? zoneMidnight(date.value) + 12 * 3600000 : Date.now();
    const late = [];
    if (hasClickId && at - lead.created_at > 90 * 86400000) late.push(t.googleWindow);
    if (Date.now() - at > 7 * 86400000) late.push(t.metaWindow);
    windowWarning.textContent = late.join(' ');
  };
  date.addEventListener('change', checkWindow);
  checkWindow();
  const sold = h('form', {
    class: 'card sale',
    onsubmit: async (e) => {
      e.preventDefault();
      const amount = parseAmount(value.value);
      if (!(amount > 0) || !confirm(t.confirmSale(money(amount)))) return;
      try {
        await api(`/api/admin/leads/${lead.id}/sale`, { method: 'POST', body: { value: amount, ...(date.value ? { at: new Date(Math.min(Date.now(), zoneMidnight(date.value) + 12 * 3600000)).toISOString() } : {}) } });
        await leadScreen(id);
        main.querySelector('.notice').textContent = hasClickId ? t.saleQueued : `${t.saleQueued} ${t.noClickId}`;
      } catch (err) {
        notice.textContent = Object.values(err.problem?.errors || {}).join(' ') || err.message;
      }
    },
  }, h('h2', {}, t.markSold), field(t.saleValue(config.currency), value), field(t.saleDate, date), windowWarning, h('button', { type: 'submit', class: 'primary sold' }, t.markSold));

  const row = (label, value) => value ? h('tr', {}, h('th', {}, label), h('td', {}, value)) : null;
  // How they came, in a few words: "Google · Acil Tesisatçı · kombi tamiri".
  const platform = lead.gclid || lead.gbraid || lead.wbraid ? 'Google' : lead.fbc || lead.fbclid ? 'Meta' : lead.utm_source || '';
  const how = [t.sources[lead.source], platform, lead.ad_campaign ?? lead.utm_campaign, lead.ad_keyword ?? lead.utm_term].filter(Boolean).join(' · ');
  show(
    h('article', { class: 'detail' },
      // The lead first: who, how to reach them, what they want, where they came from.
      h('section', { class: 'card head' },
        h('h1', {}, lead.name || (lead.phone && formatPhone(lead.phone)) || t.sources[lead.source], ' ', h('span', { class: `status s-${lead.status}` }, t.statuses[lead.status]), lead.flag ? h('span', { class: 'status s-held' }, t.held[lead.flag] ?? lead.flag) : ''),
        lead.phone && h('p', { class: 'phone' }, formatPhone(lead.phone)),
        lead.email && h('p', { class: 'email' }, h('a', { href: `mailto:${lead.email}` }, lead.email)),
        lead.service && h('p', { class: 'service' }, lead.service),
        lead.message && h('p', { class: 'message', 'aria-label': t.message }, lead.message),
        h('p', { class: 'small how' }, [how, lead.city, dateTime(lead.created_at)].filter(Boolean).join(' · ')),
        digits && h('div', { class: 'actions' },
          h('a', { class: 'button call', href: `tel:${lead.phone}` }, '📞 ', t.call),
          h('a', { class: 'button wa', href: `https://wa.me/${digits}` }, '💬 ', t.whatsapp))),
      lead.status === 'SOLD' && h('p', { class: 'sold-value' }, money(lead.sale_value, lead.sale_currency), ' · ', dateTime(lead.sold_at)),
      /Phone as entered \(not recognised/.test(lead.extra ?? '') && h('p', { class: 'status s-held' }, t.phoneUnchecked),
      notice,
      statusButtons,
      sendPrice,
      lead.extra && h('pre', { class: 'extra' }, lead.extra),
      // The ad's details, folded: the owner opens them when he wants them.
      h('details', { class: 'card' }, h('summary', {}, t.attribution), h('table', {},
        // The campaign and keyword Google resolved the click to (click_view) come first; the URL's tags else.
        row(t.campaign, lead.ad_campaign ?? lead.utm_campaign),
        row(t.adGroup, lead.ad_group),
        row(t.keyword, lead.ad_keyword ?? lead.utm_term),
        row(t.clickId, hasClickId ? t.clickIdYes : t.clickIdNo),
        row(t.landing, lead.landing_page || lead.page_url),
        row(t.city, [lead.city, lead.country].filter(Boolean).join(', ')),
        row(t.device, lead.user_agent && (/(iPhone|Android|iPad|Windows|Macintosh)/.exec(lead.user_agent)?.[0] ?? '')),
        lead.ref_code && row('WhatsApp', `#${lead.ref_code}`))),
      h('section', { class: 'card edit' }, !lead.phone && (lead.source === 'call' || lead.source === 'whatsapp') && h('p', { class: 'invite' }, t.addCallerNumber), field(t.phone, phone), field(t.note, note), save),
      lead.status !== 'SOLD' && sold,
      journey.length > 0 && h('section', {}, h('h2', {}, t.journey), h('ol', { class: 'journey' }, journey.map((e) => h('li', {}, h('time', {}, dateTime(chTime(e.event_time))), ' ', e.type === 'pageview' ? pagePath(e) : `${e.type} ${e.name || ''}`)))),
      h('section', {}, h('h2', {}, t.deliveries), deliveries.length === 0 ? h('p', { class: 'small' }, t.noDeliveries) : h('ul', { class: 'deliveries' }, deliveries.map(receipt))),
      h('section', {}, h('h2', {}, t.history), h('ul', { class: 'history' }, history.map((x) => h('li', {}, `${dateTime(x.at)} · ${historyText(x)}`)))),
    ),
  );
}

// ---------- dashboard ----------
async function dashboardScreen(range = '7', custom = {}) {
  nav.hidden = false;
  const now = Date.now();
  const from = range === 'custom' ? zoneMidnight(custom.from) : range === 'today' ? zoneMidnight(zoneDay(now)) : now - Number(range) * 86400000;
  const to = range === 'custom' ? zoneMidnight(new Date(Date.parse(`${custom.to}T00:00:00Z`) + 86400000).toISOString().slice(0, 10)) : now;
  const mine = generation;
  const stats = await api(`/api/admin/stats?from=${from}&to=${to}`);
  if (mine !== generation) return;
  const rangeButton = (key, label) => h('button', { class: 'chip', 'aria-pressed': String(range === key), onclick: () => dashboardScreen(key) }, label);
  const day = zoneDay;
  const fromInput = h('input', { type: 'date', value: custom.from ?? day(from), 'aria-label': t.custom });
  const toInput = h('input', { type: 'date', value: custom.to ?? day(now), 'aria-label': t.custom });
  const customRange = h('form', { class: 'range', onsubmit: (e) => { e.preventDefault(); dashboardScreen('custom', { from: fromInput.value, to: toInput.value }); } }, fromInput, toInput, h('button', { type: 'submit', 'aria-pressed': String(range === 'custom') }, t.custom));
  // A figure and how it moved against the period before, as long as this one.
  const change = (now, before) => {
    if (now === undefined || before === undefined || before === 0) return null;
    const pct = Math.round(((now - before) / before) * 100);
    return h('small', { class: pct >= 0 ? 'up' : 'down', title: t.vsPrevious }, `${pct >= 0 ? '▲' : '▼'} ${Math.abs(pct)}%`);
  };
  const card = (label, value, key) => h('div', { class: 'metric' }, h('span', {}, label), h('strong', {}, value), key && change(stats.totals[key], stats.previous?.[key]));
  const orDash = (v, f) => (v === null || v === undefined ? '—' : f(v));
  const withSpend = stats.totals.spend > 0 || stats.byCampaign.some((r) => r.spend > 0);
  // Wide tables scroll inside their card: the page itself never gets wider than the phone.
  const table = (title, rows, keyName, spendColumns = false) => h('section', { class: 'card' }, h('h2', {}, title), h('div', { class: 'scroll' }, h('table', { class: 'numbers' },
    h('thead', {}, h('tr', {}, h('th', {}, ''), h('th', {}, t.visits), h('th', {}, t.leads), h('th', {}, t.sales), h('th', {}, t.revenue), spendColumns && [h('th', {}, t.spend), h('th', {}, t.costPerLead), h('th', {}, t.costPerSale), h('th', {}, t.roas)])),
    h('tbody', {}, rows.map((r) => h('tr', {}, h('th', {}, (keyName === 'source' ? t.sources[r.source] : r[keyName]) || t.none), h('td', {}, r.visits ?? '—'), h('td', {}, r.leads), h('td', {}, r.sales), h('td', {}, money(r.revenue)),
      spendColumns && [h('td', {}, r.spend ? money(r.spend) : '—'), h('td', {}, orDash(r.costPerLead, money)), h('td', {}, orDash(r.costPerSale, money)), h('td', {}, orDash(r.roas, times))]))))));
  const keywords = stats.byKeyword?.length > 0 && h('section', { class: 'card' }, h('h2', {}, t.byKeyword), h('div', { class: 'scroll' }, h('table', { class: 'numbers' },
    h('thead', {}, h('tr', {}, h('th', {}, ''), h('th', {}, t.leads), h('th', {}, t.sales), h('th', {}, t.revenue))),
    h('tbody', {}, stats.byKeyword.map((k) => h('tr', {}, h('th', {}, k.keyword, h('span', { class: 'small block' }, k.campaign)), h('td', {}, k.leads), h('td', {}, k.sales), h('td', {}, money(k.revenue))))))));
  const otherSpend = stats.otherCurrencySpend?.length > 0 && h('p', { class: 'small' }, t.otherCurrencySpend(stats.otherCurrencySpend.map((o) => `${o.campaign} ${money(o.spend, o.currency)}`).join(', ')));
  show(
    h('section', { class: 'dashboard' },
      h('div', { class: 'chips' }, rangeButton('today', t.today), rangeButton('7', t.days7), rangeButton('30', t.days30)),
      customRange,
      h('div', { class: 'metrics' },
        card(t.visits, stats.totals.visits, 'visits'), card(t.leads, stats.totals.leads, 'leads'), card(t.sales, stats.totals.sales, 'sales'), card(t.revenue, money(stats.totals.revenue), 'revenue'),
        withSpend && [card(t.spend, money(stats.totals.spend), 'spend'), card(t.costPerLead, orDash(stats.totals.costPerLead, money)), card(t.costPerSale, orDash(stats.totals.costPerSale, money)), card(t.roas, orDash(stats.totals.roas, times))],
        card(t.leadRate, percent(stats.totals.leadRate)), card(t.saleRate, percent(stats.totals.saleRate))),
      otherSpend,
      chart(stats.byDay),
      withSpend && moneyChart(stats.byDay),
      campaignCards(stats.byCampaign, withSpend, orDash),
      keywords,
      table(t.bySource, stats.bySource, 'source'),
      table(t.byCity, stats.byCity, 'city'),
      spendCard(() => dashboardScreen(range, custom))),
  );
}

/** One card per campaign, the ones that make money first: what it earned, and what it cost. */
function campaignCards(rows, withSpend, orDash) {
  return h('section', { class: 'campaigns' }, h('h2', {}, t.byCampaign), rows.length === 0 ? h('p', { class: 'empty' }, t.noCampaigns) : rows.map((r) => h('article', { class: 'card campaign' },
    h('h3', {}, r.campaign || t.none, r.platform ? h('span', { class: 'small' }, ` · ${r.platform === 'google' ? 'Google' : 'Meta'}`) : ''),
    h('p', { class: 'money' }, money(r.revenue), withSpend && r.spend > 0 ? h('span', { class: 'small' }, ` · ${t.spend} ${money(r.spend)}`) : ''),
    h('p', { class: 'small' }, [`${r.visits} ${t.visits.toLowerCase()}`, `${r.leads} ${t.leads.toLowerCase()}`, `${r.sales} ${t.sales.toLowerCase()}`,
      withSpend && r.spend > 0 && `${t.costPerLead} ${orDash(r.costPerLead, money)}`, withSpend && r.spend > 0 && `${t.roas} ${orDash(r.roas, times)}`].filter(Boolean).join(' · ')))));
}

/** Revenue and spend per day, side by side, with a legend. */
function moneyChart(days) {
  const width = 320;
  const height = 120;
  const max = Math.max(1, ...days.map((d) => Math.max(d.revenue, d.spend ?? 0)));
  const bar = width / Math.max(days.length, 1);
  const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', days.map((d) => `${d.day}: ${t.revenue} ${money(d.revenue)}, ${t.spend} ${money(d.spend ?? 0)}`).join('; '));
  days.forEach((d, i) => {
    [[d.revenue, 'revenue'], [d.spend ?? 0, 'spend']].forEach(([value, cls], j) => {
      const rect = document.createElementNS(svg.namespaceURI, 'rect');
      const hgt = (value / max) * (height - 10);
      rect.setAttribute('x', String(i * bar + 1 + (j * (bar - 2)) / 2));
      rect.setAttribute('y', String(height - hgt));
      rect.setAttribute('width', String(Math.max(1, (bar - 2) / 2 - 1)));
      rect.setAttribute('height', String(hgt));
      rect.setAttribute('class', cls);
      svg.append(rect);
    });
  });
  return h('figure', { class: 'card chart' }, svg, h('figcaption', { class: 'legend' }, h('span', { class: 'key revenue' }), t.revenue, ' ', h('span', { class: 'key spend' }), t.spend));
}

/** The spend sync: when it last ran, what failed in words, and "Sync now". */
function spendCard(rerender) {
  const state = h('p', { class: 'small', role: 'status' });
  const button = h('button', {}, t.syncNow);
  const section = h('section', { class: 'card spend-sync', hidden: true }, h('h2', {}, t.spend), state, h('div', { class: 'actions' }, button));
  const render = (s) => {
    if (s.platforms.length === 0) return;
    section.hidden = false;
    const parked = Object.entries(s.parked).map(([p, why]) => h('span', { class: 'bad block' }, `${t.destinations[p] ?? p}: ${why}`));
    const errors = s.last && !s.last.ok ? Object.entries(s.last.errors).filter(([p]) => !s.parked[p]).map(([p, why]) => h('span', { class: 'bad block' }, `${t.destinations[p] ?? p}: ${why}`)) : [];
    state.replaceChildren(s.running ? t.syncRunning(s.running.step) : s.last ? t.syncLast(dateTime(Date.parse(s.last.at)), s.last.rows, s.last.days) : t.syncNever, ...parked, ...errors);
    button.disabled = Boolean(s.running);
  };
  button.addEventListener('click', async () => {
    const before = (await api('/api/admin/spend')).last?.at;
    render(await api('/api/admin/spend/sync', { method: 'POST' }));
    for (let i = 0; i < 120; i++) {
      await new Promise((r) => setTimeout(r, 1000));
      const s = await api('/api/admin/spend');
      render(s);
      if (!s.running && s.last?.at !== before) return rerender();
    }
  });
  api('/api/admin/spend').then(render, () => undefined);
  return section;
}

function chart(days) {
  const width = 320;
  const height = 120;
  const max = Math.max(1, ...days.map((d) => d.visits));
  const bar = width / Math.max(days.length, 1);
  const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', days.map((d) => `${d.day}: ${d.visits} ${t.visits}, ${d.leads} ${t.leads}`).join('; '));
  days.forEach((d, i) => {
    for (const [value, cls, shrink] of [[d.visits, 'visits', 0], [d.leads, 'leads', bar / 4]]) {
      const rect = document.createElementNS(svg.namespaceURI, 'rect');
      const hgt = (value / max) * (height - 10);
      rect.setAttribute('x', String(i * bar + 2 + shrink));
      rect.setAttribute('y', String(height - hgt));
      rect.setAttribute('width', String(Math.max(1, bar - 4 - 2 * shrink)));
      rect.setAttribute('height', String(hgt));
      rect.setAttribute('class', cls);
      svg.append(rect);
    }
  });
  const label = (d) => new Intl.DateTimeFormat(locale, { day: 'numeric', month: 'short', timeZone: 'UTC' }).format(Date.parse(`${d}T00:00:00Z`));
  return h('figure', { class: 'card chart' }, svg,
    days.length > 0 && h('div', { class: 'dates small' }, h('span', {}, label(days[0].day)), h('span', {}, label(days.at(-1).day))),
    h('figcaption', { class: 'legend' }, h('span', { class: 'key visits' }), t.visits, ' ', h('span', { class: 'key leads' }), t.leads));
}

// ---------- live ----------
let liveTimer;
async function liveScreen() {
  nav.hidden = false;
  const list = h('ul', { class: 'live' });
  show(h('section', {}, h('h1', {}, t.liveTitle), list));
  const tick = async () => {
    const { events } = await api('/api/admin/events?limit=50');
    list.replaceChildren(...(events.length ? events : []).map((e) => h('li', {}, h('time', {}, ago(chTime(e.received_at))), ' ', `${t.eventTypes[e.type] ?? e.type} ${e.path || ''}`, ' · ', [e.utm_campaign, e.city, e.device].filter(Boolean).join(' · '))));
    if (!events.length) list.append(h('li', { class: 'empty' }, t.noEvents));
  };
  await tick();
  liveTimer = setInterval(() => tick().catch(() => {}), 5000);
}

// ---------- calls matched to clicks ----------
/**
 * The owner shares a number into the app (from the phone's call list or WhatsApp: the app is a Web
 * Share Target). The app offers the call and WhatsApp clicks of the last two days that have no
 * number yet: "03:04 — someone from the 'konsantratör' ad tapped Call: was it this number?"
 */
async function shareScreen(number) {
  nav.hidden = false;
  const mine = generation;
  let match;
  try {
    match = await api(`/api/admin/calls/match?phone=${encodeURIComponent(number)}`);
  } catch (err) {
    if (err.status === 400) return show(h('section', { class: 'share' }, h('h1', {}, t.shareTitle(number || '—')), h('p', { class: 'error' }, t.shareNoNumber)));
    throw err;
  }
  if (mine !== generation) return;
  const attach = async (lead) => {
    await api(`/api/admin/leads/${lead.id}`, { method: 'PATCH', body: { phone: match.phone } });
    location.hash = `#/lead/${lead.id}`;
  };
  const time = (ms) => new Intl.DateTimeFormat(locale, { weekday: 'short', hour: '2-digit', minute: '2-digit', timeZone }).format(ms);
  show(h('section', { class: 'share' },
    h('h1', {}, t.shareTitle(formatPhone(match.phone))),
    match.known && h('p', {}, t.shareKnown, ' ', h('a', { href: `#/lead/${match.known.id}` }, match.known.name || formatPhone(match.known.phone))),
    match.candidates.length === 0
      ? h('p', { class: 'empty' }, t.shareNone)
      : h('ul', { class: 'candidates' }, match.candidates.map((c) => h('li', { class: 'card' },
        h('p', {}, t.shareQuestion(time(c.created_at), t.sources[c.source], c.ad_campaign ?? c.utm_campaign, c.ad_keyword ?? c.utm_term)),
        h('button', { class: 'primary attach', onclick: () => attach(c) }, t.shareAttach))))));
}

/** A number in what another app shared (a contact card, "Call from 0532 111 22 33", a wa.me link). */
function sharedNumber(params) {
  const text = ['title', 'text', 'url'].map((k) => params.get(k) ?? '').join(' ');
  return /\+?\d[\d\s().-]{6,}\d/.exec(text)?.[0] ?? '';
}

// ---------- connections ----------
/** While the last connections check has failures, the leads screen says so in one line each. */
async function connectionsBanner(banner) {
  const last = await api('/api/admin/doctor/last').catch(() => null);
  const failing = [...new Set((last?.checks ?? []).filter((c) => c.status === 'fail').map((c) => c.integration))];
  if (failing.length === 0) return;
  banner.replaceChildren(...failing.map((name) => h('p', {}, t.connectionFailing(name))), h('a', { href: '#/connections' }, t.connectionsOpen));
  banner.hidden = false;
}

const VERDICT = { ok: '✅', warn: '⚠️', fail: '❌' };

async function connectionsScreen() {
  nav.hidden = false;
  const mine = generation;
  const results = h('div', { 'aria-live': 'polite' });
  const note = h('p', { class: 'small', role: 'status' });
  const render = (report) => {
    if (!report) return results.replaceChildren(h('p', { class: 'empty' }, t.connectionsNever));
    note.textContent = t.connectionsAt(dateTime(Date.parse(report.at)), report.ok);
    const groups = new Map();
    for (const c of report.checks) groups.set(c.integration, [...(groups.get(c.integration) ?? []), c]);
    results.replaceChildren(...[...groups].map(([name, checks]) => {
      const worst = checks.some((c) => c.status === 'fail') ? 'fail' : checks.some((c) => c.status === 'warn') ? 'warn' : 'ok';
      return h('section', { class: `card check-${worst}` },
        h('h2', {}, `${VERDICT[worst]} ${name}`),
        h('ul', { class: 'checks' }, checks.map((c) => h('li', { class: `check-${c.status}` }, h('span', { 'aria-label': c.status }, VERDICT[c.status]), ' ', c.tried, c.fix && h('span', { class: 'fix' }, `→ ${c.fix}`)))));
    }));
  };
  const run = async (send) => {
    for (const b of buttons.querySelectorAll('button')) b.disabled = true;
    note.textContent = t.connectionsRunning;
    try {
      const report = await api('/api/admin/doctor', { method: 'POST', body: { send } });
      if (mine === generation) render(report);
    } catch (err) {
      note.textContent = err.message;
    } finally {
      for (const b of buttons.querySelectorAll('button')) b.disabled = false;
    }
  };
  const buttons = h('div', { class: 'actions' },
    h('button', { class: 'primary', onclick: () => run(false) }, t.connectionsCheck),
    h('button', { onclick: () => run(true) }, t.connectionsSend));
  show(h('section', { class: 'connections' }, h('h1', {}, t.connections), h('p', {}, t.connectionsHint), buttons, note, results));
  const last = await api('/api/admin/doctor/last');
  if (mine !== generation) return;
  if (last) render(last);
  else run(false);
}

// ---------- settings ----------
async function settingsScreen() {
  nav.hidden = false;
  const mine = generation;
  const status = await api('/api/admin/status');
  const { deliveries } = await api('/api/admin/deliveries?state=dead');
  if (mine !== generation) return;
  const warnings = [];
  if (!status.clickhouse.reachable) warnings.push(t.warnings.clickhouse);
  if (!status.geoip.loaded) warnings.push(t.warnings.geoip);
  if (status.journal.full) warnings.push(t.warnings.journalFull);
  else if (status.journal.backlogBytes > 1e6) warnings.push(t.warnings.journal);
  if (status.outbox.dead > 0) warnings.push(t.warnings.dead(status.outbox.dead));
  for (const d of status.outbox.destinations) {
    if (d.parked) warnings.push(t.warnings.parked(d.destination, d.waiting, d.parked.reason));
    else if (!d.configured && d.waiting > 0) warnings.push(t.warnings.unconfigured(d.destination, d.waiting));
  }
  const backup = status.backup;
  const lastOkAge = backup.lastOk ? (Date.now() - Date.parse(backup.lastOk.at)) / 3_600_000 : 0;
  if (backup.configured && lastOkAge > backup.maxAgeHours) warnings.push(t.warnings.backupLate(Math.floor(lastOkAge)));
  for (const problem of status.google.configured ? [] : status.google.problems) if (!/^not configured/.test(problem)) warnings.push(`Google Ads: ${problem}`);

  const pushState = h('p', { class: 'push-state' });
  const pushButtons = h('div', { class: 'actions' });
  const renderPush = async () => {
    const supported = 'serviceWorker' in navigator && 'PushManager' in window && window.isSecureContext;
    // iPhone: push works only for an app added to the Home Screen, and Safari cannot offer to add it.
    const iosBrowser = /iPhone|iPad/.test(navigator.userAgent) && !navigator.standalone && !matchMedia('(display-mode: standalone)').matches;
    if (!supported || iosBrowser) return pushState.replaceChildren(iosBrowser ? t.installIos : t.pushUnsupported);
    const registration = await navigator.serviceWorker.ready;
    const subscription = await registration.pushManager.getSubscription();
    pushState.replaceChildren(subscription ? t.pushIsOn : Notification.permission === 'denied' ? t.pushDenied : t.pushIsOff);
    pushButtons.replaceChildren(...[
      subscription
        ? h('button', { onclick: async () => { await api(`/api/admin/push-subscriptions/${localStorage.getItem('lc-push-id')}`, { method: 'DELETE' }).catch(() => {}); await subscription.unsubscribe(); renderPush(); } }, t.pushOff)
        : h('button', { class: 'primary', onclick: async () => {
            try {
              const { publicKey } = await api('/api/admin/push-subscriptions/vapid-public-key');
              const sub = await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: publicKey });
              const { id } = await api('/api/admin/push-subscriptions', { method: 'POST', body: sub.toJSON() });
              localStorage.setItem('lc-push-id', String(id));
              renderPush();
            } catch (err) {
              // Permission refused (now or earlier): say how to allow it, not nothing.
              pushState.replaceChildren(h('span', { class: 'bad' }, Notification.permission === 'denied' ? t.pushDenied : err.message));
            }
          } }, t.pushOn),
      subscription && h('button', { onclick: () => api('/api/admin/push-subscriptions/test', { method: 'POST' }) }, t.pushTest),
    ].filter(Boolean));
  };
  show(
    h('section', { class: 'settings' },
      h('section', { class: 'card' }, h('h2', {}, t.connections), h('p', {}, t.connectionsHint), status.doctor && h('p', { class: status.doctor.ok ? 'small' : 'bad' }, status.doctor.ok ? t.connectionsAt(dateTime(Date.parse(status.doctor.at)), true) : status.doctor.failing.map(t.connectionFailing).join(' ')), h('a', { class: 'button', href: '#/connections' }, t.connectionsOpen)),
      h('section', { class: 'card' }, h('h2', {}, t.push), pushState, pushButtons, installPrompt && h('button', { onclick: () => installPrompt.prompt() }, t.install)),
      h('section', { class: 'card' }, h('h2', {}, t.health),
        warnings.length ? h('ul', { class: 'warnings' }, warnings.map((w) => h('li', {}, w))) : h('p', {}, `✅ ${t.ok}`),
        h('p', { class: 'small' }, `${t.telegram}: ${status.outbox.destinations.some((d) => d.destination === 'telegram' && d.configured) ? t.pushIsOn : t.pushIsOff}`)),
      h('section', { class: 'card' }, h('h2', {}, t.language), languagePicker()),
      h('section', { class: 'card backups' }, h('h2', {}, t.backups), ...backupCard(backup)),
      h('section', { class: 'card' }, h('h2', {}, t.deadDeliveries),
        // Each row names its lead; Retry only where trying again can change something.
        deliveries.length === 0 ? h('p', { class: 'small' }, t.ok) : h('ul', { class: 'dead' }, deliveries.map((d) => h('li', {},
          d.lead ? h('a', { href: `#/lead/${d.lead.id}` }, d.lead.name || d.lead.phone || t.sources[d.lead.source]) : '',
          ` · ${t.destinations[d.destination] ?? d.destination}${d.event !== 'notification' ? ` · ${t.deliveryEvents[d.event] ?? d.event}` : ''}`,
          h('span', { class: 'small reason' }, reasonText(d, d.last_error)),
          d.retryable && h('button', { onclick: async () => { await api(`/api/admin/deliveries/${d.id}/retry`, { method: 'POST' }); settingsScreen(); } }, t.retryDelivery))))),
      h('div', { class: 'actions' },
        h('button', { onclick: async () => { await api('/api/admin/session', { method: 'DELETE' }); location.hash = '#/login'; } }, t.logOut),
        h('button', { class: 'danger', onclick: async () => { await api('/api/admin/sessions', { method: 'DELETE' }); location.hash = '#/login'; } }, t.logOutEverywhere))),
  );
  renderPush();
}

/** A history row in words: statuses by their names, a sale as money and a date, not "NEW → SOLD" and ISO times. */
function historyText(x) {
  const status = (v) => (v ? t.statuses[v] ?? v : '—');
  const sale = (v) => {
    const m = /^(\S+) ([A-Z]{3})(?: at (.+))?$/.exec(v ?? '');
    return m ? `${money(Number(m[1]), m[2])}${m[3] ? ` · ${dateTime(Date.parse(m[3]))}` : ''}` : v ?? '—';
  };
  if (x.field === 'status') return `${t.historyFields.status}: ${status(x.old_value)} → ${status(x.new_value)}`;
  if (x.field === 'attribution' && t.checkoutUnmatched[x.new_value]) return t.checkoutUnmatched[x.new_value](CHECKOUTS[x.actor] ?? x.actor);
  if (x.field === 'quote_value') return `${t.historyFields.quote_value}: ${money(Number(x.new_value))}`;
  if (x.field === 'sale') return `${t.historyFields.sale}: ${x.old_value ? `${sale(x.old_value)} → ` : ''}${sale(x.new_value)}`;
  return `${t.historyFields[x.field] ?? x.field}: ${x.old_value ?? '—'} → ${x.new_value ?? '—'}`;
}

const RECEIPT_ICON = { accepted: '✓', sent: '✓', skipped: '–', rejected: '✗', dead: '✗', partial: '½' };
/**
 * One delivery in words: which platform got what ("Meta · Purchase"), whether it arrived and when,
 * and why not — a send left out on purpose (no consent, no click, too old) in grey, not as a failure.
 */
function receipt(d) {
  const when = d.status === 'accepted' || d.status === 'sent' ? ` ${t.receivedAt(new Intl.DateTimeFormat(locale, { timeStyle: 'short', timeZone }).format(d.updated_at))}` : '';
  return h('li', { class: `d-${d.status}` },
    h('strong', {}, `${t.destinations[d.destination] ?? d.destination}${d.event && d.event !== 'notification' ? ` · ${t.deliveryEvents[d.event] ?? d.event}` : ''}`), ' ',
    `${RECEIPT_ICON[d.status] ?? '…'} ${t.deliveryStatus[d.status]}${when}`,
    d.attempts > 1 ? ` · ${t.attempts(d.attempts)}` : '',
    d.reason ? h('span', { class: 'small reason' }, reasonText(d, d.reason)) : '');
}

/** Why a delivery was left out, in the owner's language when it is one of ours; the platform's own words otherwise. */
function reasonText(d, fallback) {
  const words = d.notSent && t.notSent[d.notSent.code];
  return words ? words(d.notSent.days) : (fallback ?? '').slice(0, 200);
}

/** This device's language: the business's (LOCALE) or one chosen here; the app reloads in it. */
function languagePicker() {
  const select = h('select', { 'aria-label': t.language, onchange: () => {
    if (select.value) localStorage.setItem('lc-language', select.value);
    else localStorage.removeItem('lc-language');
    location.reload();
  } },
  h('option', { value: '', selected: !chosenLanguage }, t.languageAuto(LANGUAGES[language].name)),
  Object.entries(LANGUAGES).map(([code, { name }]) => h('option', { value: code, selected: chosenLanguage === code }, name)));
  return select;
}

function backupCard(backup) {
  if (!backup.configured) return [h('p', {}, t.backupsOff)];
  const size = (n) => (n >= 1e6 ? `${(n / 1e6).toFixed(1)} MB` : `${Math.ceil(n / 1e3)} KB`);
  const last = backup.last;
  const lines = [];
  if (backup.running) {
    const p = backup.running.progress;
    lines.push(h('p', { role: 'status' }, t.backupRunning(p?.step ?? '', p && p.total ? Math.round((100 * p.done) / p.total) : 0)));
  } else if (last?.outcome === 'failed') lines.push(h('p', { class: 'bad' }, t.backupFailed(dateTime(Date.parse(last.at)), last.error)));
  if (backup.lastOk) lines.push(h('p', {}, t.backupLast(dateTime(Date.parse(backup.lastOk.at)), size(backup.lastOk.result.bytes), backup.lastOk.durationMs < 1000 ? '< 1 s' : `${Math.round(backup.lastOk.durationMs / 1000)} s`)));
  else if (!last) lines.push(h('p', {}, t.backupNone));
  if (!backup.encrypted) lines.push(h('p', { class: 'small' }, t.backupPlain));
  if (!backup.running) {
    lines.push(h('div', { class: 'actions' }, h('button', { onclick: async () => { await api('/api/admin/backups', { method: 'POST' }).catch(() => undefined); setTimeout(settingsScreen, 1000); } }, t.backupNow)));
  }
  return lines;
}

// ---------- router ----------
async function route() {
  generation++;
  clearInterval(liveTimer);
  // Until the screen's data arrives, say so (slow networks, a phone waking up).
  const mine = generation;
  const waiting = setTimeout(() => shownFor !== mine && show(h('p', { class: 'empty loading', role: 'status' }, t.loading)), 300);
  try {
    await openScreen();
  } finally {
    clearTimeout(waiting);
  }
}

async function openScreen() {
  const [, screen, arg] = location.hash.split('/');
  nav.querySelectorAll('a').forEach((a) => a.setAttribute('aria-current', String(a.getAttribute('href') === `#/${screen ?? ''}`)));
  try {
    if (screen === 'setup') return passwordScreen(t.setupTitle, t.setupHint, (password) => api('/api/admin/setup', { method: 'POST', body: { code: arg, password } }));
    if (screen === 'login') return passwordScreen(t.loginTitle, null, (password) => api('/api/admin/session', { method: 'POST', body: { password } }));
    if (screen === 'lead') return await leadScreen(arg);
    if (screen === 'dashboard') return await dashboardScreen();
    if (screen === 'live') return await liveScreen();
    if (screen === 'settings') return await settingsScreen();
    if (screen === 'connections') return await connectionsScreen();
    if (screen === 'share') return await shareScreen(decodeURIComponent(arg ?? ''));
    return await leadsScreen();
  } catch (err) {
    if (err.status !== 401) show(h('p', { class: 'error', role: 'alert' }, err.message, ' ', h('button', { onclick: route }, t.retry)));
  }
}

// Browsers that can install the app say so with this event: Settings then offers a button.
let installPrompt = null;
window.addEventListener('beforeinstallprompt', (e) => {
  e.preventDefault();
  installPrompt = e;
});

for (const [href, label] of [['#/', t.navLeads], ['#/dashboard', t.navDashboard], ['#/live', t.navLive], ['#/settings', t.navSettings]]) nav.append(h('a', { href }, label));
document.querySelector('.offline-banner').textContent = t.offline;
// Opened as a share target (/admin/?text=…): to the screen that matches the number to a click.
const shared = new URLSearchParams(location.search);
if (shared.has('text') || shared.has('title') || shared.has('url')) history.replaceState(null, '', `/admin/#/share/${encodeURIComponent(sharedNumber(shared))}`);
window.addEventListener('hashchange', route);
if ('serviceWorker' in navigator) navigator.serviceWorker.register('/admin/sw.js', { scope: '/admin/' });
route();
