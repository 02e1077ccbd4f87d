// Backups end to end: the real server ingesting under load, `npm run backup` asking it for the
// snapshot, a local S3 (s3rver), `npm run restore` into a fresh DATA_DIR, and the restored data
// compared with the original: leads row by row, events by count and checksum per day.
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { createClient } from '@clickhouse/client';
import { manifestMac, type Manifest } from '../src/backup/backup.ts';
import { adminGet, clickhouseIn, eventually, removeDir, runScript, send, startClickHouseServer, startServer, tempDir, type RunningServer } from './support/harness.ts';
import { startS3, startS3Process } from './support/s3.ts';
import { startTelegram } from './support/telegram.ts';

type Json = Record<string, any>;
const KEY = randomBytes(32).toString('base64');

function seedRows(month: string, n: number): string {
  return Array.from({ length: n }, (_, i) => {
    const at = `2026-${month}-${String(1 + (i % 28)).padStart(2, '0')} ${String(i % 24).padStart(2, '0')}:00:00.000`;
    return JSON.stringify({ event_id: randomUUID(), event_time: at, received_at: at, type: 'pageview', visitor_id: `v-${month}-${i % 50}`, url: 'https://usta.example.com/kombi', path: '/kombi', city: 'Istanbul', props: { n: String(i) } });
  }).join('\n') + '\n';
}

/** Count and checksum of events per day, for rows received up to `cutoff`. */
async function eventsByDay(dataDir: string, cutoff: string): Promise<string> {
  const [text] = await clickhouseIn(dataDir, [{
    sql: `SELECT toString(toDate(event_time)) AS day, count() AS n, toString(sum(cityHash64(toString(event_id), toString(event_time), toString(received_at), type, visitor_id, url, city, toString(props)))) AS h
          FROM lean_capture.events WHERE received_at <= parseDateTime64BestEffort('${cutoff}', 3, 'UTC') GROUP BY day ORDER BY day`,
  }]);
  return text!;
}

function leadsOf(dataDir: string): unknown[] {
  const db = new Database(join(dataDir, 'leads.db'), { readonly: true });
  try {
    return db.prepare('SELECT * FROM leads ORDER BY id').all();
  } finally {
    db.close();
  }
}

/** Sends batches of beacons until stopped; returns how many were accepted. */
function load(server: RunningServer): { stop: () => Promise<number> } {
  let running = true;
  let accepted = 0;
  const worker = async () => {
    while (running) {
      const batch = Array.from({ length: 20 }, (_, i) => ({ id: randomUUID(), type: 'pageview', url: `https://usta.example.com/p${i}`, visitorId: `load-${i}` }));
      const res = await send(`${server.url}/collect`, batch, { 'Content-Type': 'application/json' });
      if (res.status === 204) accepted += batch.length;
    }
  };
  const workers = [worker(), worker()];
  return { stop: async () => ((running = false), await Promise.all(workers), accepted) };
}

test('backup while the server ingests, restore into a fresh DATA_DIR: every lead and event at snapshot time is back; the second backup uploads only changed partitions', async () => {
  const s3 = await startS3();
  const dataDir = tempDir('data');
  const env = { ...s3.env, BACKUP_ENCRYPTION_KEY: KEY, DATA_DIR: dataDir };
  // Two months of history from before this run, in partitions that will not change.
  // Ad spend is backed up too (a re-synced day: the newer row wins under FINAL).
  const spend = [
    { platform: 'google', day: '2026-11-01', campaign_id: '111', campaign: 'Acil Tesisatçı', currency: 'TRY', cost: 40, clicks: 9, impressions: 90, synced_at: '2026-11-01 10:00:00.000' },
    { platform: 'google', day: '2026-11-01', campaign_id: '111', campaign: 'Acil Tesisatçı', currency: 'TRY', cost: 50, clicks: 10, impressions: 100, synced_at: '2026-11-02 10:00:00.000' },
    { platform: 'meta', day: '2026-11-01', campaign_id: '333', campaign: 'Meta Kış', currency: 'USD', cost: 30, clicks: 5, impressions: 500, synced_at: '2026-11-02 10:00:00.000' },
  ];
  await clickhouseIn(dataDir, [{ insert: 'events', rows: seedRows('09', 3000) }, { insert: 'events', rows: seedRows('10', 2000) }, { insert: 'ad_spend', rows: spend.map((r) => JSON.stringify(r)).join('\n') + '\n' }]);
  const server = await startServer({ ...env, FLUSH_INTERVAL_MS: '100' });
  const restored = tempDir('restored');
  try {
    for (let i = 0; i < 12; i++) {
      const res = await send(`${server.url}/lead`, { name: `Müşteri ${i}`, phone: `+9053200${String(i).padStart(5, '0')}`, email: `m${i}@example.com`, message: 'Kombi arızası', attribution: { gclid: `G-${i}` } }, { 'Content-Type': 'application/json' });
      assert.equal(res.status, 201);
    }
    const traffic = load(server);
    await new Promise((r) => setTimeout(r, 1000));
    const first = await runScript('backup.ts', ['--json'], { ...env, PORT: String(server.port) });
    assert.equal(first.code, 0, first.stderr + first.stdout);
    const one = JSON.parse(first.stdout);
    assert.equal(one.outcome, 'ok');
    assert.equal(one.result.leads, 12);
    assert.ok(one.result.rows > 5000, `${one.result.rows} events backed up`);
    assert.equal(one.result.reusedObjects, 0);
    const m1 = JSON.parse((await s3.get(`backups/${one.result.id}.json`)).toString()) as Manifest;

    await new Promise((r) => setTimeout(r, 500));
    const second = await runScript('backup.ts', [], { ...env, PORT: String(server.port) });
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stdout, /^backup \d{8}T\d{6}Z: [\d,]+ events, 12 leads, .* \(uploaded .*, 3 unchanged reused; .*encrypted\n$/);
    const accepted = await traffic.stop();
    assert.ok(accepted > 0);

    // Retention keeps the newest backup of a day: the first one is pruned, not the objects it shares.
    const ids = (await s3.keys('backups/')).map((k) => k.slice('backups/'.length, -'.json'.length));
    assert.equal(ids.length, 1);
    const m2 = JSON.parse((await s3.get(`backups/${ids[0]}.json`)).toString()) as Manifest;
    const referenced = [m2.sqlite.key, ...Object.values(m2.tables).flatMap((parts) => parts!.map((p) => p.object.key))].sort();
    assert.deepEqual(await s3.keys('data/'), referenced, 'exactly the objects the kept backup refers to');
    const objectOf = (m: Manifest, partition: string) => m.tables.events!.find((p) => p.id === partition)!.object.key;
    for (const month of ['202609', '202610']) assert.equal(objectOf(m2, month), objectOf(m1, month), `${month} reused, not uploaded again`);
    const current = new Date().toISOString().slice(0, 7).replace('-', '');
    assert.notEqual(objectOf(m2, current), objectOf(m1, current), 'the month being written was uploaded again');
    assert.equal(m2.totals.leads, 12);
    assert.ok(m2.encryption && !(await s3.get(m2.sqlite.key)).includes(Buffer.from('SQLite format')), 'the leads database is not readable in the bucket');
    const status = await adminGet<Json>(server, '/api/admin/status');
    assert.equal(status.backup.last.outcome, 'ok');
    assert.equal(status.backup.last.result.id, m2.id);
    assert.equal(status.backup.encrypted, true);

    const stopped = await server.stop();
    assert.equal(stopped, 0);
    // Events received two seconds before the cutoff were in ClickHouse when it was read.
    const cut = new Date(Date.parse(m2.cutoff) - 2000).toISOString();
    const original = { leads: leadsOf(dataDir), events: await eventsByDay(dataDir, cut) };

    const restore = await runScript('restore.ts', ['--latest', '--data-dir', restored, '--json'], env);
    assert.equal(restore.code, 0, restore.stderr + restore.stdout);
    const report = JSON.parse(restore.stdout);
    assert.deepEqual([report.outcome, report.id, report.rows, report.leads], ['ok', m2.id, m2.totals.rows, 12]);
    assert.deepEqual(readdirSync(restored).sort(), ['clickhouse', 'leads.db'], 'restored into the existing empty directory, no staging left');
    assert.deepEqual(leadsOf(restored), original.leads, 'every lead, field by field');
    assert.equal(await eventsByDay(restored, cut), original.events, 'events: count and checksum per day');
    const [after] = await clickhouseIn(restored, [{ sql: `SELECT count() AS n FROM lean_capture.events WHERE received_at > parseDateTime64BestEffort('${m2.cutoff}', 3, 'UTC')` }]);
    assert.equal(Number(JSON.parse(after!).n), 0, 'nothing received after the cutoff');
    const [total] = await clickhouseIn(restored, [{ sql: 'SELECT count() AS n FROM lean_capture.events' }]);
    const spendRows = m2.tables.ad_spend!.reduce((n, p) => n + p.rows, 0);
    assert.equal(Number(JSON.parse(total!).n), m2.totals.rows - spendRows, 'events (the totals count the ad spend rows too)');
    const [spendBack] = await clickhouseIn(restored, [{ sql: 'SELECT platform, campaign_id, cost, clicks FROM lean_capture.ad_spend FINAL ORDER BY platform' }]);
    assert.deepEqual(spendBack!.trim().split('\n').map((l) => JSON.parse(l)), [{ platform: 'google', campaign_id: '111', cost: 50, clicks: 10 }, { platform: 'meta', campaign_id: '333', cost: 30, clicks: 5 }]);

    // The restored directory runs.
    const again = await startServer({ DATA_DIR: restored });
    try {
      const { leads } = await adminGet<Json>(again, '/api/admin/leads?limit=100');
      assert.equal(leads.length, 12);
    } finally {
      await again.stop();
    }
  } finally {
    await server.stop();
    removeDir(dataDir);
    removeDir(restored);
    await s3.close();
  }
});

test('restore refuses, with a clear message and the target untouched: a running server\'s DATA_DIR, a non-empty directory, a wrong key, a corrupt or missing object, a newer schema', async () => {
  const s3 = await startS3();
  const telegram = await startTelegram('123:TEST');
  const env = { ...s3.env, BACKUP_ENCRYPTION_KEY: KEY };
  const server = await startServer({ ...env, TELEGRAM_API_URL: telegram.url, TELEGRAM_BOT_TOKEN: '123:TEST', TELEGRAM_CHAT_ID: '42' });
  const work = tempDir('targets');
  try {
    await send(`${server.url}/lead`, { phone: '+905321112233', message: 'Petek temizliği' }, { 'Content-Type': 'application/json' });
    await eventually(async () => ((await adminGet<Json>(server, '/api/admin/events')).events.length > 0 ? true : undefined), 10_000, 'the lead event in ClickHouse');
    const backup = await runScript('backup.ts', ['--json'], { ...env, DATA_DIR: server.dataDir, PORT: String(server.port) });
    assert.equal(backup.code, 0, backup.stderr);
    const { result } = JSON.parse(backup.stdout);
    const manifest = JSON.parse((await s3.get(`backups/${result.id}.json`)).toString()) as Manifest;

    const list = await runScript('restore.ts', ['--list', '--json'], env);
    assert.equal(list.code, 0, list.stderr);
    assert.deepEqual(JSON.parse(list.stdout), [{ id: result.id, createdAt: manifest.createdAt, bytes: manifest.totals.bytes, rows: manifest.totals.rows, leads: 1, encrypted: true, version: manifest.app.version }]);
    const listText = await runScript('restore.ts', ['--list'], env);
    assert.match(listText.stdout, new RegExp(`^${result.id}  ${manifest.createdAt}  .* events .* 1 leads  encrypted`));

    const refused = async (args: string[], extra: Record<string, string>, message: RegExp, target: string) => {
      const before = existsSync(target) ? readdirSync(target) : undefined;
      const run = await runScript('restore.ts', [...args, '--data-dir', target], { ...env, ...extra });
      assert.equal(run.code, 1, `${message}: ${run.stdout}`);
      assert.match(run.stderr, message);
      assert.deepEqual(existsSync(target) ? readdirSync(target) : undefined, before, 'target untouched');
      assert.deepEqual(readdirSync(work).filter((f) => f.includes('restoring')), [], 'no staging left behind');
    };

    await refused(['--latest'], {}, /a Lean Capture server \(pid \d+\) is using .*: stop it first/, server.dataDir);
    const full = join(work, 'full');
    mkdirSync(full);
    writeFileSync(join(full, 'keep.txt'), 'mine');
    await refused(['--latest'], {}, /is not empty: restore into a new or empty DATA_DIR/, full);
    await refused(['--latest'], { BACKUP_ENCRYPTION_KEY: randomBytes(32).toString('base64') }, /BACKUP_ENCRYPTION_KEY is not the key backup \d+T\d+Z was made with/, join(work, 'a'));
    await refused(['--latest'], { BACKUP_ENCRYPTION_KEY: '' }, /is encrypted: set BACKUP_ENCRYPTION_KEY/, join(work, 'b'));
    await refused(['--at', '20200101T000000Z'], {}, /no backup 20200101T000000Z in s3:\/\/lc-backups\/shop\//, join(work, 'c'));

    const victim = manifest.tables.events![0]!.object.key;
    const good = await s3.get(victim);
    const bad = Buffer.from(good);
    bad[bad.length >> 1] = bad[bad.length >> 1]! ^ 0xff;
    await s3.put(victim, bad);
    await refused(['--latest'], {}, new RegExp(`object ${victim.replace(/[.]/g, '\\.')} of backup .* is corrupt \\(SHA-256 differs from the manifest\\)`), join(work, 'd'));
    await s3.remove(victim);
    await refused(['--latest'], {}, /cannot be read: it is missing/, join(work, 'e'));
    await s3.put(victim, good);

    // Altered without the key: not ours. Signed with it (a newer version's backup): a newer schema.
    const newer: Manifest = { ...manifest, schema: { ...manifest.schema, sqlite: 999 } };
    await s3.put(`backups/${manifest.id}.json`, JSON.stringify(newer));
    await refused(['--latest'], {}, /is not signed with BACKUP_ENCRYPTION_KEY/, join(work, 'f'));
    newer.mac = manifestMac(newer, Buffer.from(KEY, 'base64'));
    await s3.put(`backups/${manifest.id}.json`, JSON.stringify(newer));
    await refused(['--latest'], {}, /newer schema .*upgrade Lean Capture first/, join(work, 'f'));
    await s3.put(`backups/${manifest.id}.json`, JSON.stringify(manifest));

    // With everything put back, the same backup restores (and the checks above were the only reason).
    const ok = await runScript('restore.ts', ['--latest', '--data-dir', join(work, 'g')], env);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /^restored backup \d+T\d+Z into .*: [\d,]+ events and 1 leads .* in .*\. Start the server with DATA_DIR=/);
    const verify = await runScript('restore.ts', ['--verify'], env);
    assert.equal(verify.code, 0, verify.stderr);
    assert.match(verify.stdout, /verified: every checksum matches/);

    // A failed backup is recorded and the owner is told.
    await server.stop();
    const offline = await startServer({ ...env, DATA_DIR: server.dataDir, S3_ENDPOINT: 'http://127.0.0.1:9', TELEGRAM_API_URL: telegram.url, TELEGRAM_BOT_TOKEN: '123:TEST', TELEGRAM_CHAT_ID: '42' });
    try {
      const failed = await runScript('backup.ts', [], { ...env, DATA_DIR: server.dataDir, S3_ENDPOINT: 'http://127.0.0.1:9', PORT: String(offline.port) });
      assert.equal(failed.code, 1);
      // S3 down: every script says so in one line, no stack trace.
      for (const args of [['--list'], ['--latest', '--data-dir', join(work, 'h')], ['--verify']]) {
        const down = await runScript('restore.ts', args, { ...env, S3_ENDPOINT: 'http://127.0.0.1:9' });
        assert.equal(down.code, 1, args.join(' '));
        assert.match(down.stderr, /^restore: S3 listing .* connection refused: is S3_ENDPOINT right, and the store up\?$/m);
        assert.doesNotMatch(down.stderr, /\n\s+at /, 'no stack trace');
      }
      assert.match(failed.stderr, /^backup failed: S3 .*\(s3:\/\/lc-backups\/shop\/ at http:\/\/127\.0\.0\.1:9\): connection refused: is S3_ENDPOINT right, and the store up\?$/m);
      await eventually(async () => telegram.calls.find((c) => c.text.startsWith('Backup failed')), 10_000, 'the owner to be told');
      const status = await adminGet<Json>(offline, '/api/admin/status');
      assert.equal(status.backup.last.outcome, 'failed');
      assert.equal(status.backup.lastOk.result.id, result.id);
    } finally {
      await offline.stop();
    }
    // With no server running, the script takes the backup itself.
    const alone = await runScript('backup.ts', ['--json'], { ...env, DATA_DIR: server.dataDir });
    assert.equal(alone.code, 0, alone.stderr);
    const record = JSON.parse(alone.stdout);
    assert.deepEqual([record.outcome, record.result.leads, record.result.reusedObjects], ['ok', 1, 1]);
  } finally {
    await server.stop();
    removeDir(server.dataDir);
    removeDir(work);
    await telegram.close();
    await s3.close();
  }
});

test('server mode (CLICKHOUSE_URL): the same backup, restored into an empty database; a database with rows is refused', async () => {
  const s3 = await startS3();
  const clickhouse = await startClickHouseServer();
  const suffix = randomBytes(4).toString('hex');
  const ch = { CLICKHOUSE_URL: clickhouse.url, CLICKHOUSE_USER: clickhouse.user, CLICKHOUSE_PASSWORD: clickhouse.password };
  const env = { ...s3.env, ...ch, CLICKHOUSE_DATABASE: `lc_backup_${suffix}` };
  const server = await startServer({ ...env, FLUSH_INTERVAL_MS: '100' });
  const restored = tempDir('restored');
  try {
    for (let i = 0; i < 3; i++) await send(`${server.url}/lead`, { phone: `+90532111220${i}` }, { 'Content-Type': 'application/json' });
    const beacons = Array.from({ length: 40 }, (_, i) => ({ id: randomUUID(), type: 'pageview', url: `https://usta.example.com/${i}` }));
    assert.equal((await send(`${server.url}/collect`, beacons, { 'Content-Type': 'application/json' })).status, 204);
    const events = await eventually(async () => {
      const body = await adminGet<Json>(server, '/api/admin/events?limit=100');
      return body.events.length === 43 ? body.events : undefined;
    }, 10_000, '43 events in ClickHouse');
    const backup = await runScript('backup.ts', ['--json'], { ...env, DATA_DIR: server.dataDir, PORT: String(server.port) });
    assert.equal(backup.code, 0, backup.stderr);
    assert.equal(JSON.parse(backup.stdout).result.rows, 43);
    // The restore drill in server mode (the Docker image has no embedded engine): a scratch
    // database on the same server, checked, then dropped; staged on the data disk.
    const drill = await runScript('restore.ts', ['--verify'], { ...env, DATA_DIR: server.dataDir });
    assert.equal(drill.code, 0, drill.stderr);
    assert.match(drill.stdout, new RegExp(`verified: every checksum matches, 43 events and 3 leads .* restored into the scratch database lc_backup_${suffix}_verify`));
    const client = createClient({ url: clickhouse.url, username: clickhouse.user, password: clickhouse.password });
    const left = await (await client.query({ query: 'SELECT name FROM system.databases WHERE name LIKE {p:String}', query_params: { p: `%${suffix}%` }, format: 'JSONEachRow' })).json<{ name: string }>();
    await client.close();
    assert.deepEqual(left.map((d) => d.name), [`lc_backup_${suffix}`], 'the scratch database is gone');
    assert.deepEqual(readdirSync(server.dataDir).filter((f) => f.startsWith('.verify-')), [], 'and the scratch directory');
    await server.stop();

    const target = { ...env, CLICKHOUSE_DATABASE: `lc_restored_${suffix}` };
    const restore = await runScript('restore.ts', ['--latest', '--data-dir', restored], target);
    assert.equal(restore.code, 0, restore.stderr);
    assert.match(restore.stdout, new RegExp(`and ClickHouse lc_restored_${suffix}: 43 events and 3 leads`));
    const again = await startServer({ ...target, DATA_DIR: restored });
    try {
      const body = await adminGet<Json>(again, '/api/admin/events?limit=100');
      assert.deepEqual(body.events.map((e: Json) => e.event_id).sort(), events.map((e: Json) => e.event_id).sort());
      assert.equal((await adminGet<Json>(again, '/api/admin/leads')).leads.length, 3);
    } finally {
      await again.stop();
    }
    const refused = await runScript('restore.ts', ['--latest', '--data-dir', tempDir('other')], target);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, new RegExp(`ClickHouse table lc_restored_${suffix}.events already holds 43 rows: restore into an empty database`));
  } finally {
    await server.stop();
    removeDir(server.dataDir);
    removeDir(restored);
    await clickhouse.stop();
    await s3.close();
  }
});

test('a frozen S3 endpoint fails the backup within its deadline, tells the owner, and frees the next run', async () => {
  const s3 = await startS3Process();
  const telegram = await startTelegram('123:TEST');
  const env = { ...s3.env, S3_TIMEOUT_MS: '1000', BACKUP_TIMEOUT_MS: '8000' };
  const server = await startServer({ ...env, TELEGRAM_API_URL: telegram.url, TELEGRAM_BOT_TOKEN: '123:TEST', TELEGRAM_CHAT_ID: '42' });
  try {
    await send(`${server.url}/lead`, { phone: '+905321112299' }, { 'Content-Type': 'application/json' });
    s3.freeze();
    const started = Date.now();
    const backup = await runScript('backup.ts', [], { ...env, DATA_DIR: server.dataDir, PORT: String(server.port) });
    const tookMs = Date.now() - started;
    assert.equal(backup.code, 1);
    assert.match(backup.stderr, /backup failed: (S3 .*no answer within 1 s \(S3_TIMEOUT_MS\)|the backup did not finish within .*BACKUP_TIMEOUT_MS)/);
    assert.ok(tookMs < 30_000, `failed after ${tookMs} ms`);
    await eventually(async () => telegram.calls.find((c) => c.text.startsWith('Backup failed')), 10_000, 'the owner to be told');
    const status = await adminGet<Json>(server, '/api/admin/status');
    assert.equal(status.backup.running, null, 'the next run is not stuck behind this one');
    assert.equal(status.backup.last.outcome, 'failed');
    s3.thaw();
    const next = await runScript('backup.ts', ['--json'], { ...env, DATA_DIR: server.dataDir, PORT: String(server.port) });
    assert.equal(next.code, 0, next.stderr);
  } finally {
    await server.stop();
    removeDir(server.dataDir);
    await telegram.close();
    await s3.close();
  }
});
