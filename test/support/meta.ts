// A local Graph API for the Conversions API: POST /{version}/{pixel}/events with
// {data, access_token, test_event_code?}, checked as Meta documents it: a known access token,
// 1–1000 events, event_name, event_time in seconds within the last 7 days, a valid action_source,
// event_source_url for website events, hashed em/ph/external_id as 64 lower-case hex, and value
// with currency for Purchase. Answers {events_received, fbtrace_id} or a Graph error.
// The Marketing API's GET /{version}/act_{account}/insights too (level=campaign, time_increment=1,
// a time_range, the fields asked for): rows per campaign and day, 3 to a page, paged with `after`
// cursors and paging.next as Graph does; a token without ads_read gets Graph's permission error.
import { createServer } from 'node:http';

export const META = { pixelId: '123456789012345', token: 'EAAB-test-token', version: 'v24.0', adAccount: '998877665544' };
const ACTION_SOURCES = ['email', 'website', 'app', 'phone_call', 'chat', 'physical_store', 'system_generated', 'business_messaging', 'other'];
const HEX64 = /^[0-9a-f]{64}$/;

export async function startMeta() {
  const events: Array<Record<string, any>> = [];
  /** The test_event_code of each accepted request ('' without one). */
  const testCodes: string[] = [];
  /** The ad account's insights: one row per campaign and day. */
  const insights = {
    rows: [] as Array<{ day: string; campaignId: string; campaign: string; spend: string; clicks: number; impressions: number }>,
    currency: 'TRY',
    adsRead: true,
    requests: [] as string[],
  };
  const rejected: string[] = [];
  /** Requests to answer with Meta's rate-limit error (code 17, is_transient) before serving again. */
  let throttle = 0;
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const fail = (status: number, message: string, code = 100) => {
      rejected.push(message);
      res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ error: { message, type: 'OAuthException', code, fbtrace_id: 'Atest' } }));
    };
    const url = new URL(req.url ?? '/', 'http://x');
    if (req.method === 'GET' && url.pathname === `/${META.version}/act_${META.adAccount}/insights`) {
      insights.requests.push(req.url ?? '');
      const q = url.searchParams;
      if (q.get('access_token') !== META.token) return fail(400, 'Invalid OAuth access token - Cannot parse access token', 190);
      if (!insights.adsRead) return fail(403, '(#200) Ad account owner has NOT grant ads_management or ads_read permission', 200);
      let range: { since?: string; until?: string };
      try {
        range = JSON.parse(q.get('time_range') ?? '');
      } catch {
        return fail(400, 'time_range must be JSON {since, until}');
      }
      if (q.get('level') !== 'campaign' || q.get('time_increment') !== '1' || !range.since || !range.until) return fail(400, 'level=campaign, time_increment=1 and time_range are expected');
      const fields = (q.get('fields') ?? '').split(',');
      for (const f of ['campaign_id', 'campaign_name', 'spend', 'clicks', 'impressions', 'account_currency']) if (!fields.includes(f)) return fail(400, `fields must include ${f}`);
      const rows = insights.rows.filter((r) => r.day >= range.since! && r.day <= range.until!);
      const start = Number(Buffer.from(q.get('after') ?? 'MA==', 'base64').toString() || 0);
      const page = rows.slice(start, start + 3).map((r) => ({ campaign_id: r.campaignId, campaign_name: r.campaign, spend: r.spend, clicks: String(r.clicks), impressions: String(r.impressions), account_currency: insights.currency, date_start: r.day, date_stop: r.day }));
      const after = Buffer.from(String(start + 3)).toString('base64');
      const next = new URL(`http://${req.headers.host}${url.pathname}`);
      for (const [k, v] of q) if (k !== 'after') next.searchParams.set(k, v);
      next.searchParams.set('after', after);
      res.writeHead(200, { 'Content-Type': 'application/json' });
      return res.end(JSON.stringify({ data: page, paging: { cursors: { before: Buffer.from(String(start)).toString('base64'), after }, ...(start + 3 < rows.length ? { next: next.href } : {}) } }));
    }
    if (req.method === 'GET' && url.pathname.startsWith(`/${META.version}/`)) {
      // The dataset (pixel) node: GET /{version}/{id}?fields=id,name&access_token=…
      if (url.searchParams.get('access_token') !== META.token) return fail(400, 'Invalid OAuth access token - Cannot parse access token', 190);
      const id = url.pathname.split('/')[2];
      if (id !== META.pixelId) return fail(400, `Unsupported get request. Object with ID '${id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation.`, 100);
      res.writeHead(200, { 'Content-Type': 'application/json' });
      return res.end(JSON.stringify({ id: META.pixelId, name: 'Test Plumbing dataset' }));
    }
    if (req.method !== 'POST' || req.url !== `/${META.version}/${META.pixelId}/events`) return fail(404, `Unknown path ${req.url}`, 803);
    let body: Record<string, any>;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      return fail(400, 'Invalid JSON');
    }
    if (body.access_token !== META.token) return fail(400, 'Invalid OAuth access token - Cannot parse access token', 190);
    if (throttle > 0) {
      throttle--;
      res.writeHead(400, { 'Content-Type': 'application/json' });
      return res.end(JSON.stringify({ error: { message: 'User request limit reached', type: 'OAuthException', code: 17, is_transient: true, fbtrace_id: 'Atest' } }));
    }
    if (!Array.isArray(body.data) || body.data.length === 0 || body.data.length > 1000) return fail(400, 'data must hold 1 to 1000 events');
    const now = Date.now() / 1000;
    for (const e of body.data) {
      if (typeof e.event_name !== 'string' || !e.event_name) return fail(400, 'event_name is required');
      if (!Number.isInteger(e.event_time) || e.event_time > now + 60 || e.event_time < now - 7 * 86400) return fail(400, 'event_time must be a Unix time in seconds within the last 7 days');
      if (!ACTION_SOURCES.includes(e.action_source)) return fail(400, `invalid action_source ${e.action_source}`);
      if (e.action_source === 'website' && !e.event_source_url) return fail(400, 'event_source_url is required for website events');
      const u = e.user_data ?? {};
      for (const key of ['em', 'ph', 'external_id']) {
        for (const v of u[key] ?? []) if (!HEX64.test(v)) return fail(400, `user_data.${key} must be SHA-256 hashes`);
      }
      if (e.event_name === 'Purchase' && (typeof e.custom_data?.value !== 'number' || !/^[A-Z]{3}$/.test(e.custom_data?.currency ?? ''))) return fail(400, 'Purchase needs custom_data.value and currency');
      events.push(e);
    }
    testCodes.push(typeof body.test_event_code === 'string' ? body.test_event_code : '');
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ events_received: body.data.length, messages: [], fbtrace_id: 'Atest' }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return {
    url: `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`,
    events,
    testCodes,
    insights,
    rejected,
    throttleNext: (n: number) => void (throttle = n),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
