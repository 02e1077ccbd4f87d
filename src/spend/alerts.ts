// After a sync: a campaign that spent in the last 7 days and brought no lead, or whose cost per
// lead doubled against the 7 days before, is told to the owner once a week (the key dedups it).
import type { ClickHouse } from '../events/clickhouse.ts';
import type { LeadReports } from '../db/reports.ts';
import type { OwnerAlert } from '../notify/texts.ts';
import { DAY_MS, dayIn, dayPlus, startOfDayIn } from '../time.ts';
import { campaignNamer, spendByCampaign } from './figures.ts';

export interface SpendAlert {
  key: string;
  alert: OwnerAlert;
}

export async function spendAlerts(clickhouse: ClickHouse, reports: LeadReports, currency: string, timeZone: string, money: (value: number, currency: string) => string, now = Date.now()): Promise<SpendAlert[]> {
  const week = Math.floor(now / (7 * DAY_MS));
  // Whole days of the business: the last 7 (today included) and the 7 before.
  const today = dayIn(now, timeZone);
  const weekStart = startOfDayIn(dayPlus(today, -6), timeZone);
  const weekBeforeStart = startOfDayIn(dayPlus(today, -13), timeZone);
  const [lastWeek, weekBefore] = await Promise.all([spendByCampaign(clickhouse, weekStart, now, timeZone), spendByCampaign(clickhouse, weekBeforeStart, weekStart, timeZone)]);
  const name = campaignNamer([...lastWeek, ...weekBefore]);
  const leadsBy = (from: number, to: number) => {
    const leads = new Map<string, number>();
    for (const { key, n } of reports.leads('campaign', from, to)) {
      const k = name(key ?? '');
      leads.set(k, (leads.get(k) ?? 0) + n);
    }
    return leads;
  };
  const leadsLast = leadsBy(weekStart, now);
  const leadsBefore = leadsBy(weekBeforeStart, weekStart);
  const alerts: SpendAlert[] = [];
  for (const s of lastWeek) {
    if (s.cost <= 0) continue;
    const leads = leadsLast.get(s.campaign) ?? 0;
    if (leads === 0) {
      alerts.push({ key: `spend-no-leads:${s.platform}:${s.campaignId}:${week}`, alert: { kind: 'spend-no-leads', campaign: s.campaign, spend: money(s.cost, s.currency) } });
      continue;
    }
    const before = weekBefore.find((b) => b.campaignId === s.campaignId && b.platform === s.platform && b.currency === s.currency);
    const leadsPrev = leadsBefore.get(s.campaign) ?? 0;
    if (!before || leadsPrev === 0 || before.cost <= 0 || s.currency !== currency) continue;
    const cpl = s.cost / leads;
    const cplBefore = before.cost / leadsPrev;
    if (cpl >= 2 * cplBefore) {
      alerts.push({ key: `cpl-doubled:${s.platform}:${s.campaignId}:${week}`, alert: { kind: 'cpl-doubled', campaign: s.campaign, cpl: money(cpl, s.currency), before: money(cplBefore, s.currency) } });
    }
  }
  return alerts;
}
