// The weekly digest: on Monday morning in the business's time zone, one message with the week's
// sales and revenue, how many sales Google and Meta accepted, the best campaign and keyword, and
// the leads still waiting for an answer — in the owner's language, once a week (the outbox's
// dedup key), through push and Telegram like every notification.
import type { LeadReports } from '../db/reports.ts';
import type { NotificationPayload } from './notify.ts';
import { money, notifyTexts } from './texts.ts';

const WEEK_MS = 7 * 86_400_000;

export interface Digest {
  sales: number;
  revenue: number;
  google: { sales: number; accepted: number };
  meta: { sales: number; accepted: number };
  bestCampaign: { name: string; revenue: number } | null;
  bestKeyword: { keyword: string; leads: number } | null;
  waiting: number;
}

export function weeklyDigest(reports: LeadReports, currency: string, now = Date.now()): Digest {
  const from = now - WEEK_MS;
  const [total] = reports.sales('total', currency, from, now);
  const campaigns = reports.sales('campaign', currency, from, now).filter((c) => c.key).sort((a, b) => (b.revenue ?? 0) - (a.revenue ?? 0));
  const keyword = reports.keywords(currency, from, now)[0];
  const deliveries = (platform: 'google' | 'meta') => {
    const d = reports.saleDeliveries(platform, from, now);
    return { sales: d.sales, accepted: d.accepted };
  };
  return {
    sales: total?.n ?? 0,
    revenue: Math.round((total?.revenue ?? 0) * 100) / 100,
    google: deliveries('google'),
    meta: deliveries('meta'),
    bestCampaign: campaigns[0] && (campaigns[0].revenue ?? 0) > 0 ? { name: campaigns[0].key!, revenue: campaigns[0].revenue ?? 0 } : null,
    bestKeyword: keyword ? { keyword: keyword.keyword, leads: keyword.leads } : null,
    waiting: reports.waiting().n,
  };
}

export function digestNotification(digest: Digest, locale: string, currency: string): NotificationPayload {
  const say = notifyTexts(locale);
  const lines = [
    say.digestSales(digest.sales, money(digest.revenue, currency, locale)),
    say.digestPlatforms(digest.google.accepted, digest.google.sales, digest.meta.accepted, digest.meta.sales),
    digest.bestCampaign && say.digestCampaign(digest.bestCampaign.name, money(digest.bestCampaign.revenue, currency, locale)),
    digest.bestKeyword && say.digestKeyword(digest.bestKeyword.keyword, digest.bestKeyword.leads),
    digest.waiting > 0 ? say.digestWaiting(digest.waiting) : undefined,
  ].filter(Boolean);
  return { title: say.digestTitle, body: lines.join('\n'), url: '/admin/#/dashboard' };
}

/** True during the hour from 08:00 on Monday in `timeZone`. */
export function isDigestHour(now: number, timeZone: string): boolean {
  const parts = Object.fromEntries(new Intl.DateTimeFormat('en-US', { timeZone, weekday: 'short', hour: '2-digit', hourCycle: 'h23' }).formatToParts(now).map((p) => [p.type, p.value]));
  return parts.weekday === 'Mon' && parts.hour === '08';
}

/** Looks every 10 minutes; in Monday's 08:00 hour, sends the digest (once: the key is the week). */
export function watchDigest(send: (key: string, now: number) => void, timeZone: string, everyMs = 600_000): () => void {
  const look = () => {
    const now = Date.now();
    if (isDigestHour(now, timeZone)) send(`digest:${Math.floor(now / WEEK_MS)}`, now);
  };
  const timer = setInterval(look, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
