// The owner's figures from the leads table: leads and sales grouped by campaign, source, city or
// day. Test leads and held leads are left out; revenue is summed in one currency, the others apart.
import type { Db } from './database.ts';

/** What a figure is grouped by: the same grouping applied to a lead's arrival and to its sale. */
export type Grouping = 'total' | 'campaign' | 'source' | 'city' | 'day';

const LEAD_KEY: Record<Grouping, string> = {
  total: "''",
  // The Google campaign the click resolved to (click_view), else what the landing URL said.
  campaign: "coalesce(ad_campaign, utm_id, utm_campaign, '')",
  source: 'source',
  city: "coalesce(city, '')",
  // The day in the business's time zone (bound as the query's first parameter).
  day: 'lc_day(created_at, ?)',
};
const SALE_KEY: Record<Grouping, string> = { ...LEAD_KEY, day: 'lc_day(sold_at, ?)' };
const COUNTED = 'is_test = 0 AND flag IS NULL';
/** What each platform credits a lead by: a Google click id; for Meta, an fbc sent with ads consent. */
const CREDITABLE = { google: 'coalesce(gclid, gbraid, wbraid) IS NOT NULL', meta: 'fbc IS NOT NULL AND consent_ads = 1' };

export class LeadReports {
  constructor(private readonly db: Db) {}

  /** Leads that arrived in [from, to), per key (days in `timeZone`). */
  leads(by: Grouping, from: number, to: number, timeZone = 'UTC'): Array<{ key: string | null; n: number }> {
    return this.db.prepare(`SELECT ${LEAD_KEY[by]} AS key, count(*) AS n FROM leads WHERE ${COUNTED} AND created_at >= ? AND created_at < ? GROUP BY key`).all(...(by === 'day' ? [timeZone] : []), from, to) as Array<{ key: string | null; n: number }>;
  }

  /** Sales made in [from, to), per key (days in `timeZone`), with their revenue in `currency`. */
  sales(by: Grouping, currency: string, from: number, to: number, timeZone = 'UTC'): Array<{ key: string | null; n: number; revenue: number | null }> {
    return this.db
      .prepare(`SELECT ${SALE_KEY[by]} AS key, count(*) AS n, sum(CASE WHEN sale_currency = ? THEN sale_value ELSE 0 END) AS revenue FROM leads WHERE ${COUNTED} AND status = 'SOLD' AND sold_at >= ? AND sold_at < ? GROUP BY key`)
      .all(...(by === 'day' ? [timeZone] : []), currency, from, to) as Array<{ key: string | null; n: number; revenue: number | null }>;
  }

  /** Revenue of sales in [from, to) recorded in currencies other than `currency`. */
  otherCurrencies(currency: string, from: number, to: number): Array<{ currency: string; revenue: number }> {
    return this.db
      .prepare(`SELECT sale_currency AS currency, sum(sale_value) AS revenue FROM leads WHERE ${COUNTED} AND status = 'SOLD' AND sold_at >= ? AND sold_at < ? AND sale_currency != ? GROUP BY sale_currency`)
      .all(from, to, currency) as Array<{ currency: string; revenue: number }>;
  }

  /**
   * Per source, leads of [from, to) and how many carry what each platform credits: a Google click
   * id (gclid, gbraid or wbraid), and for Meta an fbc sent with ads consent.
   */
  signal(from: number, to: number): Array<{ source: string; leads: number; google: number; meta: number }> {
    return this.db
      .prepare(
        `SELECT source, count(*) AS leads,
           sum(CASE WHEN ${CREDITABLE.google} THEN 1 ELSE 0 END) AS google,
           sum(CASE WHEN ${CREDITABLE.meta} THEN 1 ELSE 0 END) AS meta
         FROM leads WHERE ${COUNTED} AND created_at >= ? AND created_at < ? GROUP BY source`,
      )
      .all(from, to) as Array<{ source: string; leads: number; google: number; meta: number }>;
  }

  /**
   * Sales of [from, to) and what became of their delivery to one destination: sent (delivered),
   * accepted (Google: processed; Meta: taken), and the reasons of the rest, counted.
   */
  saleDeliveries(destination: 'google' | 'meta', from: number, to: number): { sales: number; creditableSales: number; sent: number; accepted: number; reasons: Array<{ reason: string; n: number }> } {
    const sale = destination === 'meta' ? "o.dedup_key LIKE 'meta:purchase:%'" : '1';
    const sold = `l.${COUNTED.replaceAll(' AND ', ' AND l.')} AND l.status = 'SOLD' AND l.sold_at >= ? AND l.sold_at < ?`;
    // A lead's newest job for this destination says where its sale stands (a correction makes another).
    const latest = `SELECT o.* FROM outbox o WHERE o.destination = ? AND ${sale} AND o.id = (SELECT max(id) FROM outbox WHERE lead_id = o.lead_id AND destination = o.destination${destination === 'meta' ? " AND dedup_key LIKE 'meta:purchase:%'" : ''})`;
    const row = this.db
      .prepare(
        `SELECT count(*) AS sales,
           sum(CASE WHEN ${CREDITABLE[destination].replace(/\b(gclid|gbraid|wbraid|fbc|consent_ads)\b/g, 'l.$1')} THEN 1 ELSE 0 END) AS creditableSales,
           sum(CASE WHEN j.state = 'done' THEN 1 ELSE 0 END) AS sent,
           sum(CASE WHEN j.state = 'done' AND (? = 'meta' OR coalesce(j.remote_status, 'accepted') = 'accepted') THEN 1 ELSE 0 END) AS accepted
         FROM leads l LEFT JOIN (${latest}) j ON j.lead_id = l.id WHERE ${sold}`,
      )
      .get(destination, destination, from, to) as { sales: number; creditableSales: number | null; sent: number | null; accepted: number | null };
    const reasons = this.db
      .prepare(
        `SELECT CASE WHEN j.id IS NULL THEN 'not queued' WHEN j.state IN ('pending', 'sending') THEN 'waiting to be sent'
                     WHEN j.state = 'done' THEN coalesce(j.remote_detail, 'sent, outcome not known yet') ELSE coalesce(j.last_error, j.state) END AS reason,
                count(*) AS n
         FROM leads l LEFT JOIN (${latest}) j ON j.lead_id = l.id
         WHERE ${sold} AND NOT (j.state = 'done' AND (? = 'meta' OR coalesce(j.remote_status, 'accepted') = 'accepted'))
         GROUP BY reason ORDER BY n DESC, reason LIMIT 10`,
      )
      .all(destination, from, to, destination) as Array<{ reason: string; n: number }>;
    return { sales: row.sales, creditableSales: row.creditableSales ?? 0, sent: row.sent ?? 0, accepted: row.accepted ?? 0, reasons };
  }

  /** Leads and sales of [from, to) per Google campaign and keyword their click resolved to (click_view). */
  keywords(currency: string, from: number, to: number): Array<{ campaign: string; keyword: string; leads: number; sales: number; revenue: number }> {
    return this.db
      .prepare(
        `SELECT ad_campaign AS campaign, ad_keyword AS keyword, count(*) AS leads,
           sum(CASE WHEN status = 'SOLD' THEN 1 ELSE 0 END) AS sales,
           round(sum(CASE WHEN status = 'SOLD' AND sale_currency = ? THEN sale_value ELSE 0 END), 2) AS revenue
         FROM leads WHERE ${COUNTED} AND ad_keyword IS NOT NULL AND created_at >= ? AND created_at < ?
         GROUP BY ad_campaign, ad_keyword ORDER BY revenue DESC, leads DESC LIMIT 50`,
      )
      .all(currency, from, to) as Array<{ campaign: string; keyword: string; leads: number; sales: number; revenue: number }>;
  }

  /** Leads still NEW (nobody answered yet), and the oldest one's arrival. */
  waiting(): { n: number; oldest: number | null } {
    return this.db.prepare(`SELECT count(*) AS n, min(created_at) AS oldest FROM leads WHERE ${COUNTED} AND status = 'NEW'`).get() as { n: number; oldest: number | null };
  }
}
