// Checks of the ad platforms, for real and without counting anywhere: Google's OAuth refresh and
// one synthetic sale sent with validateOnly (checked by Google, never recorded); Meta's own answer
// for the dataset and token, and one Lead under META_TEST_EVENT_CODE (shown only in Test events).
import { createHash } from 'node:crypto';
import type { GoogleConfig, MetaConfig } from '../config.ts';
import { ask } from './http.ts';
import { fail, ok, warn, type Check } from './report.ts';

/** A Date header an answer carried, for the clock check. */
export interface Dated {
  header: string;
  receivedAt: number;
  from: string;
}

const CHECK_ID = () => `lc-connection-check-${Date.now()}`;

/** `today`: the business's day (YYYY-MM-DD), the day the spend checks read. */
export async function googleChecks(config: GoogleConfig, currency: string, leadsWithGoogleClick30d: number, leads30d: number, dates: Dated[], today: string): Promise<Check[]> {
  const name = 'Google Ads';
  // Loaded here: Google's libraries are large, and only this check and the outbox need them.
  const { OAuth2Client } = await import('google-auth-library');
  const auth = new OAuth2Client({ clientId: config.clientId, clientSecret: config.clientSecret, endpoints: { oauth2TokenUrl: config.tokenUrl } });
  auth.setCredentials({ refresh_token: config.refreshToken });
  const checks: Check[] = [];
  try {
    const { res } = await auth.getAccessToken();
    const date = headerOf(res?.headers, 'date');
    if (date) dates.push({ header: date, receivedAt: Date.now(), from: 'Google' });
    checks.push(ok(name, 'OAuth: the refresh token gave an access token'));
  } catch (err) {
    const code = (err as { response?: { data?: { error?: string } } }).response?.data?.error;
    if (code === 'invalid_grant') return [fail(name, 'OAuth: Google refused the refresh token (invalid_grant): it was revoked, expired, or belongs to another OAuth client', 'Create a new refresh token (docs/deploy.md, section 6) and set GOOGLE_REFRESH_TOKEN.')];
    if (code === 'invalid_client' || code === 'unauthorized_client') return [fail(name, `OAuth: Google does not accept this OAuth client (${code})`, 'Check GOOGLE_CLIENT_ID and GOOGLE_CLIENT_SECRET against Google Cloud console → APIs & Services → Credentials.')];
    return [fail(name, `OAuth: the token endpoint ${config.tokenUrl} failed: ${(err as Error).message.slice(0, 200)}`, 'Check the server can reach Google (outbound https), and GOOGLE_OAUTH_TOKEN_URL if set.')];
  }

  const { google } = await import('../destinations/google.ts');
  const destination = google(config, () => undefined, true);
  const at = Date.now() - 60_000;
  const event = {
    transactionId: CHECK_ID(),
    eventTimestamp: { seconds: Math.floor(at / 1000), nanos: 0 },
    conversionValue: 1,
    currency,
    eventSource: 'OTHER',
    consent: { adUserData: 'CONSENT_GRANTED' },
    userData: { userIdentifiers: [{ emailAddress: createHash('sha256').update('connection-check@lean-capture.invalid').digest('hex') }] },
  };
  const result = await destination.post([event]);
  const where = `account ${config.customerId}${config.loginCustomerId ? ` (via manager ${config.loginCustomerId})` : ''}, conversion action ${config.conversionActionId}`;
  if (result.outcome === 'ok') checks.push(ok(name, `a test sale sent with validateOnly was accepted for ${where}; nothing was recorded`));
  else if (result.outcome === 'transient') checks.push(warn(name, `the test sale got no clear answer: ${result.response ?? ''}`.slice(0, 300), 'Run the check again in a few minutes.'));
  else checks.push(fail(name, `the test sale for ${where} was refused: ${result.response ?? ''}`.slice(0, 400), 'Check GOOGLE_ADS_CUSTOMER_ID, GOOGLE_ADS_LOGIN_CUSTOMER_ID and GOOGLE_CONVERSION_ACTION_ID (Google Ads → Goals → Conversions), and that the OAuth user can reach that account.'));

  checks.push(await googleAdsApiCheck(config, today));
  if (leads30d === 0) checks.push(ok(name, 'click ids: no leads in the last 30 days to look at'));
  else if (leadsWithGoogleClick30d === 0) checks.push(warn(name, `click ids: none of the ${leads30d} leads of the last 30 days carried a Google click id (gclid, gbraid, wbraid)`, 'Turn on auto-tagging (Google Ads → Admin → Account settings), and check the t.js tag is on every landing page (npm run doctor lists SITE_URLS pages without it).'));
  else checks.push(ok(name, `click ids: ${leadsWithGoogleClick30d} of ${leads30d} leads of the last 30 days carried a Google click id`));
  return checks;
}

export async function metaChecks(config: MetaConfig, publicOrigin: string | undefined, dates: Dated[], today: string): Promise<Check[]> {
  const name = 'Meta';
  const base = `${config.graphUrl.replace(/\/$/, '')}/${config.apiVersion}`;
  const answer = await ask(`${base}/${config.pixelId}?fields=id,name&access_token=${encodeURIComponent(config.accessToken)}`);
  if ('error' in answer) return [fail(name, `the Graph API did not answer: ${answer.error}`, 'Check the server can reach graph.facebook.com (outbound https), and META_GRAPH_URL if set.')];
  const date = answer.res.headers.get('date');
  if (date) dates.push({ header: date, receivedAt: Date.now(), from: 'Meta' });
  const body = parse(answer.text) as { id?: string; name?: string; error?: { message?: string; code?: number } };
  if (!answer.res.ok || body.error) {
    const code = body.error?.code;
    const reason = `${body.error?.message ?? `HTTP ${answer.res.status}`}${code !== undefined ? ` (code ${code})` : ''}`;
    if (code === 190 || code === 102) return [fail(name, `Meta refused the access token: ${reason}`, 'Create a new token in Events Manager → your dataset → Settings → Conversions API → Generate access token, and set META_ACCESS_TOKEN.')];
    return [fail(name, `Meta does not give this token dataset ${config.pixelId}: ${reason}`, 'Check META_PIXEL_ID (Events Manager → Data sources: the dataset id) and that the token was made for that dataset.')];
  }
  const checks = [ok(name, `the token reaches dataset ${body.name ? `"${body.name}" ` : ''}(${body.id ?? config.pixelId})`), await metaSpendCheck(config, today)];
  if (!config.testEventCode) {
    checks.push(warn(name, 'no test event sent: META_TEST_EVENT_CODE is not set', 'Copy the code from Events Manager → your dataset → Test events into META_TEST_EVENT_CODE, run the check, see the Lead arrive there, then empty the setting again.'));
    return checks;
  }
  const { meta } = await import('../destinations/meta.ts');
  const event = {
    event_name: 'Lead' as const,
    event_time: Math.floor(Date.now() / 1000),
    event_id: CHECK_ID(),
    action_source: 'website',
    event_source_url: `${publicOrigin ?? 'https://lean-capture.invalid'}/connection-check`,
    user_data: { external_id: [createHash('sha256').update('lean-capture-connection-check').digest('hex')], client_user_agent: 'Lean Capture connection check' },
  };
  const result = await meta(config, () => undefined).post([event]);
  if (result.outcome === 'ok') checks.push(ok(name, `a test Lead was sent with test code ${config.testEventCode}: it shows in Events Manager → Test events, and counts nowhere`));
  else checks.push(fail(name, `the test Lead was refused: ${result.response ?? ''}`.slice(0, 400), 'Check META_TEST_EVENT_CODE is the current code of this dataset\'s Test events tab.'));
  return checks;
}

/** The Google Ads API for spend and click_view: today's campaign costs, read (nothing changes). */
async function googleAdsApiCheck(config: GoogleConfig, today: string): Promise<Check> {
  const name = 'Google Ads';
  if (!config.ads) return ok(name, 'spend: not configured (optional: set GOOGLE_ADS_DEVELOPER_TOKEN to see cost per lead and ROAS, docs/deploy.md, section 6)');
  const { googleAdsApi } = await import('../spend/google-ads.ts');
  try {
    const rows = await googleAdsApi({ ...config, ads: config.ads }).search(`SELECT campaign.id, campaign.name, segments.date, metrics.cost_micros, metrics.clicks, metrics.impressions, customer.currency_code FROM campaign WHERE segments.date BETWEEN '${today}' AND '${today}'`);
    return ok(name, `spend: the Google Ads API (${config.ads.version}) accepts the developer token for account ${config.customerId}; ${rows.length} campaign(s) with costs today`);
  } catch (err) {
    return fail(name, `spend: ${(err as Error).message}`.slice(0, 400), 'Check GOOGLE_ADS_DEVELOPER_TOKEN (Google Ads manager account → Admin → API Center; basic access or more), and that GOOGLE_REFRESH_TOKEN was made with the adwords scope.');
  }
}

/** Meta's insights for spend: today's, read (needs ads_read on the ad account). */
async function metaSpendCheck(config: MetaConfig, today: string): Promise<Check> {
  const name = 'Meta';
  if (!config.adAccountId) return ok(name, 'spend: not configured (optional: set META_AD_ACCOUNT_ID to see cost per lead and ROAS, docs/deploy.md, section 7)');
  const { metaInsights } = await import('../spend/meta-insights.ts');
  try {
    await metaInsights({ ...config, adAccountId: config.adAccountId }).campaignDays(today, today);
    return ok(name, `spend: the token reads ad account ${config.adAccountId}'s insights (ads_read)`);
  } catch (err) {
    return fail(name, `spend: ${(err as Error).message}`.slice(0, 400), 'Give the token the ads_read permission on the ad account (Business settings → System users → assign the ad account; generate the token with ads_read), or check META_AD_ACCOUNT_ID.');
  }
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return {};
  }
}

/** A header from gaxios' answer: a Headers object in newer versions, a plain record in older ones. */
function headerOf(headers: unknown, name: string): string | undefined {
  if (!headers) return undefined;
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name) ?? undefined;
  return (headers as Record<string, string>)[name];
}
