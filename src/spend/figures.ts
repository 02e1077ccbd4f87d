// Spend joined to our own leads and sales. A campaign is known by its name; a lead names it by the
// Google campaign its click resolved to (click_view), else by utm_id or utm_campaign — which may
// hold the campaign's id (Meta's {{campaign.id}}, Google's ValueTrack {campaignid}): ids of
// campaigns with spend are read as their names, so both land on one row.
import type { ClickHouse } from '../events/clickhouse.ts';
import { dayIn } from '../time.ts';

export interface CampaignSpend {
  platform: string;
  campaignId: string;
  campaign: string;
  currency: string;
  cost: number;
  clicks: number;
  impressions: number;
}

// The ad platforms report spend per day of the ad account's time zone, taken to be the business's.

/** Spend per campaign (and currency) over the days in `timeZone` that [from, to) touches. */
export async function spendByCampaign(clickhouse: ClickHouse, from: number, to: number, timeZone: string): Promise<CampaignSpend[]> {
  const rows = await clickhouse.query<{ platform: string; campaign_id: string; campaign_name: string; currency: string; total_cost: number; total_clicks: string; total_impressions: string }>(
    `SELECT platform, campaign_id, argMax(campaign, day) AS campaign_name, currency, sum(cost) AS total_cost, sum(clicks) AS total_clicks, sum(impressions) AS total_impressions
     FROM ad_spend FINAL WHERE day >= toDate({from:String}) AND day <= toDate({to:String})
     GROUP BY platform, campaign_id, currency ORDER BY total_cost DESC`,
    { from: dayIn(from, timeZone), to: dayIn(to - 1, timeZone) },
  );
  return rows.map((r) => ({ platform: r.platform, campaignId: r.campaign_id, campaign: r.campaign_name, currency: r.currency, cost: Math.round(Number(r.total_cost) * 100) / 100, clicks: Number(r.total_clicks), impressions: Number(r.total_impressions) }));
}

/** Spend per day in `timeZone`, in `currency`, over [from, to). */
export async function spendByDay(clickhouse: ClickHouse, from: number, to: number, currency: string, timeZone: string): Promise<Map<string, number>> {
  const rows = await clickhouse.query<{ d: string; total: number }>(
    `SELECT toString(day) AS d, sum(cost) AS total FROM ad_spend FINAL WHERE day >= toDate({from:String}) AND day <= toDate({to:String}) AND currency = {currency:String} GROUP BY day`,
    { from: dayIn(from, timeZone), to: dayIn(to - 1, timeZone), currency },
  );
  return new Map(rows.map((r) => [r.d, Math.round(Number(r.total) * 100) / 100]));
}

/** Reads a lead's or visit's campaign key as the campaign's name when it is the id of one with spend. */
export function campaignNamer(spend: CampaignSpend[]): (key: string) => string {
  const names = new Map(spend.map((s) => [s.campaignId, s.campaign]));
  return (key) => names.get(key) ?? key;
}

export const ratio = (a: number, b: number, digits = 2): number | null => (b === 0 ? null : Math.round((a / b) * 10 ** digits) / 10 ** digits);
