// Privacy, measured: unique markers planted as a phone, an email and an IP never reach logs,
// ClickHouse or the journal; erasure removes a person from SQLite, ClickHouse and later backups
// and says what it removed; retention anonymises closed leads and expires events.
import assert from 'node:assert/strict';
import { randomInt, randomUUID } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import Database from 'better-sqlite3';
import type { Manifest } from '../src/backup/backup.ts';
import { ADMIN_TOKEN, adminGet, clickhouseIn, eventually, removeDir, runScript, send, startServer, type RunningServer } from './support/harness.ts';
import { META, startMeta } from './support/meta.ts';
import { startS3 } from './support/s3.ts';
import { startTelegram } from './support/telegram.ts';

type Json = Record<string, any>;

function markers() {
  const digits = `53${randomInt(10_000_000, 99_999_999)}`;
  return { digits, phone: `+90${digits}`, email: `pii-${randomUUID().slice(0, 8)}@example.org`, ip: `203.0.113.${randomInt(1, 254)}` };
}

function filesUnder(dir: string): string[] {
  let found: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    found = statSync(path).isDirectory() ? found.concat(filesUnder(path)) : found.concat(path);
  }
  return found;
}

const json = { 'Content-Type': 'application/json' };
const admin = (server: RunningServer, path: string, body: unknown, method = 'POST') =>
  fetch(`${server.url}${path}`, { method, headers: { ...json, Authorization: `Bearer ${ADMIN_TOKEN}` }, body: JSON.stringify(body) });

test('markers planted as phone, email and IP appear in no log line, no ClickHouse row and no journal file', async () => {
  const m = markers();
  const meta = await startMeta();
  const telegram = await startTelegram('123:TEST');
  const server = await startServer({
    TRUST_PROXY: '1', DEFAULT_COUNTRY: 'TR', FLUSH_INTERVAL_MS: '100', NOTIFY_INCLUDE_NAME: 'false',
    META_PIXEL_ID: META.pixelId, META_ACCESS_TOKEN: META.token, META_API_VERSION: META.version, META_GRAPH_URL: meta.url,
    TELEGRAM_API_URL: telegram.url, TELEGRAM_BOT_TOKEN: '123:TEST', TELEGRAM_CHAT_ID: '42',
  });
  const from = { 'X-Forwarded-For': m.ip, 'User-Agent': 'Mozilla/5.0 (Linux; Android 14) Chrome/130.0 Mobile' };
  try {
    assert.equal((await send(`${server.url}/collect`, [{ type: 'pageview', url: 'https://usta.example.com/?gclid=G-PII', visitorId: 'v-pii' }], { ...json, ...from })).status, 204);
    const lead = await send(`${server.url}/lead`, { phone: m.phone, email: m.email, name: 'Ayşe', consent: { ads: true }, visitorId: 'v-pii', pageUrl: 'https://usta.example.com/' }, { ...json, ...from });
    assert.equal(lead.status, 201);
    const { id } = (await lead.json()) as { id: string };
    const form = await fetch(`${server.url}/lead`, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...from }, body: `phone=${encodeURIComponent(`0${m.digits}`)}&email=${encodeURIComponent(m.email)}&message=call+me`, redirect: 'manual' });
    assert.ok([201, 303].includes(form.status));
    // A refused lead (no way to reach the person) carrying the markers: they stay out of the logs too.
    assert.equal((await send(`${server.url}/lead`, { name: m.phone, email: `not an email ${m.email}@@` }, { ...json, ...from })).status, 422);
    await fetch(`${server.url}/api/admin/session`, { method: 'POST', headers: { ...json, ...from, 'X-LC-CSRF': '1' }, body: JSON.stringify({ password: m.phone }) });
    assert.equal((await admin(server, `/api/admin/leads/${id}/sale`, { value: 900 })).status, 201);
    await eventually(async () => (meta.events.filter((e) => e.event_name === 'Purchase').length === 1 ? true : undefined), 10_000, 'the Purchase at Meta');
    await eventually(async () => ((await adminGet<Json>(server, '/api/admin/events?limit=50')).events.length >= 3 ? true : undefined), 10_000, 'events in ClickHouse');
    assert.equal(await server.stop(), 0);

    const db = new Database(join(server.dataDir, 'leads.db'), { readonly: true });
    assert.equal(db.prepare('SELECT count(*) FROM leads WHERE phone = ? AND email = ? AND client_ip = ?').pluck().get(m.phone, m.email, m.ip), 2, 'the markers were used (SQLite holds them, as it must)');
    db.close();
    const [events] = await clickhouseIn(server.dataDir, [{ sql: 'SELECT * FROM lean_capture.events' }]);
    assert.ok(events!.includes('v-pii') && events!.includes('G-PII'), 'ClickHouse holds the events');
    const journal = filesUnder(join(server.dataDir, 'journal')).map((f) => readFileSync(f).toString('latin1')).join('\n');
    const logs = server.output.join('\n');
    for (const [where, text] of [['logs', logs], ['ClickHouse', events!], ['journal', journal]] as const) {
      for (const [what, marker] of [['phone', m.digits], ['email', m.email], ['IP', m.ip]] as const) {
        assert.ok(!text.includes(marker), `${what} marker found in ${where}`);
      }
    }
    assert.ok(!logs.includes(m.email.toUpperCase()) && !logs.includes(ADMIN_TOKEN), 'no email or token in the logs');
  } finally {
    await server.stop();
    removeDir(server.dataDir);
    await meta.close();
    await telegram.close();
  }
});

test('erasure removes a person from SQLite, ClickHouse and later backups, and reports what it removed', async () => {
  const m = markers();
  const s3 = await startS3();
  const telegram = await startTelegram('123:TEST');
  const env = { ...s3.env, DEFAULT_COUNTRY: 'TR', FLUSH_INTERVAL_MS: '100', TELEGRAM_API_URL: telegram.url, TELEGRAM_BOT_TOKEN: '123:TEST', TELEGRAM_CHAT_ID: '42' };
  const server = await startServer(env);
  const visitor = `v-erase-${randomUUID().slice(0, 8)}`;
  try {
    const beacons = Array.from({ length: 5 }, (_, i) => ({ type: 'pageview', url: `https://usta.example.com/${i}`, visitorId: visitor }));
    assert.equal((await send(`${server.url}/collect`, beacons, json)).status, 204);
    const first = (await (await send(`${server.url}/lead`, { phone: m.phone, email: m.email, name: 'Erase Me', visitorId: visitor }, json)).json()) as { id: string };
    const second = (await (await send(`${server.url}/lead`, { phone: `0${m.digits}`, message: 'again' }, json)).json()) as { id: string };
    const other = (await (await send(`${server.url}/lead`, { phone: '+905329999999', name: 'Someone else' }, json)).json()) as { id: string };
    assert.equal((await admin(server, `/api/admin/leads/${first.id}`, { status: 'CONTACTED', note: 'called back' }, 'PATCH')).status, 200);
    await eventually(async () => ((await adminGet<Json>(server, '/api/admin/events?limit=50')).events.length >= 8 ? true : undefined), 10_000, 'events in ClickHouse');
    await eventually(async () => (telegram.calls.length >= 3 ? true : undefined), 10_000, 'the notifications');
    const backup = await runScript('backup.ts', ['--json'], { ...env, DATA_DIR: server.dataDir, PORT: String(server.port) });
    assert.equal(backup.code, 0, backup.stderr);

    assert.equal((await admin(server, '/api/admin/erase', {})).status, 422);
    assert.equal((await admin(server, '/api/admin/erase', { phone: 'not a phone' })).status, 422);
    const res = await admin(server, '/api/admin/erase', { phone: `0${m.digits}` });
    assert.equal(res.status, 200);
    const { erased } = (await res.json()) as { erased: Json };
    assert.equal(erased.leads, 2);
    assert.equal(erased.visitorIds, 1);
    assert.equal(erased.events, 5 + 2, 'five pageviews of the visitor and the two lead events');
    assert.ok(erased.history >= 4 && erased.deliveries >= 2, JSON.stringify(erased));

    const { leads } = await adminGet<Json>(server, '/api/admin/leads');
    assert.deepEqual(leads.map((l: Json) => l.id), [other.id]);
    const { events } = await adminGet<Json>(server, '/api/admin/events?limit=100');
    assert.ok(!events.some((e: Json) => e.visitor_id === visitor || e.event_id === first.id || e.event_id === second.id));
    assert.ok(events.some((e: Json) => e.event_id === other.id), 'others stay');

    // The next backup no longer holds them (every object of the kept backup, decompressed).
    const again = await runScript('backup.ts', ['--json'], { ...env, DATA_DIR: server.dataDir, PORT: String(server.port) });
    assert.equal(again.code, 0, again.stderr);
    const id = JSON.parse(again.stdout).result.id as string;
    const manifest = JSON.parse((await s3.get(`backups/${id}.json`)).toString()) as Manifest;
    const contents = await Promise.all([manifest.sqlite.key, ...manifest.tables.events!.map((p) => p.object.key)].map(async (k) => gunzipSync(await s3.get(k)).toString('latin1')));
    for (const marker of [m.digits, m.email, visitor, first.id]) assert.ok(!contents.some((c) => c.includes(marker)), `${marker} in the new backup`);
    assert.ok(contents.some((c) => c.includes('+905329999999')), 'the backup holds the others');
  } finally {
    await server.stop();
    removeDir(server.dataDir);
    await telegram.close();
    await s3.close();
  }
});

test('retention: a lead closed longer ago than LEAD_RETENTION_DAYS is anonymised (its sale stays); events expire after EVENT_RETENTION_DAYS', async () => {
  const first = await startServer({ DEFAULT_COUNTRY: 'TR', LEAD_RETENTION_DAYS: '30', EVENT_RETENTION_DAYS: '30' });
  const dataDir = first.dataDir;
  try {
    const old = (await (await send(`${first.url}/lead`, { phone: '+905321110000', email: 'old@example.com', name: 'Old', message: 'boiler' }, json)).json()) as { id: string };
    const recent = (await (await send(`${first.url}/lead`, { phone: '+905321110001', name: 'Recent' }, json)).json()) as { id: string };
    const open = (await (await send(`${first.url}/lead`, { phone: '+905321110002', name: 'Still open' }, json)).json()) as { id: string };
    for (const id of [old.id, recent.id]) assert.equal((await admin(first, `/api/admin/leads/${id}/sale`, { value: 500 })).status, 201);
    await first.stop();
    const db = new Database(join(dataDir, 'leads.db'));
    db.prepare('UPDATE leads SET updated_at = ? WHERE id IN (?, ?)').run(Date.now() - 31 * 86_400_000, old.id, open.id);
    db.close();
    const day = 86_400_000;
    const row = (daysAgo: number) => JSON.stringify({ event_id: randomUUID(), event_time: new Date(Date.now() - daysAgo * day).toISOString().replace('T', ' ').replace('Z', ''), received_at: new Date().toISOString().replace('T', ' ').replace('Z', ''), type: 'pageview', visitor_id: `age-${daysAgo}` });
    const [, , engine] = await clickhouseIn(dataDir, [
      { insert: 'events', rows: [row(45), row(40), row(2)].join('\n') + '\n' },
      { sql: 'OPTIMIZE TABLE lean_capture.events FINAL' },
      { sql: "SELECT engine_full FROM system.tables WHERE database = 'lean_capture' AND name = 'events'" },
    ]);
    assert.match(engine!, /TTL toDateTime\(event_time\) \+ toIntervalDay\(30\)/);
    const [left] = await clickhouseIn(dataDir, [{ sql: "SELECT visitor_id FROM lean_capture.events WHERE visitor_id LIKE 'age-%' ORDER BY visitor_id" }]);
    assert.deepEqual(left!.trim().split('\n').map((l) => JSON.parse(l).visitor_id), ['age-2'], 'events older than 30 days expired');

    const second = await startServer({ DATA_DIR: dataDir, DEFAULT_COUNTRY: 'TR', LEAD_RETENTION_DAYS: '30', EVENT_RETENTION_DAYS: '0' });
    try {
      const get = async (id: string) => (await adminGet<Json>(second, `/api/admin/leads/${id}`)).lead;
      const anonymised = await get(old.id);
      assert.deepEqual([anonymised.name, anonymised.phone, anonymised.email, anonymised.message, anonymised.status, anonymised.sale_value], [null, null, null, null, 'SOLD', 500]);
      assert.ok(anonymised.anonymised_at > 0);
      assert.equal((await get(recent.id)).phone, '+905321110001', 'closed too recently');
      assert.equal((await get(open.id)).phone, '+905321110002', 'an open lead keeps its data');
      const stats = await adminGet<Json>(second, '/api/admin/stats');
      assert.equal(stats.totals?.sales ?? stats.sales, 2, 'the figures do not change');
    } finally {
      await second.stop();
    }
    const [engineAfter] = await clickhouseIn(dataDir, [{ sql: "SELECT engine_full FROM system.tables WHERE database = 'lean_capture' AND name = 'events'" }]);
    assert.doesNotMatch(engineAfter!, /TTL/, 'EVENT_RETENTION_DAYS=0 removes the TTL');
  } finally {
    await first.stop();
    removeDir(dataDir);
  }
});
