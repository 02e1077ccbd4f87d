// GET /api/admin/stats: what sells, for the dashboard. Visits come from ClickHouse (sessions with
// a pageview), leads and sales from SQLite (test leads left out), spend from ad_spend (the spend
// sync); days are the business's (TIMEZONE; ad spend keeps each ad account's own days). Revenue and spend are summed in the business's currency; sales and
// spend in another currency are listed apart, never added in. Per campaign and in total: cost per
// lead, cost per sale and ROAS (revenue / spend).
import type { ClickHouse } from '../events/clickhouse.ts';
import { json, problem, type Reply } from '../http/reply.ts';
import type { Request, Route } from '../http/server.ts';
import type { Grouping, LeadReports } from '../db/reports.ts';
import { campaignNamer, ratio, spendByCampaign, spendByDay } from '../spend/figures.ts';
import { KEEP_OFFLINE, ownerOnly, type AdminAuth } from './auth.ts';

export interface StatsDeps {
  auth: AdminAuth;
  reports: LeadReports;
  clickhouse: ClickHouse;
  currency: string;
  /** Days are cut in the business's time zone (TIMEZONE). */
  timeZone: string;
}

const DAY_MS = 24 * 3600 * 1000;
const MAX_RANGE_MS = 400 * DAY_MS;

interface Row {
  key: string;
  visits: number;
  leads: number;
  sales: number;
  revenue: number;
  spend: number;
}

export function statsRoute(deps: StatsDeps): Route {
  return { method: 'get', path: '/api/admin/stats', guards: [ownerOnly(deps.auth)], handler: (req) => stats(deps, req) };
}

function parseTime(value: string | null, fallback: number): number {
  if (value === null || value === '') return fallback;
  return /^\d+$/.test(value) ? Number(value) : Date.parse(value);
}

async function stats(deps: StatsDeps, req: Request): Promise<Reply> {
  const q = new URLSearchParams(req.query);
  const now = Date.now();
  const to = parseTime(q.get('to'), now);
  const from = parseTime(q.get('from'), to - 7 * DAY_MS);
  if (!Number.isFinite(from) || !Number.isFinite(to) || from >= to || to - from > MAX_RANGE_MS) {
    return problem(400, 'invalid-parameter', 'Invalid range', 'from and to are ISO 8601 times or ms, from < to, at most 400 days apart.');
  }

  const visitsBy = async (column: string): Promise<Map<string, number>> => {
    const rows = await deps.clickhouse.query<{ key: string; visits: string }>(
      `SELECT ${column} AS key, uniqExact(session_id) AS visits FROM events
       WHERE type = 'pageview' AND session_id != '' AND event_time >= fromUnixTimestamp64Milli({from:Int64}) AND event_time < fromUnixTimestamp64Milli({to:Int64})
       GROUP BY key`,
      { from, to },
    );
    return new Map(rows.map((r) => [String(r.key), Number(r.visits)]));
  };
  const [visitsTotal, visitsByCampaign, visitsByCity, visitsByDay, spend, spendDaily] = await Promise.all([
    visitsBy("''"),
    visitsBy('utm_campaign'),
    visitsBy('city'),
    visitsBy(`toString(toDate(event_time, '${deps.timeZone}'))`),
    spendByCampaign(deps.clickhouse, from, to, deps.timeZone),
    spendByDay(deps.clickhouse, from, to, deps.currency, deps.timeZone),
  ]);
  const inCurrency = spend.filter((s) => s.currency === deps.currency);
  const name = campaignNamer(spend);

  /** Rows per key; `named`: campaign keys that are a campaign's id are read as its name. */
  const table = (visits: Map<string, number>, by: Grouping, spendOf: Map<string, number> = new Map(), named = false): Row[] => {
    const rows = new Map<string, Row>();
    const row = (key: string | null) => {
      const k = named ? name(key ?? '') : (key ?? '');
      let r = rows.get(k);
      if (!r) rows.set(k, (r = { key: k, visits: 0, leads: 0, sales: 0, revenue: 0, spend: 0 }));
      return r;
    };
    for (const [key, n] of visits) row(key).visits += n;
    for (const { key, n } of deps.reports.leads(by, from, to, deps.timeZone)) row(key).leads += n;
    for (const { key, n, revenue } of deps.reports.sales(by, deps.currency, from, to, deps.timeZone)) {
      row(key).sales += n;
      row(key).revenue = Math.round((row(key).revenue + (revenue ?? 0)) * 100) / 100;
    }
    for (const [key, cost] of spendOf) row(key).spend = Math.round((row(key).spend + cost) * 100) / 100;
    return [...rows.values()].sort((a, b) => b.revenue - a.revenue || b.spend - a.spend || b.leads - a.leads || b.visits - a.visits);
  };
  /** Cost per lead, cost per sale, return on ad spend: only where there is spend. */
  const returns = (r: Omit<Row, 'key'>) => (r.spend > 0 ? { costPerLead: ratio(r.spend, r.leads), costPerSale: ratio(r.spend, r.sales), roas: ratio(r.revenue, r.spend) } : { costPerLead: null, costPerSale: null, roas: null });

  const totalSpend = Math.round(inCurrency.reduce((n, s) => n + s.cost, 0) * 100) / 100;
  const [totals] = table(new Map([['', visitsTotal.get('') ?? 0]]), 'total', new Map([['', totalSpend]]));
  const others = deps.reports.otherCurrencies(deps.currency, from, to);
  const rate = (a: number, b: number) => (b === 0 ? null : Math.round((a / b) * 10_000) / 10_000);
  const { key: _key, ...total } = totals ?? { key: '', visits: 0, leads: 0, sales: 0, revenue: 0, spend: 0 };
  // The period before, as long as this one: what the figures are compared with.
  const previous = await previousTotals(deps, from - (to - from), from);
  const campaignSpend = new Map<string, number>();
  const adClicks = new Map<string, { platform: string; clicks: number }>();
  for (const s of inCurrency) {
    campaignSpend.set(s.campaign, (campaignSpend.get(s.campaign) ?? 0) + s.cost);
    adClicks.set(s.campaign, { platform: s.platform, clicks: (adClicks.get(s.campaign)?.clicks ?? 0) + s.clicks });
  }

  return json(200, {
    from: new Date(from).toISOString(),
    to: new Date(to).toISOString(),
    currency: deps.currency,
    timeZone: deps.timeZone,
    totals: { ...total, leadRate: rate(total.leads, total.visits), saleRate: rate(total.sales, total.leads), ...returns(total) },
    previous,
    otherCurrencies: others,
    /** Spend in a currency other than CURRENCY: shown as such, never added to the totals. */
    otherCurrencySpend: spend.filter((s) => s.currency !== deps.currency).map((s) => ({ platform: s.platform, campaign: s.campaign, currency: s.currency, spend: s.cost })),
    byCampaign: table(visitsByCampaign, 'campaign', campaignSpend, true).map(({ key, ...r }) => ({ campaign: key, platform: adClicks.get(key)?.platform ?? null, adClicks: adClicks.get(key)?.clicks ?? null, ...r, ...returns(r) })),
    bySource: table(new Map(), 'source').map(({ key, visits: _v, spend: _s, ...r }) => ({ source: key, ...r })),
    byCity: table(visitsByCity, 'city').map(({ key, spend: _s, ...r }) => ({ city: key, ...r })),
    byDay: table(visitsByDay, 'day', spendDaily)
      .filter((r) => r.key !== '')
      .sort((a, b) => a.key.localeCompare(b.key))
      .map(({ key, ...r }) => ({ day: key, ...r })),
    byKeyword: deps.reports.keywords(deps.currency, from, to),
  }, KEEP_OFFLINE);
}

/** Visits, leads, sales, revenue and spend (in CURRENCY) of [from, to). */
async function previousTotals(deps: StatsDeps, from: number, to: number): Promise<{ visits: number; leads: number; sales: number; revenue: number; spend: number }> {
  const [[visits], spend] = await Promise.all([
    deps.clickhouse.query<{ visits: string }>(
      `SELECT uniqExact(session_id) AS visits FROM events WHERE type = 'pageview' AND session_id != '' AND event_time >= fromUnixTimestamp64Milli({from:Int64}) AND event_time < fromUnixTimestamp64Milli({to:Int64})`,
      { from, to },
    ),
    spendByCampaign(deps.clickhouse, from, to, deps.timeZone),
  ]);
  const [leads] = deps.reports.leads('total', from, to);
  const [sales] = deps.reports.sales('total', deps.currency, from, to);
  return {
    visits: Number(visits?.visits ?? 0),
    leads: leads?.n ?? 0,
    sales: sales?.n ?? 0,
    revenue: Math.round((sales?.revenue ?? 0) * 100) / 100,
    spend: Math.round(spend.filter((x) => x.currency === deps.currency).reduce((n, x) => n + x.cost, 0) * 100) / 100,
  };
}
