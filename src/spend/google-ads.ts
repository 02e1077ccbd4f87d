// The Google Ads API's reporting over REST: POST {endpoint}/{version}/customers/{id}/googleAds:searchStream
// with a GAQL query, the OAuth access token of the client the project already has, the
// developer-token header and, through a manager account, login-customer-id. The answer is a
// JSON array of batches, each with `results` (rows in camelCase: campaign.id, metrics.costMicros,
// segments.date …). Errors name their cause in words and say whether to wait (quota, Google
// down), or to stop until the settings are fixed (token, developer token, account access).
import type { GoogleConfig } from '../config.ts';
import { SyncError } from './sync-error.ts';

export type GoogleAdsRow = {
  campaign?: { id?: string; name?: string };
  adGroup?: { id?: string; name?: string };
  clickView?: { gclid?: string; keywordInfo?: { text?: string; matchType?: string } };
  metrics?: { costMicros?: string; clicks?: string; impressions?: string };
  segments?: { date?: string };
  customer?: { currencyCode?: string };
};

export interface GoogleAdsApi {
  search(query: string): Promise<GoogleAdsRow[]>;
}

/** The access token itself was refused: worth one more try with a fresh one. */
class AccessTokenRefused extends SyncError {}

/** Google Ads API error codes (errorCode.*) that our settings cause: the sync parks until they change. */
const SETTINGS_ERRORS = /authenticationError|authorizationError|DEVELOPER_TOKEN|CUSTOMER_NOT_ENABLED|USER_PERMISSION_DENIED|NOT_ADS_USER/;

export function googleAdsApi(config: GoogleConfig & { ads: NonNullable<GoogleConfig['ads']> }): GoogleAdsApi {
  let auth: Promise<{ getAccessToken(): Promise<{ token?: string | null }> }> | undefined;
  const client = () =>
    (auth ??= import('google-auth-library').then(({ OAuth2Client }) => {
      const c = new OAuth2Client({ clientId: config.clientId, clientSecret: config.clientSecret, endpoints: { oauth2TokenUrl: config.tokenUrl } });
      c.setCredentials({ refresh_token: config.refreshToken });
      return c;
    }));
  const url = `${config.ads.endpoint}/${config.ads.version}/customers/${config.customerId}/googleAds:searchStream`;

  return {
    async search(query) {
      try {
        return await once(query);
      } catch (err) {
        // An access token refused (revoked, or the client changed): once more with a fresh one,
        // so a revoked refresh token is reported as such.
        if (!(err instanceof AccessTokenRefused)) throw err;
        auth = undefined;
        return once(query);
      }
    },
  };

  async function once(query: string): Promise<GoogleAdsRow[]> {
    let token: string | null | undefined;
    try {
      token = (await (await client()).getAccessToken()).token;
    } catch (err) {
      const code = (err as { response?: { data?: { error?: string } } }).response?.data?.error;
      if (code === 'invalid_grant' || code === 'invalid_client' || code === 'unauthorized_client') {
        throw new SyncError('parked', `Google refused our OAuth credentials (${code}): check GOOGLE_CLIENT_ID, GOOGLE_CLIENT_SECRET and GOOGLE_REFRESH_TOKEN (the token needs the adwords scope too)`);
      }
      throw new SyncError('transient', `Google's token endpoint failed: ${(err as Error).message.slice(0, 200)}`);
    }
    let res: Response;
    try {
      res = await fetch(url, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${token}`,
          'developer-token': config.ads.developerToken,
          ...(config.loginCustomerId ? { 'login-customer-id': config.loginCustomerId } : {}),
          'content-type': 'application/json',
        },
        body: JSON.stringify({ query }),
        signal: AbortSignal.timeout(60_000),
      });
    } catch (err) {
      throw new SyncError('transient', `the Google Ads API did not answer: ${(err as Error).message}`);
    }
    const text = await res.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new SyncError(res.status >= 500 ? 'transient' : 'failed', `the Google Ads API answered ${res.status} with no JSON`);
    }
    // A stream's error comes as the last element of the array; a request's as a plain object.
    const batches = (Array.isArray(body) ? body : [body]) as Array<{ results?: GoogleAdsRow[]; error?: { code?: number; message?: string; status?: string; details?: unknown } }>;
    const error = batches.find((b) => b.error)?.error;
    if (!res.ok || error) {
      const detail = JSON.stringify(error?.details ?? '');
      const words = `${error?.message ?? `HTTP ${res.status}`}${error?.status ? ` (${error.status})` : ''}`;
      if (res.status === 429 || error?.status === 'RESOURCE_EXHAUSTED' || /quotaError/.test(detail)) throw new SyncError('transient', `Google Ads API quota reached: ${words}`);
      if (res.status >= 500 || error?.status === 'UNAVAILABLE' || error?.status === 'INTERNAL') throw new SyncError('transient', `the Google Ads API failed: ${words}`);
      if (res.status === 401 && !/DEVELOPER_TOKEN/.test(detail)) throw new AccessTokenRefused('parked', `Google Ads refused our access token: ${words}`);
      if (res.status === 401 || res.status === 403 || SETTINGS_ERRORS.test(detail)) throw new SyncError('parked', `Google Ads refused our access: ${words}${/DEVELOPER_TOKEN/.test(detail) ? ' — check GOOGLE_ADS_DEVELOPER_TOKEN (API Center in the manager account)' : ' — check GOOGLE_ADS_DEVELOPER_TOKEN, GOOGLE_ADS_CUSTOMER_ID and GOOGLE_ADS_LOGIN_CUSTOMER_ID'}`);
      throw new SyncError('failed', `the Google Ads API refused the query: ${words}`);
    }
    return batches.flatMap((b) => b.results ?? []);
  }
}
