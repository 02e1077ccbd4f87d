// Leads end to end: JSON, HTML form, Google's webhook and contact clicks into SQLite, with their
// attribution, idempotency and validation; the owner's API over them.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { cityRecord, writeMmdb } from './support/mmdb.ts';
import { ADMIN_TOKEN, adminGet, eventually, removeDir, send, startServer, tempDir, type RunningServer } from './support/harness.ts';

type Json = Record<string, any>;

const admin = (server: RunningServer, path: string, method = 'GET', body?: unknown) =>
  fetch(server.url + path, {
    method,
    headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });

const postLead = (server: RunningServer, body: unknown, headers: Record<string, string> = {}) =>
  send(`${server.url}/lead`, body, { 'Content-Type': 'application/json', 'X-Forwarded-For': '81.214.10.20', ...headers });

describe('leads', () => {
  let server: RunningServer;
  let fixtures: string;
  before(async () => {
    fixtures = tempDir('fixtures');
    const geo = join(fixtures, 'city.mmdb');
    writeFileSync(geo, writeMmdb({ '81.214.0.0/16': cityRecord('TR', 'Istanbul', 'Istanbul') }));
    server = await startServer({
      GEOIP_CITY_DB: geo,
      TRUST_PROXY: '1',
      DEFAULT_COUNTRY: 'TR',
      CURRENCY: 'TRY',
      GOOGLE_LEAD_FORM_KEY: 'google-lead-form-key-123',
      LEAD_THANKS_URL: 'https://plumber.example.com/thank-you',
      FLUSH_INTERVAL_MS: '100',
    });
  });
  after(async () => {
    await server.stop();
    removeDir(server.dataDir);
    removeDir(fixtures);
  });

  test('a JSON lead is stored with normalised contact details and the full attribution, once per eventId', async () => {
    const eventId = randomUUID();
    const body = {
      eventId,
      name: '  Ayşe Yılmaz ',
      phone: '0532 123 45 67',
      email: ' Ayse@Example.COM ',
      message: 'Boiler leaking',
      service: 'repair',
      consent: { ads: true },
      visitorId: 'v-lead-1',
      sessionId: 's-lead-1',
      pageUrl: 'https://plumber.example.com/emergency',
      attribution: { gclid: 'G-123', utm_source: 'google', utm_campaign: 'leak', landing: 'https://plumber.example.com/?gclid=G-123' },
    };
    const cookie = `lc_attr=${encodeURIComponent(JSON.stringify({ f: { gclid: 'G-OLD' }, l: { utm_term: 'boiler', gclid: 'G-OLD' }, v: 'x' }))}; _fbp=fb.1.1700000000000.123; _fbc=fb.1.1700000000000.FBCLID`;
    const first = await postLead(server, body, { Cookie: cookie });
    assert.equal(first.status, 201);
    const { id } = (await first.json()) as { id: string };
    const again = await postLead(server, body, { Cookie: cookie });
    assert.equal(again.status, 200);
    assert.deepEqual(await again.json(), { id });

    const { lead, history } = await adminGet<Json>(server, `/api/admin/leads/${id}`);
    assert.equal(lead.source, 'form');
    assert.equal(lead.status, 'NEW');
    assert.equal(lead.name, 'Ayşe Yılmaz');
    assert.equal(lead.phone, '+905321234567');
    assert.equal(lead.email, 'ayse@example.com');
    assert.equal(lead.gclid, 'G-123', 'the body wins over the cookie');
    assert.equal(lead.utm_term, 'boiler', 'what the body lacks comes from the tracker cookie');
    assert.equal(lead.fbp, 'fb.1.1700000000000.123');
    assert.equal(lead.fbc, 'fb.1.1700000000000.FBCLID');
    assert.equal(lead.landing_page, body.attribution.landing);
    assert.equal(lead.city, 'Istanbul');
    assert.equal(lead.consent_ads, true);
    assert.equal(lead.visitor_id, 'v-lead-1');
    assert.match(lead.user_agent, /iPhone/);
    assert.equal('client_ip' in lead, false, 'the owner API does not show the IP');
    assert.deepEqual(history.map((h: Json) => [h.field, h.new_value]), [['status', 'NEW']]);

    // The IP is kept in SQLite for the ad platforms (never in ClickHouse or logs).
    const db = new Database(join(server.dataDir, 'leads.db'), { readonly: true });
    assert.equal(db.prepare('SELECT client_ip FROM leads WHERE id = ?').pluck().get(id), '81.214.10.20');
    assert.equal(db.prepare('SELECT count(*) FROM leads WHERE event_id = ?').pluck().get(eventId), 1);
    db.close();

    const leadEvent = await eventually(async () => {
      const { events } = await adminGet<{ events: Json[] }>(server, '/api/admin/events?limit=100');
      return events.find((e) => e.event_id === id);
    }, 10_000, 'the lead event in ClickHouse');
    assert.deepEqual([leadEvent.type, leadEvent.name, leadEvent.utm_campaign, leadEvent.gclid, leadEvent.city], ['lead', 'form', 'leak', 'G-123', 'Istanbul']);
    const stored = JSON.stringify(leadEvent);
    assert.ok(!stored.includes('5321234567') && !stored.includes('81.214.10.20') && !stored.includes('ayse@'), 'no phone, email or IP in ClickHouse');
    assert.ok(!server.output.join('\n').includes('5321234567') && !server.output.join('\n').includes('81.214.10.20'), 'nor in the log');
  });

  test('invalid fields are answered 422 per field, and nothing is stored', async () => {
    const before = (await adminGet<Json>(server, '/api/admin/leads?limit=200')).leads.length;
    const cases: Array<[unknown, string[]]> = [
      [{ name: 'No contact' }, ['phone']],
      [{ phone: '12', email: 'not-an-email' }, ['phone', 'email']],
      [{ phone: '+905321234567', eventId: 'not-a-uuid' }, ['eventId']],
      [{ phone: '+905321234567', name: 'x'.repeat(300) }, ['name']],
      [{ phone: '+905321234567', consent: { ads: 'yes' } }, ['consent']],
    ];
    for (const [body, fields] of cases) {
      const res = await postLead(server, body);
      assert.equal(res.status, 422, JSON.stringify(body));
      const problem = (await res.json()) as { type: string; errors: Record<string, string> };
      assert.equal(problem.type, '/problems/invalid-lead');
      assert.deepEqual(Object.keys(problem.errors).sort(), fields.sort());
    }
    assert.equal((await postLead(server, '{"phone":')).status, 400);
    assert.equal((await postLead(server, '{}', { 'Content-Type': 'multipart/form-data; boundary=x' })).status, 415);
    assert.equal((await adminGet<Json>(server, '/api/admin/leads?limit=200')).leads.length, before);
  });

  test('an HTML form post without JavaScript gets a 303 to its thank-you page, never to another site', async () => {
    const form = (fields: Record<string, string>, headers: Record<string, string>) =>
      fetch(`${server.url}/lead`, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...headers },
        body: new URLSearchParams(fields).toString(),
      });
    const site = { Origin: 'https://plumber.example.com', Referer: 'https://plumber.example.com/contact' };
    const ok = await form({ name: 'Bob', phone: '0532 765 43 21', thanks: 'https://plumber.example.com/merci', district: 'Kadıköy', gclid: 'G-FORM' }, site);
    assert.equal(ok.status, 303);
    assert.equal(ok.headers.get('location'), 'https://plumber.example.com/merci');
    const foreign = await form({ phone: '0532 765 43 22', thanks: 'https://evil.example.net/' }, site);
    assert.equal(foreign.headers.get('location'), 'https://plumber.example.com/thank-you', 'LEAD_THANKS_URL, not the foreign URL');
    const invalid = await form({ phone: '1' }, site);
    assert.equal(invalid.status, 422);
    assert.match(invalid.headers.get('content-type') ?? '', /text\/html/);
    assert.match(await invalid.text(), /phone/);

    const { leads } = await adminGet<Json>(server, '/api/admin/leads?q=Bob');
    assert.equal(leads.length, 1);
    assert.deepEqual([leads[0].phone, leads[0].gclid, leads[0].extra, leads[0].page_url], ['+905327654321', 'G-FORM', 'district: Kadıköy', 'https://plumber.example.com/contact']);
  });

  test("Google's lead form webhook: a good key stores the lead with its gclid, a replay does not, a bad key is refused", async () => {
    const payload = {
      lead_id: 'TeSter-123-ABCDEFGHIJKLMNOPQRSTUVWXYZ-abcdefghijklmnopqrstuvwxyz-0123456789-AaBbCcDdEeFfGgHhIiJjKkLl',
      user_column_data: [
        { column_name: 'Full Name', string_value: 'Cem Kaya', column_id: 'FULL_NAME' },
        { column_name: 'User Phone', string_value: '+905321112233', column_id: 'PHONE_NUMBER' },
        { column_name: 'User Email', string_value: 'Cem@Example.com', column_id: 'EMAIL' },
        { column_name: 'Postal Code', string_value: '34710', column_id: 'POSTAL_CODE' },
      ],
      api_version: '1.0',
      form_id: 40000000000,
      campaign_id: 20000000000,
      google_key: 'google-lead-form-key-123',
      is_test: true,
      gcl_id: 'TeSter-GCLID',
      adgroup_id: 30000000000,
      creative_id: 50000000000,
    };
    const hook = (body: unknown) => send(`${server.url}/hooks/google-lead-form`, body, { 'Content-Type': 'application/json' });
    const res = await hook(payload);
    assert.equal(res.status, 200);
    const { id } = (await res.json()) as { id: string };
    assert.deepEqual(await (await hook(payload)).json(), { id });
    assert.equal((await hook({ ...payload, google_key: 'wrong' })).status, 403);

    const { lead } = await adminGet<Json>(server, `/api/admin/leads/${id}`);
    assert.deepEqual(
      [lead.source, lead.name, lead.phone, lead.email, lead.gclid, lead.is_test, lead.google_campaign_id, lead.google_form_id, lead.extra],
      ['google_lead_form', 'Cem Kaya', '+905321112233', 'cem@example.com', 'TeSter-GCLID', true, '20000000000', '40000000000', 'Postal Code: 34710'],
    );
    const all = await adminGet<Json>(server, '/api/admin/leads?q=Cem');
    assert.equal(all.leads.length, 1);
  });

  test('a WhatsApp click beacon becomes a lead with its reference code and attribution, once', async () => {
    const beacon = {
      id: randomUUID(),
      type: 'whatsapp',
      url: 'https://plumber.example.com/?gclid=G-WA&utm_campaign=whatsapp-ads',
      visitorId: 'v-wa',
      props: { ref: 'k7q2m', href: 'https://wa.me/905320000000' },
      attribution: { fbp: 'fb.1.1.2', landing: 'https://plumber.example.com/?gclid=G-WA' },
    };
    assert.equal((await send(`${server.url}/collect`, beacon, { 'X-Forwarded-For': '81.214.9.9' })).status, 204);
    assert.equal((await send(`${server.url}/collect`, beacon, { 'X-Forwarded-For': '81.214.9.9' })).status, 204);
    const { leads } = await eventually(async () => {
      const page = await adminGet<Json>(server, '/api/admin/leads?q=K7Q2M');
      return page.leads.length > 0 ? page : undefined;
    }, 5000, 'the WhatsApp lead');
    assert.equal(leads.length, 1, 'the resent beacon made no second lead');
    assert.deepEqual(
      [leads[0].source, leads[0].ref_code, leads[0].phone, leads[0].gclid, leads[0].utm_campaign, leads[0].fbp, leads[0].city, leads[0].extra],
      ['whatsapp', 'K7Q2M', null, 'G-WA', 'whatsapp-ads', 'fb.1.1.2', 'Istanbul', 'Clicked: https://wa.me/905320000000'],
    );
  });

  test('the owner lists, searches and pages leads newest first, changes them with history, and records a sale once', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await postLead(server, { name: `Page Test ${i}`, phone: `+90532555000${i}`, visitorId: 'v-journey' });
      ids.push(((await res.json()) as { id: string }).id);
    }
    const first = await adminGet<Json>(server, '/api/admin/leads?q=Page%20Test&limit=2');
    assert.deepEqual(first.leads.map((l: Json) => l.name), ['Page Test 4', 'Page Test 3']);
    const second = await adminGet<Json>(server, `/api/admin/leads?q=Page%20Test&limit=2&cursor=${first.nextCursor}`);
    assert.deepEqual(second.leads.map((l: Json) => l.name), ['Page Test 2', 'Page Test 1']);
    const third = await adminGet<Json>(server, `/api/admin/leads?q=Page%20Test&limit=2&cursor=${second.nextCursor}`);
    assert.deepEqual([third.leads.map((l: Json) => l.name), third.nextCursor], [['Page Test 0'], null]);
    assert.deepEqual((await adminGet<Json>(server, '/api/admin/leads?q=0532%20555%2000%2003')).leads.map((l: Json) => l.name), ['Page Test 3'], 'phone digits');

    const id = ids[0]!;
    const patched = await admin(server, `/api/admin/leads/${id}`, 'PATCH', { status: 'CONTACTED', note: 'Call back at 5', phone: '0532 999 88 77' });
    assert.equal(patched.status, 200);
    assert.deepEqual(await (await admin(server, `/api/admin/leads/${id}`, 'PATCH', { status: 'MAYBE' })).status, 422);
    assert.equal((await admin(server, `/api/admin/leads/${id}`, 'PATCH', '{')).status, 400);
    assert.equal((await admin(server, `/api/admin/leads/${randomUUID()}`, 'PATCH', { note: 'x' })).status, 404);

    assert.equal((await admin(server, `/api/admin/leads/${id}/sale`, 'POST', { value: -5 })).status, 422);
    assert.equal((await admin(server, `/api/admin/leads/${id}/sale`, 'POST', { value: 100, currency: 'lira' })).status, 422);
    const sale = { value: 1250.5, at: new Date(Date.now() - 3600_000).toISOString() };
    const sold = await admin(server, `/api/admin/leads/${id}/sale`, 'POST', sale);
    assert.equal(sold.status, 201);
    const soldLead = ((await sold.json()) as Json).lead;
    assert.deepEqual([soldLead.status, soldLead.sale_value, soldLead.sale_currency, soldLead.sold_at], ['SOLD', 1250.5, 'TRY', Date.parse(sale.at)]);
    assert.equal((await admin(server, `/api/admin/leads/${id}/sale`, 'POST', sale)).status, 200, 'the same sale again changes nothing');

    const detail = await adminGet<Json>(server, `/api/admin/leads/${id}`);
    assert.equal(detail.lead.phone, '+905329998877');
    assert.equal(detail.lead.note, 'Call back at 5');
    assert.deepEqual(
      detail.history.map((h: Json) => [h.field, h.old_value, h.new_value]),
      [
        ['status', null, 'NEW'],
        ['status', 'NEW', 'CONTACTED'],
        ['phone', '+905325550000', '+905329998877'],
        ['note', null, 'Call back at 5'],
        ['status', 'CONTACTED', 'SOLD'],
        ['sale', null, `1250.5 TRY at ${sale.at}`],
      ],
    );
    assert.deepEqual((await adminGet<Json>(server, '/api/admin/leads?status=SOLD')).leads.map((l: Json) => l.id), [id]);
    assert.equal((await admin(server, '/api/admin/leads?status=WON')).status, 400);
  });

  test("the lead detail shows the visitor's journey from ClickHouse, in order", async () => {
    const visitorId = `v-${randomUUID()}`;
    for (const path of ['/', '/services', '/contact']) {
      assert.equal((await send(`${server.url}/collect`, { type: 'pageview', url: `https://plumber.example.com${path}`, visitorId, ts: Date.now() })).status, 204);
      await new Promise((r) => setTimeout(r, 20));
    }
    const { id } = (await (await postLead(server, { phone: '+905321230000', visitorId })).json()) as { id: string };
    const detail = await eventually(async () => {
      const d = await adminGet<Json>(server, `/api/admin/leads/${id}`);
      return d.journey.length === 3 ? d : undefined;
    }, 10_000, 'the journey');
    assert.deepEqual(detail.journey.map((e: Json) => new URL(e.url).pathname), ['/', '/services', '/contact']);
  });

  test('admin lead endpoints need the token', async () => {
    for (const [method, path] of [['GET', '/api/admin/leads'], ['PATCH', `/api/admin/leads/${randomUUID()}`], ['POST', `/api/admin/leads/${randomUUID()}/sale`], ['GET', '/api/admin/deliveries']]) {
      assert.equal((await fetch(server.url + path, { method, body: method === 'GET' ? undefined : '{}' })).status, 401, `${method} ${path}`);
    }
  });
});

test('a lead is never refused over its phone format: national numbers use the visitor\'s GeoIP country when DEFAULT_COUNTRY is unset; an unreadable one is kept as typed; only no way to reach the person is a 422', async () => {
  const dir = tempDir('geo');
  const geo = join(dir, 'city.mmdb');
  writeFileSync(geo, writeMmdb({ '81.214.0.0/16': cityRecord('TR', 'Istanbul', 'Istanbul') }));
  const server = await startServer({ TRUST_PROXY: '1', GEOIP_CITY_DB: geo }); // no DEFAULT_COUNTRY
  const post = (body: Json, ip: string) => fetch(`${server.url}/lead`, { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-Forwarded-For': ip }, body: JSON.stringify(body) });
  const stored = async (res: Response) => (await adminGet<Json>(server, `/api/admin/leads/${((await res.json()) as Json).id}`)).lead;
  try {
    const turkish = await post({ phone: '0532 999 88 77', message: 'Kombi arızası' }, '81.214.10.20');
    assert.equal(turkish.status, 201);
    assert.equal((await stored(turkish)).phone, '+905329998877', 'read with the visitor\'s country');
    const unknown = await post({ phone: '0532 999 88 78' }, '203.0.113.7');
    assert.equal(unknown.status, 201, 'not refused: the owner can still call');
    const kept = await stored(unknown);
    assert.equal(kept.phone, null, 'not a number we can hash for ad platforms');
    assert.match(kept.extra, /Phone as entered \(not recognised as a number; check it before calling\): 0532 999 88 78/);
    const badEmail = await post({ phone: '+905329998879', email: 'ayse at example' }, '203.0.113.8');
    assert.equal(badEmail.status, 201);
    assert.match((await stored(badEmail)).extra, /Email as entered: ayse at example/);
    const unreachable = await post({ phone: '12' }, '203.0.113.9');
    assert.equal(unreachable.status, 422, 'no way to reach the person');
  } finally {
    await server.stop();
    removeDir(server.dataDir);
    removeDir(dir);
  }
});
