// Signal quality, all the time: per platform, the share of leads each platform can credit (a
// Google click id; for Meta an fbc with ads consent) over 7 and 30 days, and what became of the
// sales sent to it. A share that falls sharply against the week before (the tag removed from a
// page, auto-tagging off, a banner blocking everything) is a warning with its likely cause.
import type { LeadReports } from '../db/reports.ts';
import type { OwnerAlert } from '../notify/texts.ts';
import type { Metrics } from '../metrics.ts';
import { ok, warn, type Check } from './report.ts';

const DAY = 86_400_000;
/** Fewer leads than this in a week say nothing about a share. */
const MIN_LEADS = 10;

export type Platform = 'google' | 'meta';

export interface PlatformSignal {
  platform: Platform;
  days: number;
  leads: number;
  creditable: number;
  bySource: Array<{ source: string; leads: number; creditable: number }>;
  sales: number;
  /** Sales whose lead carries what the platform credits by. */
  creditableSales: number;
  sent: number;
  accepted: number;
  reasons: Array<{ reason: string; n: number }>;
}

export interface SignalDrop {
  platform: Platform;
  lastWeek: number;
  weekBefore: number;
  cause: string;
}

const LABEL: Record<Platform, string> = { google: 'Google', meta: 'Meta' };
const CAUSE: Record<Platform, string> = {
  google: 'auto-tagging switched off in Google Ads, the t.js tag missing from a landing page, or a consent banner now refusing by default',
  meta: 'the t.js tag missing from a landing page, Meta ads without their fbclid, or a consent banner now refusing by default',
};

export function platformSignal(reports: LeadReports, platform: Platform, days: number, now = Date.now()): PlatformSignal {
  const from = now - days * DAY;
  const bySource = reports.signal(from, now).map((r) => ({ source: r.source, leads: r.leads, creditable: r[platform] }));
  const deliveries = reports.saleDeliveries(platform, from, now);
  return {
    platform,
    days,
    leads: bySource.reduce((n, r) => n + r.leads, 0),
    creditable: bySource.reduce((n, r) => n + r.creditable, 0),
    bySource,
    ...deliveries,
  };
}

/** The share of creditable leads of the last 7 days against the 7 before, when it fell by half or more. */
export function signalDrop(reports: LeadReports, platform: Platform, now = Date.now()): SignalDrop | undefined {
  const share = (from: number, to: number) => {
    const rows = reports.signal(from, to);
    const leads = rows.reduce((n, r) => n + r.leads, 0);
    return leads < MIN_LEADS ? undefined : rows.reduce((n, r) => n + r[platform], 0) / leads;
  };
  const lastWeek = share(now - 7 * DAY, now);
  const weekBefore = share(now - 14 * DAY, now - 7 * DAY);
  if (lastWeek === undefined || weekBefore === undefined || weekBefore < 0.2 || lastWeek > weekBefore / 2) return undefined;
  return { platform, lastWeek, weekBefore, cause: CAUSE[platform] };
}

const pct = (part: number, whole: number) => (whole === 0 ? '—' : `${Math.round((part / whole) * 100)}%`);

const SOURCE_LABEL: Record<string, string> = { form: 'form', call: 'call', whatsapp: 'WhatsApp', google_lead_form: 'lead form', checkout: 'checkout' };

/** "Google: 82% of leads creditable (41 of 50, 7 days; form 90%, call 50%), 41 of 43 sales processed (42 with a click id, 42 uploaded)" */
export function signalLine(s: PlatformSignal): string {
  const done = s.platform === 'google' ? 'processed' : 'accepted';
  const sources = s.bySource.length > 1 ? `; ${s.bySource.map((r) => `${SOURCE_LABEL[r.source] ?? r.source} ${pct(r.creditable, r.leads)}`).join(', ')}` : '';
  const sales = s.sales > 0 ? ` (${s.creditableSales} with ${s.platform === 'google' ? 'a click id' : 'an fbc and consent'}, ${s.sent} uploaded)` : '';
  return `${LABEL[s.platform]}: ${pct(s.creditable, s.leads)} of leads creditable (${s.creditable} of ${s.leads}, ${s.days} days${sources}), ${s.accepted} of ${s.sales} sales ${done}${sales}`;
}

export function signalChecks(reports: LeadReports, platforms: Platform[], now = Date.now()): Check[] {
  const checks: Check[] = [];
  for (const platform of platforms) {
    const week = platformSignal(reports, platform, 7, now);
    const month = platformSignal(reports, platform, 30, now);
    const rest = month.reasons.length > 0 ? `; not ${platform === 'google' ? 'processed' : 'accepted'}: ${month.reasons.map((r) => `${r.n} × ${r.reason}`).join('; ')}` : '';
    checks.push(ok('Signal', `${signalLine(week)}; 30 days: ${pct(month.creditable, month.leads)}, ${month.accepted} of ${month.sales} sales${rest}`.slice(0, 600)));
    const drop = signalDrop(reports, platform, now);
    if (drop) checks.push(warn('Signal', `${LABEL[platform]}: creditable leads fell from ${pct(drop.weekBefore, 1)} to ${pct(drop.lastWeek, 1)} against the week before`, `Likely cause: ${drop.cause}.`));
  }
  return checks;
}

/**
 * Looks every hour for a share that fell by half against the week before and tells the owner,
 * once per platform and week (the key dedups it in the outbox), in words with the likely cause.
 */
export function watchSignal(reports: LeadReports, platforms: Platform[], tell: (key: string, alert: OwnerAlert) => void, everyMs = 3_600_000): () => void {
  const check = (now = Date.now()) => {
    for (const platform of platforms) {
      const drop = signalDrop(reports, platform, now);
      if (!drop) continue;
      const week = Math.floor(now / (7 * DAY));
      tell(`signal-drop:${platform}:${week}`, { kind: 'signal-drop', platform, lastWeek: pct(drop.lastWeek, 1), weekBefore: pct(drop.weekBefore, 1) });
    }
  };
  check();
  const timer = setInterval(check, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}

/** lc_signal_* in /metrics: per platform, over 7 and 30 days, read from the leads at scrape time. */
export function exposeSignal(metrics: Metrics, reports: LeadReports, platforms: Platform[]): void {
  const read = (pick: (s: PlatformSignal) => number) => () => {
    const now = Date.now();
    return platforms.flatMap((platform) => [7, 30].map((days): [Record<string, string>, number] => [{ platform, days: String(days) }, pick(platformSignal(reports, platform, days, now))]));
  };
  const labels = ['platform', 'days'];
  metrics.gauges('lc_signal_leads', 'Leads of the last N days (tests and held leads left out)', labels, read((s) => s.leads));
  metrics.gauges('lc_signal_creditable_leads', 'Leads of the last N days the platform can credit (Google: a click id; Meta: an fbc with ads consent)', labels, read((s) => s.creditable));
  metrics.gauges('lc_signal_sales', 'Sales of the last N days', labels, read((s) => s.sales));
  metrics.gauges('lc_signal_sales_accepted', 'Sales of the last N days the platform accepted (Google: processed)', labels, read((s) => s.accepted));
}
