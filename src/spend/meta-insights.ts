// Meta's spend through the Marketing API insights: GET {graph}/{version}/act_{account}/insights
// with level=campaign and time_increment=1 (one row per campaign and day), following
// paging.next. Needs the ads_read permission on the token the Conversions API already uses.
import type { MetaConfig } from '../config.ts';
import { SyncError } from './sync-error.ts';

export interface MetaInsightRow {
  campaign_id?: string;
  campaign_name?: string;
  date_start?: string;
  spend?: string;
  clicks?: string;
  impressions?: string;
  account_currency?: string;
}

export interface MetaInsights {
  campaignDays(since: string, until: string): Promise<MetaInsightRow[]>;
}

/** Graph API rate limits: wait and try again later. */
const RATE_LIMIT_CODES = new Set([4, 17, 32, 341, 613, 80000, 80004]);
/** The token, or its permissions (ads_read), or the account: our settings. */
const SETTINGS_CODES = new Set([10, 100, 102, 190, 200, 272, 278]);
const MAX_PAGES = 200;

export function metaInsights(config: MetaConfig & { adAccountId: string }): MetaInsights {
  const base = `${config.graphUrl.replace(/\/$/, '')}/${config.apiVersion}/act_${config.adAccountId}/insights`;
  return {
    async campaignDays(since, until) {
      const params = new URLSearchParams({
        level: 'campaign',
        time_increment: '1',
        time_range: JSON.stringify({ since, until }),
        fields: 'campaign_id,campaign_name,spend,clicks,impressions,account_currency',
        limit: '500',
        access_token: config.accessToken,
      });
      const rows: MetaInsightRow[] = [];
      let next: string | undefined = `${base}?${params}`;
      for (let page = 0; next !== undefined && page < MAX_PAGES; page++) {
        let res: Response;
        try {
          res = await fetch(next, { signal: AbortSignal.timeout(60_000) });
        } catch (err) {
          throw new SyncError('transient', `Meta's Graph API did not answer: ${(err as Error).message}`);
        }
        const body = (await res.json().catch(() => ({}))) as { data?: MetaInsightRow[]; paging?: { next?: string; cursors?: { after?: string } }; error?: { message?: string; code?: number; is_transient?: boolean } };
        if (!res.ok || body.error) {
          const code = body.error?.code;
          const words = `${body.error?.message ?? `HTTP ${res.status}`}${code !== undefined ? ` (code ${code})` : ''}`;
          if ((code !== undefined && RATE_LIMIT_CODES.has(code)) || body.error?.is_transient || res.status >= 500) throw new SyncError('transient', `Meta asks to wait: ${words}`);
          if (code !== undefined && SETTINGS_CODES.has(code)) throw new SyncError('parked', `Meta refused to read the ad account's spend: ${words} — the token needs ads_read on ad account ${config.adAccountId} (META_ACCESS_TOKEN, META_AD_ACCOUNT_ID)`);
          throw new SyncError('failed', `Meta refused the insights request: ${words}`);
        }
        rows.push(...(body.data ?? []));
        next = body.paging?.next;
      }
      return rows;
    },
  };
}
