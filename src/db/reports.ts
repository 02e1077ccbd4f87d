// The owner's figures from the leads table: leads and sales grouped by campaign, source, city or
// day. Test leads and held leads are left out; revenue is summed in one currency, the others apart.
import type { Db } from './database.ts';

/** What a figure is grouped by: the same grouping applied to a lead's arrival and to its sale. */
export type Grouping = 'total' | 'campaign' | 'source' | 'city' | 'day';

const LEAD_KEY: Record<Grouping, string> = {
  total: "''",
  campaign: "coalesce(utm_campaign, '')",
  source: 'source',
  city: "coalesce(city, '')",
  day: "strftime('%Y-%m-%d', created_at / 1000, 'unixepoch')",
};
const SALE_KEY: Record<Grouping, string> = { ...LEAD_KEY, day: "strftime('%Y-%m-%d', sold_at / 1000, 'unixepoch')" };
const COUNTED = 'is_test = 0 AND flag IS NULL';

export class LeadReports {
  constructor(private readonly db: Db) {}

  /** Leads that arrived in [from, to), per key. */
  leads(by: Grouping, from: number, to: number): Array<{ key: string | null; n: number }> {
    return this.db.prepare(`SELECT ${LEAD_KEY[by]} AS key, count(*) AS n FROM leads WHERE ${COUNTED} AND created_at >= ? AND created_at < ? GROUP BY key`).all(from, to) as Array<{ key: string | null; n: number }>;
  }

  /** Sales made in [from, to), per key, with their revenue in `currency`. */
  sales(by: Grouping, currency: string, from: number, to: number): Array<{ key: string | null; n: number; revenue: number | null }> {
    return this.db
      .prepare(`SELECT ${SALE_KEY[by]} AS key, count(*) AS n, sum(CASE WHEN sale_currency = ? THEN sale_value ELSE 0 END) AS revenue FROM leads WHERE ${COUNTED} AND status = 'SOLD' AND sold_at >= ? AND sold_at < ? GROUP BY key`)
      .all(currency, from, to) as Array<{ key: string | null; n: number; revenue: number | null }>;
  }

  /** Revenue of sales in [from, to) recorded in currencies other than `currency`. */
  otherCurrencies(currency: string, from: number, to: number): Array<{ currency: string; revenue: number }> {
    return this.db
      .prepare(`SELECT sale_currency AS currency, sum(sale_value) AS revenue FROM leads WHERE ${COUNTED} AND status = 'SOLD' AND sold_at >= ? AND sold_at < ? AND sale_currency != ? GROUP BY sale_currency`)
      .all(from, to, currency) as Array<{ currency: string; revenue: number }>;
  }
}
