// The owner's login and the dashboard numbers, over HTTP against the real server.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { adminGet, eventually, removeDir, send, startServer, type RunningServer } from './support/harness.ts';

type Json = Record<string, any>;
const PASSWORD = 'violet-harbour-lantern-42';

function setupCode(server: RunningServer): string {
  const line = server.output.find((l) => l.includes('setupUrl'))!;
  return /#\/setup\/([A-Za-z0-9_-]+)/.exec(line)![1]!;
}

function cookieOf(res: Response): string {
  const set = res.headers.get('set-cookie') ?? '';
  return set.split(';', 1)[0]!;
}

describe('owner login', () => {
  let server: RunningServer;
  before(async () => {
    server = await startServer({ ADMIN_TOKEN: '' });
  });
  after(async () => {
    await server.stop();
    removeDir(server.dataDir);
  });

  const call = (path: string, method: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(server.url + path, { method, headers: { 'Content-Type': 'application/json', ...headers }, body: body === undefined ? undefined : JSON.stringify(body) });

  test('first start: the setup link sets the password once, rejects weak ones, and logs in with a strict cookie', async () => {
    assert.deepEqual(await (await call('/api/admin/session', 'GET', undefined)).json(), { authenticated: false, passwordSet: false });
    const code = setupCode(server);
    const csrf = { 'X-LC-CSRF': '1' };
    assert.equal((await call('/api/admin/setup', 'POST', { code, password: PASSWORD })).status, 403, 'no anti-CSRF header');
    assert.equal((await call('/api/admin/setup', 'POST', { code: 'wrong', password: PASSWORD }, csrf)).status, 403);
    const weak = await call('/api/admin/setup', 'POST', { code, password: 'short' }, csrf);
    assert.equal(weak.status, 422);
    assert.equal((await call('/api/admin/setup', 'POST', { code, password: 'iloveyou1234' }, csrf)).status, 422, 'common password refused');
    const ok = await call('/api/admin/setup', 'POST', { code, password: PASSWORD }, csrf);
    assert.equal(ok.status, 201);
    const setCookie = ok.headers.get('set-cookie')!;
    assert.match(setCookie, /^lc_session=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Strict; Max-Age=\d+$/);
    assert.equal((await call('/api/admin/setup', 'POST', { code, password: 'another-long-password-1' }, csrf)).status, 403, 'the code works once');

    const cookie = cookieOf(ok);
    assert.deepEqual(await (await call('/api/admin/session', 'GET', undefined, { Cookie: cookie })).json(), { authenticated: true, passwordSet: true });
    assert.equal((await call('/api/admin/leads', 'GET', undefined, { Cookie: cookie })).status, 200);
    const patch = await call(`/api/admin/leads/${randomUUID()}`, 'PATCH', { note: 'x' }, { Cookie: cookie });
    assert.equal(patch.status, 403, 'a state change without the anti-CSRF header is refused');
    assert.equal(((await patch.json()) as Json).type, '/problems/csrf');
    assert.equal((await call(`/api/admin/leads/${randomUUID()}`, 'PATCH', { note: 'x' }, { Cookie: cookie, ...csrf })).status, 404, 'with it, the request goes through');
  });

  test('login: wrong passwords are refused and slowed down, the right one rotates the session, logout ends it', async () => {
    const csrf = { 'X-LC-CSRF': '1' };
    for (let i = 0; i < 3; i++) assert.equal((await call('/api/admin/session', 'POST', { password: 'wrong-password-123' }, csrf)).status, 401);
    const fourth = await call('/api/admin/session', 'POST', { password: 'wrong-password-123' }, csrf);
    assert.equal(fourth.status, 401, 'the 4th failure is still checked');
    const throttled = await call('/api/admin/session', 'POST', { password: PASSWORD }, csrf);
    assert.equal(throttled.status, 429, 'then a delay applies, even to the right password');
    assert.equal(throttled.headers.get('retry-after'), '1');
    await new Promise((r) => setTimeout(r, 1100));
    const first = await call('/api/admin/session', 'POST', { password: PASSWORD }, csrf);
    assert.equal(first.status, 200, 'after the short delay the owner gets in');
    const second = await call('/api/admin/session', 'POST', { password: PASSWORD }, csrf);
    assert.notEqual(cookieOf(first), cookieOf(second), 'every login gets a new session id');

    const logout = await call('/api/admin/session', 'DELETE', undefined, { Cookie: cookieOf(first), ...csrf });
    assert.equal(logout.status, 204);
    assert.match(logout.headers.get('set-cookie')!, /Max-Age=0/);
    assert.equal((await call('/api/admin/leads', 'GET', undefined, { Cookie: cookieOf(first) })).status, 401, 'the ended session is gone');
    assert.equal((await call('/api/admin/leads', 'GET', undefined, { Cookie: cookieOf(second) })).status, 200, 'the other device stays in');
    assert.equal((await call('/api/admin/sessions', 'DELETE', undefined, { Cookie: cookieOf(second), ...csrf })).status, 204);
    assert.equal((await call('/api/admin/leads', 'GET', undefined, { Cookie: cookieOf(second) })).status, 401, 'logged out everywhere');
  });

  test('npm run set-password resets the password from a shell and logs every device out', async () => {
    const csrf = { 'X-LC-CSRF': '1' };
    const session = cookieOf(await call('/api/admin/session', 'POST', { password: PASSWORD }, csrf));
    const root = fileURLToPath(new URL('..', import.meta.url));
    const out = execFileSync(process.execPath, ['--import', 'tsx', 'scripts/set-password.ts'], { cwd: root, input: 'a-brand-new-passphrase-7\n', env: { ...process.env, DATA_DIR: server.dataDir }, encoding: 'utf8' });
    assert.match(out, /password set/);
    assert.equal((await call('/api/admin/leads', 'GET', undefined, { Cookie: session })).status, 401);
    assert.equal((await call('/api/admin/session', 'POST', { password: PASSWORD }, csrf)).status, 401);
    assert.equal((await call('/api/admin/session', 'POST', { password: 'a-brand-new-passphrase-7' }, csrf)).status, 200);
  });
});

test("the dashboard counts visits, leads, sales and revenue by campaign, source, city and the business's day", async () => {
  // A zone whose date differs from UTC's right now (and is not near its midnight): its day is the one counted.
  const zone = new Date().getUTCHours() >= 10 ? 'Pacific/Kiritimati' : 'Pacific/Pago_Pago';
  const server = await startServer({ DEFAULT_COUNTRY: 'TR', CURRENCY: 'TRY', FLUSH_INTERVAL_MS: '100', TIMEZONE: zone });
  try {
    const visit = (session: string, campaign: string) =>
      send(`${server.url}/collect`, { type: 'pageview', url: `https://plumber.example.com/?utm_campaign=${campaign}`, sessionId: session, visitorId: session });
    for (const [session, campaign] of [['s1', 'spring'], ['s2', 'spring'], ['s3', 'autumn']] as const) {
      assert.equal((await visit(session, campaign)).status, 204);
      assert.equal((await visit(session, campaign)).status, 204); // a second page of the same visit
    }
    const lead = async (campaign: string, phone: string) =>
      ((await (await send(`${server.url}/lead`, { phone, attribution: { utm_campaign: campaign } }, { 'Content-Type': 'application/json' })).json()) as { id: string }).id;
    const a = await lead('spring', '+905320000001');
    await lead('spring', '+905320000002');
    const c = await lead('autumn', '+905320000003');
    const sale = (id: string, value: number, currency?: string) =>
      fetch(`${server.url}/api/admin/leads/${id}/sale`, { method: 'POST', headers: { Authorization: 'Bearer test-admin-token-0123456789', 'Content-Type': 'application/json' }, body: JSON.stringify({ value, currency }) });
    assert.equal((await sale(a, 1000)).status, 201);
    assert.equal((await sale(c, 250.5)).status, 201);

    const stats = await eventually(async () => {
      const s = await adminGet<Json>(server, '/api/admin/stats');
      return s.totals.visits === 3 ? s : undefined;
    }, 10_000, 'the visits in ClickHouse');
    // No spend synced here: spend 0, and no cost per lead, cost per sale or ROAS (tested in spend.test.ts).
    assert.deepEqual(stats.totals, { visits: 3, leads: 3, sales: 2, revenue: 1250.5, spend: 0, costPerLead: null, costPerSale: null, roas: null, leadRate: 1, saleRate: 0.6667 });
    assert.equal(stats.currency, 'TRY');
    assert.deepEqual(stats.byCampaign, [
      { campaign: 'spring', platform: null, adClicks: null, visits: 2, leads: 2, sales: 1, revenue: 1000, spend: 0, costPerLead: null, costPerSale: null, roas: null },
      { campaign: 'autumn', platform: null, adClicks: null, visits: 1, leads: 1, sales: 1, revenue: 250.5, spend: 0, costPerLead: null, costPerSale: null, roas: null },
    ]);
    assert.deepEqual(stats.bySource, [{ source: 'form', leads: 3, sales: 2, revenue: 1250.5 }]);
    const today = new Intl.DateTimeFormat('en-CA', { timeZone: zone }).format(Date.now());
    assert.notEqual(today, new Date().toISOString().slice(0, 10));
    assert.equal(stats.timeZone, zone);
    assert.deepEqual(stats.byDay, [{ day: today, visits: 3, leads: 3, sales: 2, revenue: 1250.5, spend: 0 }]);
    const empty = await adminGet<Json>(server, `/api/admin/stats?from=2020-01-01T00:00:00Z&to=2020-01-08T00:00:00Z`);
    assert.deepEqual(empty.totals, { visits: 0, leads: 0, sales: 0, revenue: 0, spend: 0, costPerLead: null, costPerSale: null, roas: null, leadRate: null, saleRate: null });
    assert.equal((await fetch(`${server.url}/api/admin/stats?from=x`, { headers: { Authorization: 'Bearer test-admin-token-0123456789' } })).status, 400);
  } finally {
    await server.stop();
    removeDir(server.dataDir);
  }
});
