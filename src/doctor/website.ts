// Checks of the business's pages (SITE_URLS): each is fetched as a browser would and read for our
// tag and where it points, its consent mode, lead forms (a phone or email field, the honeypot),
// tel: and WhatsApp links, the Meta pixel, the Google tag and a Consent Mode default. Reading the
// HTML finds what the page's markup says; a tag added later by a tag manager is not seen (said so).
import { ask } from './http.ts';
import { fail, ok, warn, type Check } from './report.ts';

const MAX_PAGE = 2 * 1024 * 1024;

export function snippet(origin: string): string {
  return `<script defer src="${origin}/t.js"></script>`;
}

export async function websiteChecks(urls: string[], publicOrigin: string | undefined): Promise<Check[]> {
  const name = 'Website';
  if (urls.length === 0) return [warn(name, 'SITE_URLS is not set: the pages were not checked', "Set SITE_URLS to the business's landing pages, comma-separated (e.g. https://www.example.com/,https://www.example.com/offer).")];
  const checks: Check[] = [];
  for (const url of urls) {
    const answer = await ask(url, { headers: { 'user-agent': 'Mozilla/5.0 (compatible; LeanCapture-connection-check)', accept: 'text/html' } });
    if ('error' in answer) {
      checks.push(fail(name, `${url}: ${answer.error}`, 'Check the address in SITE_URLS, and that this server can reach the site.'));
      continue;
    }
    if (!answer.res.ok) {
      checks.push(fail(name, `${url} answered ${answer.res.status}`, 'Check the address in SITE_URLS.'));
      continue;
    }
    checks.push(...readPage(url, answer.res.url || url, answer.text.slice(0, MAX_PAGE), publicOrigin));
  }
  return checks;
}

/** What one page's HTML says; `finalUrl` resolves relative addresses after redirects. */
export function readPage(url: string, finalUrl: string, html: string, publicOrigin: string | undefined): Check[] {
  const name = 'Website';
  const checks: Check[] = [];
  const paste = publicOrigin ? `Paste ${snippet(publicOrigin)} into the page's <head>.` : 'Set PUBLIC_ORIGIN first: the snippet to paste is made from it.';
  const scripts = [...html.matchAll(/<script\b([^>]*)>/gi)].map((m) => m[1]!);
  const ours = scripts.map((attrs) => ({ attrs, src: attribute(attrs, 'src') })).filter((s) => s.src !== undefined && /\/t\.js(?:[?#]|$)/.test(s.src));
  if (ours.length === 0) {
    checks.push(fail(name, `${url}: no t.js tag`, paste));
  } else {
    const tag = ours[0]!;
    const origin = originOf(tag.src!, finalUrl);
    const consent = attribute(tag.attrs, 'data-consent') ?? 'implied';
    if (publicOrigin && origin !== publicOrigin) checks.push(fail(name, `${url}: t.js comes from ${origin}, not from ${publicOrigin}`, `Replace the tag with ${snippet(publicOrigin)}.`));
    else checks.push(ok(name, `${url}: t.js tag from ${origin}; consent ${consent === 'required' ? 'required (nothing is stored until the visitor agrees)' : 'implied (data-consent not set)'}`));
  }

  const forms = [...html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)].filter((m) => /\bdata-lc-lead\b/i.test(m[1]!));
  const formWords = forms.map((m, i) => {
    const body = m[2]!;
    const fields = [...body.matchAll(/<input\b([^>]*)>/gi)].map((f) => ({ name: attribute(f[1]!, 'name') ?? '', type: (attribute(f[1]!, 'type') ?? 'text').toLowerCase() }));
    const phone = fields.some((f) => f.name === 'phone' || f.type === 'tel');
    const email = fields.some((f) => f.name === 'email' || f.type === 'email');
    const honeypot = fields.some((f) => f.name === 'lc_hp');
    return { i, phone, email, honeypot };
  });
  const tel = (html.match(/href\s*=\s*["']?tel:/gi) ?? []).length;
  const whatsapp = (html.match(/href\s*=\s*["']?https?:\/\/(?:wa\.me|api\.whatsapp\.com|web\.whatsapp\.com)\//gi) ?? []).length;
  const found = `${forms.length} lead form(s), ${tel} tel: link(s), ${whatsapp} WhatsApp link(s)`;
  const noContact = formWords.filter((f) => !f.phone && !f.email);
  const noHoneypot = formWords.filter((f) => !f.honeypot);
  if (forms.length + tel + whatsapp === 0) checks.push(warn(name, `${url}: ${found}`, 'Nothing on this page makes a lead: add a form with data-lc-lead, or a tel: or wa.me link (docs/tracker.md).'));
  else if (noContact.length > 0) checks.push(fail(name, `${url}: ${found}; a data-lc-lead form has no phone or email field`, 'Give the form an input named phone (type="tel") or email: a lead without either cannot be called back or matched.'));
  else if (noHoneypot.length > 0) checks.push(warn(name, `${url}: ${found}; a data-lc-lead form has no honeypot`, 'Add <input name="lc_hp" tabindex="-1" autocomplete="off" aria-hidden="true" style="position:absolute;left:-9999px"> inside the form (docs/tracker.md).'));
  else checks.push(ok(name, `${url}: ${found}`));

  const pixel = /connect\.facebook\.net\/[^"']*fbevents\.js|fbq\(\s*['"]init['"]/i.test(html);
  const gtag = /googletagmanager\.com\/(?:gtag\/js|gtm\.js)/i.test(html);
  const consentDefault = /gtag\(\s*['"]consent['"]\s*,\s*['"]default['"]/i.test(html);
  const others = `Meta pixel ${pixel ? 'present' : 'not found'}, Google tag ${gtag ? 'present' : 'not found'}, Consent Mode default ${consentDefault ? 'present' : 'not found'}`;
  if (gtag && !consentDefault) checks.push(warn(name, `${url}: ${others}`, "Set a Consent Mode default before the Google tag (gtag('consent', 'default', {...})) where visitors must be asked (EEA, UK): without it Google treats consent as unknown."));
  else checks.push(ok(name, `${url}: ${others}${pixel ? '' : ' (without the pixel, Meta sees only our server events)'}`));
  return checks;
}

function attribute(attrs: string, name: string): string | undefined {
  const m = new RegExp(`(?:^|\\s)${name}\\s*=\\s*(?:"([^"]*)"|'([^']*)'|([^\\s"'>]+))`, 'i').exec(attrs);
  if (m) return m[1] ?? m[2] ?? m[3];
  return new RegExp(`(?:^|\\s)${name}(?:\\s|$)`, 'i').test(attrs) ? '' : undefined;
}

function originOf(src: string, page: string): string {
  try {
    return new URL(src, page).origin;
  } catch {
    return src;
  }
}
