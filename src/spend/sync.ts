// The spend sync: what each campaign cost per day, from Google Ads and Meta, into ClickHouse's
// ad_spend (a re-sync restates the last days, which the platforms revise for a while), and the
// Google campaign, ad group and keyword of each lead's gclid from click_view (one day per query,
// the last 90 days). Hourly and on demand; the first sync of a platform fills 90 days. A quota
// or an outage retries with backoff; a refused token parks the platform with one clear status
// until a sync succeeds again. One run at a time.
import type { ClickHouse } from '../events/clickhouse.ts';
import type { SpendRow } from '../events/schema.ts';
import type { LeadStore } from '../db/leads.ts';
import type { Settings } from '../db/settings.ts';
import type { Logger } from '../log.ts';
import { backoffMs, DAY_MS, dayIn, dayPlus } from '../time.ts';
import type { GoogleAdsApi } from './google-ads.ts';
import type { MetaInsights } from './meta-insights.ts';
import { SyncError } from './sync-error.ts';

export type Platform = 'google' | 'meta';

export interface SpendSources {
  google?: GoogleAdsApi;
  meta?: MetaInsights;
}

export interface SyncResult {
  at: string;
  ok: boolean;
  /** Campaign-days written. */
  rows: number;
  days: number;
  /** Leads whose gclid was resolved to a campaign in this run. */
  resolvedClicks: number;
  durationMs: number;
  /** Per platform, what failed, in words. */
  errors: Partial<Record<Platform, string>>;
}

export interface SpendStatus {
  platforms: Platform[];
  running: { step: string; done: number; total: number } | null;
  last: SyncResult | null;
  /** Platforms whose credentials or access were refused: waiting for the settings to change. */
  parked: Partial<Record<Platform, string>>;
  nextAt: string | null;
}

const FIRST_DAYS = 90;
const RESYNC_DAYS = 7;
/** A lead's click is looked for on its day, the two before and the one after (account time zones); after this long, given up. */
const RESOLVE_GIVE_UP_MS = 4 * DAY_MS;
const BACKOFF = { baseMs: 5 * 60_000, capMs: 60 * 60_000 };
const LAST = 'spend.last';
const PARKED = 'spend.parked';
const filledKey = (p: Platform) => `spend.filled.${p}`;


export class SpendSync {
  private running: Promise<SyncResult> | undefined;
  private progress: SpendStatus['running'] = null;
  private failures = 0;
  private timer: NodeJS.Timeout | undefined;
  private nextAt: number | undefined;
  private stopped = false;

  constructor(
    private readonly deps: {
      clickhouse: ClickHouse;
      leads: LeadStore;
      settings: Settings;
      sources: SpendSources;
      log: Logger;
      /** The business's (and its ad accounts') time zone: the days asked for are its days. */
      timeZone: string;
      /** After each run (alerts look at the new figures). */
      onSynced?: (result: SyncResult) => void;
      everyMs?: number;
      now?: () => number;
    },
  ) {}

  get platforms(): Platform[] {
    return (['google', 'meta'] as const).filter((p) => this.deps.sources[p] !== undefined);
  }

  status(): SpendStatus {
    const last = this.deps.settings.get(LAST);
    return {
      platforms: this.platforms,
      running: this.progress,
      last: last === undefined ? null : (JSON.parse(last) as SyncResult),
      parked: JSON.parse(this.deps.settings.get(PARKED) ?? '{}') as SpendStatus['parked'],
      nextAt: this.nextAt === undefined ? null : new Date(this.nextAt).toISOString(),
    };
  }

  /** Syncs now (or joins the run under way). */
  run(): Promise<SyncResult> {
    this.running ??= this.sync().finally(() => (this.running = undefined));
    return this.running;
  }

  /** The first run after `firstMs`, then hourly (sooner, with backoff, after a transient failure). */
  schedule(firstMs = 10_000): () => void {
    this.plan(firstMs);
    return () => {
      this.stopped = true;
      clearTimeout(this.timer);
    };
  }

  private plan(ms: number): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.nextAt = Date.now() + ms;
    this.timer = setTimeout(() => {
      this.run().then(
        (r) => this.plan(r.ok ? (this.deps.everyMs ?? 3_600_000) : this.retryIn(r)),
        () => this.plan(this.deps.everyMs ?? 3_600_000),
      );
    }, ms);
    this.timer.unref();
  }

  /** After a failure: soon for a quota or an outage, the usual hour for the rest. */
  private retryIn(result: SyncResult): number {
    const parkedOnly = Object.keys(result.errors).every((p) => this.status().parked[p as Platform] !== undefined);
    return parkedOnly ? (this.deps.everyMs ?? 3_600_000) : Math.max(60_000, backoffMs(this.failures, BACKOFF));
  }

  private async sync(): Promise<SyncResult> {
    const now = this.deps.now?.() ?? Date.now();
    const started = Date.now();
    const result: SyncResult = { at: new Date(now).toISOString(), ok: true, rows: 0, days: 0, resolvedClicks: 0, durationMs: 0, errors: {} };
    const parked = this.status().parked;
    for (const platform of this.platforms) {
      const filled = this.deps.settings.get(filledKey(platform)) !== undefined;
      const days = filled ? RESYNC_DAYS : FIRST_DAYS;
      try {
        const rows = platform === 'google' ? await this.googleSpend(now, days) : await this.metaSpend(now, days);
        if (rows.length > 0) await this.deps.clickhouse.insert('ad_spend', Buffer.from(rows.map((r) => JSON.stringify(r)).join('\n') + '\n'));
        if (platform === 'google') result.resolvedClicks = await this.resolveClicks(now);
        this.deps.settings.put(filledKey(platform), new Date(now).toISOString());
        result.rows += rows.length;
        result.days = Math.max(result.days, days);
        delete parked[platform];
      } catch (err) {
        const e = err instanceof SyncError ? err : new SyncError('failed', (err as Error).message);
        result.ok = false;
        result.errors[platform] = e.message;
        if (e.kind === 'parked') parked[platform] = e.message;
        else delete parked[platform];
        this.deps.log.warn({ platform, kind: e.kind, reason: e.message }, 'spend sync failed');
      }
    }
    this.progress = null;
    this.failures = result.ok ? 0 : this.failures + 1;
    result.durationMs = Date.now() - started;
    this.deps.settings.put(PARKED, JSON.stringify(parked));
    this.deps.settings.put(LAST, JSON.stringify(result));
    this.deps.log.info({ rows: result.rows, days: result.days, resolvedClicks: result.resolvedClicks, ms: result.durationMs, errors: result.errors }, 'spend synced');
    this.deps.onSynced?.(result);
    return result;
  }

  /** The business's day `n` days from the one `at` falls on. */
  private day(at: number, n = 0): string {
    return dayPlus(dayIn(at, this.deps.timeZone), n);
  }

  private async googleSpend(now: number, days: number): Promise<SpendRow[]> {
    this.progress = { step: `Google Ads: ${days} days of campaign costs`, done: 0, total: days };
    const query = `SELECT campaign.id, campaign.name, segments.date, metrics.cost_micros, metrics.clicks, metrics.impressions, customer.currency_code FROM campaign WHERE segments.date BETWEEN '${this.day(now, -(days - 1))}' AND '${this.day(now)}'`;
    const rows = await this.deps.sources.google!.search(query);
    this.progress = { ...this.progress, done: days };
    return rows
      .filter((r) => r.campaign?.id && r.segments?.date)
      .map((r) => ({
        platform: 'google' as const,
        day: r.segments!.date!,
        campaign_id: r.campaign!.id!,
        campaign: r.campaign!.name ?? r.campaign!.id!,
        currency: r.customer?.currencyCode ?? '',
        cost: Number(r.metrics?.costMicros ?? 0) / 1e6,
        clicks: Number(r.metrics?.clicks ?? 0),
        impressions: Number(r.metrics?.impressions ?? 0),
        synced_at: now,
      }));
  }

  private async metaSpend(now: number, days: number): Promise<SpendRow[]> {
    this.progress = { step: `Meta: ${days} days of campaign spend`, done: 0, total: days };
    const rows = await this.deps.sources.meta!.campaignDays(this.day(now, -(days - 1)), this.day(now));
    this.progress = { ...this.progress, done: days };
    return rows
      .filter((r) => r.campaign_id && r.date_start)
      .map((r) => ({
        platform: 'meta' as const,
        day: r.date_start!,
        campaign_id: r.campaign_id!,
        campaign: r.campaign_name ?? r.campaign_id!,
        currency: r.account_currency ?? '',
        cost: Number(r.spend ?? 0),
        clicks: Number(r.clicks ?? 0),
        impressions: Number(r.impressions ?? 0),
        synced_at: now,
      }));
  }

  /**
   * Each lead's gclid looked up in click_view on its day, the two before and the one after (one
   * query per day, each day once per run). Found: the lead gets its campaign, ad group and
   * keyword. Not found: tried again at the next sync (a click shows up there within a day), and
   * given up after four days.
   */
  private async resolveClicks(now: number): Promise<number> {
    const leads = this.deps.leads.unresolvedGoogleClicks(now - (FIRST_DAYS - 1) * DAY_MS);
    if (leads.length === 0) return 0;
    const oldest = this.day(now, -(FIRST_DAYS - 1));
    const daysOf = (at: number) => [0, -1, -2, 1].map((d) => this.day(at, d)).filter((d) => d >= oldest && d <= this.day(now));
    const wanted = [...new Set(leads.flatMap((l) => daysOf(l.created_at)))].sort();
    const clicks = new Map<string, { campaignId: string; campaign: string; adGroup: string; keyword: string }>();
    for (const [i, day] of wanted.entries()) {
      this.progress = { step: 'Google Ads: matching clicks to leads (click_view)', done: i, total: wanted.length };
      const rows = await this.deps.sources.google!.search(
        `SELECT click_view.gclid, click_view.keyword_info.text, campaign.id, campaign.name, ad_group.id, ad_group.name FROM click_view WHERE segments.date = '${day}'`,
      );
      for (const r of rows) {
        const gclid = r.clickView?.gclid;
        if (gclid && r.campaign?.id) clicks.set(gclid, { campaignId: r.campaign.id, campaign: r.campaign.name ?? r.campaign.id, adGroup: r.adGroup?.name ?? '', keyword: r.clickView?.keywordInfo?.text ?? '' });
      }
    }
    let resolved = 0;
    for (const lead of leads) {
      const click = clicks.get(lead.gclid);
      if (click) {
        this.deps.leads.resolveGoogleClick(lead.id, click, now);
        resolved++;
      } else if (now - lead.created_at > RESOLVE_GIVE_UP_MS) this.deps.leads.resolveGoogleClick(lead.id, undefined, now);
    }
    return resolved;
  }
}
