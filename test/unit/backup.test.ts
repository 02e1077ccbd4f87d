// Backup building blocks: the object format (gzip + AES-256-GCM), retention, pruning against a
// local S3, and the owner's alert when backups are late.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { backupId, prune, type Manifest } from '../../src/backup/backup.ts';
import { keyCheck, keyMatches, seal, unseal } from '../../src/backup/codec.ts';
import { backupsToKeep, isoWeek } from '../../src/backup/retention.ts';
import { s3Store } from '../../src/backup/s3.ts';
import { Backups } from '../../src/backup/service.ts';
import { Storage } from '../../src/db/storage.ts';
import { createLogger } from '../../src/log.ts';
import { removeDir, tempDir } from '../support/harness.ts';
import { S3_BUCKET, startS3 } from '../support/s3.ts';

const content = Array.from({ length: 5000 }, (_, i) => `{"event_id":"${i}","phone":"+90532${i}"}\n`).join('');

test('a sealed object is gzip without a key, AES-256-GCM with one, and decodes only to the exact content', async () => {
  const dir = tempDir('codec');
  try {
    const key = randomBytes(32);
    const plainFile = join(dir, 'plain.gz');
    const sealedPlain = await seal([content], plainFile, 'data/x/events/202611.jsonl.gz', undefined);
    assert.equal(gunzipSync(readFileSync(plainFile)).toString(), content, 'readable with zcat');
    assert.equal(sealedPlain.contentBytes, Buffer.byteLength(content));

    const file = join(dir, 'obj.enc');
    const objectKey = 'data/x/events/202611.jsonl.gz.enc';
    const sealed = await seal([content.slice(0, 1000), content.slice(1000)], file, objectKey, key);
    const stored = readFileSync(file);
    assert.equal(stored.length, sealed.bytes);
    assert.equal(stored.subarray(0, 4).toString(), 'LCB1');
    assert.ok(!stored.includes(Buffer.from('+90532')), 'no plain phone numbers');
    await unseal(file, join(dir, 'out'), objectKey, key, sealed.contentSha256);
    assert.equal(readFileSync(join(dir, 'out'), 'utf8'), content);

    await assert.rejects(unseal(file, join(dir, 'out2'), objectKey, randomBytes(32), sealed.contentSha256), /does not decrypt with this key/);
    await assert.rejects(unseal(file, join(dir, 'out3'), 'data/y/other.jsonl.gz.enc', key, sealed.contentSha256), /does not decrypt with this key/, 'an object moved under another key is refused');
    await assert.rejects(unseal(file, join(dir, 'out4'), objectKey, undefined, sealed.contentSha256), /is encrypted: set BACKUP_ENCRYPTION_KEY/);
    const tampered = Buffer.from(stored);
    tampered[100] = tampered[100]! ^ 1;
    writeFileSync(join(dir, 'tampered'), tampered);
    await assert.rejects(unseal(join(dir, 'tampered'), join(dir, 'out5'), objectKey, key, sealed.contentSha256), /does not decrypt with this key|damaged/);
    await assert.rejects(unseal(file, join(dir, 'out6'), objectKey, key, '0'.repeat(64)), /checksum mismatch/);
    assert.ok(keyMatches(key, keyCheck(key)) && !keyMatches(randomBytes(32), keyCheck(key)));
  } finally {
    removeDir(dir);
  }
});

test('retention keeps exactly the newest backup of each of the last N days, ISO weeks and months', () => {
  const day = 86_400_000;
  const at = (date: string, hour = 3) => Date.parse(`${date}T0${hour}:00:00Z`);
  // Nightly backups from 1 January to Sunday 22 November 2026, and a second one on the last day.
  const backups: Array<{ id: string; at: number }> = [];
  for (let t = at('2026-01-01'); t <= at('2026-11-22'); t += day) backups.push({ id: backupId(t), at: t });
  backups.push({ id: backupId(at('2026-11-22', 9)), at: at('2026-11-22', 9) });
  const kept = [...backupsToKeep(backups, { daily: 14, weekly: 8, monthly: 12 })].sort();
  const ids = (dates: string[]) => dates.map((d) => backupId(at(d)));
  const expected = [
    // daily: the last 14 days, the 22nd by its newer backup
    ...ids(Array.from({ length: 13 }, (_, i) => `2026-11-${String(9 + i).padStart(2, '0')}`)), backupId(at('2026-11-22', 9)),
    // weekly: the newest of ISO weeks 40–46 (week 47 is the 22nd's)
    ...ids(['2026-11-08', '2026-11-01', '2026-10-25', '2026-10-18', '2026-10-11', '2026-10-04']),
    // monthly: the last of each earlier month (November is the 22nd's); only 11 months exist
    ...ids(['2026-10-31', '2026-09-30', '2026-08-31', '2026-07-31', '2026-06-30', '2026-05-31', '2026-04-30', '2026-03-31', '2026-02-28', '2026-01-31']),
  ].sort();
  assert.deepEqual(kept, expected);
  assert.deepEqual([...backupsToKeep(backups, { daily: 1, weekly: 0, monthly: 0 })], [backupId(at('2026-11-22', 9))]);
  assert.equal(isoWeek(at('2026-01-01')), '2026-W01');
  assert.equal(isoWeek(at('2027-01-01')), '2026-W53');
  assert.equal(isoWeek(at('2026-11-22')), '2026-W47');
  assert.equal(isoWeek(at('2026-11-16')), '2026-W47');
});

test('pruning deletes the manifests retention drops and the objects no kept backup refers to', async () => {
  const s3 = await startS3();
  try {
    const store = s3Store({ endpoint: s3.endpoint, region: 'us-east-1', bucket: S3_BUCKET, prefix: 'shop/', accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER', forcePathStyle: true, timeoutMs: 10_000 });
    const manifest = (id: string, objects: string[]): Partial<Manifest> => ({ id, sqlite: { key: `data/${id}/leads.db.gz` } as Manifest['sqlite'], tables: { events: objects.map((key, i) => ({ id: String(i), fingerprint: '', rows: 1, object: { key } as Manifest['sqlite'] })) } });
    const days = ['20261101T030000Z', '20261102T030000Z', '20261103T030000Z'];
    // The September partition was exported on the 1st and reused by every later backup.
    for (const [i, id] of days.entries()) {
      await s3.put(`backups/${id}.json`, JSON.stringify(manifest(id, ['data/20261101T030000Z/events/202609.jsonl.gz', `data/${id}/events/202611.jsonl.gz`])));
      await s3.put(`data/${id}/leads.db.gz`, `db ${i}`);
      await s3.put(`data/${id}/events/202611.jsonl.gz`, `nov ${i}`);
    }
    await s3.put('data/20261101T030000Z/events/202609.jsonl.gz', 'sep');
    await s3.put('data/20261104T030000Z/events/202611.jsonl.gz', 'an upload whose backup never finished');
    const pruned = await prune(store, { daily: 2, weekly: 0, monthly: 0 }, 'this-vps', 3_600_000);
    assert.deepEqual(pruned, { backups: 1, objects: 3 });
    assert.deepEqual(await s3.keys('backups/'), ['backups/20261102T030000Z.json', 'backups/20261103T030000Z.json']);
    assert.deepEqual(await s3.keys('data/'), [
      'data/20261101T030000Z/events/202609.jsonl.gz',
      'data/20261102T030000Z/events/202611.jsonl.gz',
      'data/20261102T030000Z/leads.db.gz',
      'data/20261103T030000Z/events/202611.jsonl.gz',
      'data/20261103T030000Z/leads.db.gz',
    ]);
  } finally {
    await s3.close();
  }
});

test('the owner is told once a day when the last good backup is older than BACKUP_MAX_AGE_HOURS', () => {
  const dir = tempDir('late');
  const storage = Storage.open(join(dir, 'leads.db'));
  try {
    const told: string[] = [];
    const config = { s3: {} as never, encryptionKey: undefined, keep: { daily: 1, weekly: 0, monthly: 0 }, maxAgeHours: 36, timeoutMs: 60_000 };
    const backups = new Backups({ config, store: { location: 's3://x/' } as never, storage, clickhouse: {} as never, database: 'x', appVersion: '0', scratchDir: dir, dataDir: dir }, storage.settings, { notify: (key) => told.push(key) }, createLogger('silent'));
    const now = Date.now();
    backups.checkAge(now);
    assert.deepEqual(told, [], 'a server that just started is not late');
    // Two checks more than 36 h after the start, an hour apart on the same UTC day (01:00 and 02:00).
    const late = Math.ceil((now + 37 * 3_600_000) / 86_400_000) * 86_400_000 + 3_600_000;
    backups.checkAge(late);
    backups.checkAge(late + 3_600_000);
    assert.equal(told.length, 2);
    assert.equal(told[0], told[1], 'the same key on the same day: the outbox sends it once');
    storage.settings.put('backup.last_ok', JSON.stringify({ outcome: 'ok', at: new Date(late).toISOString(), durationMs: 1 }));
    backups.checkAge(late + 3 * 3_600_000);
    assert.equal(told.length, 2, 'a recent good backup: nothing to say');
  } finally {
    storage.close();
    removeDir(dir);
  }
});

test('two installations sharing a prefix (the old and the new VPS) never prune each other\'s backups, nor an upload still under way', async () => {
  const s3 = await startS3();
  try {
    const store = s3Store({ endpoint: s3.endpoint, region: 'us-east-1', bucket: S3_BUCKET, prefix: 'shop/', accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER', forcePathStyle: true, timeoutMs: 10_000 });
    const put = async (id: string, instance: string) => {
      await s3.put(`backups/${id}.json`, JSON.stringify({ id, instance, sqlite: { key: `data/${id}/leads.db.gz` }, tables: {} }));
      await s3.put(`data/${id}/leads.db.gz`, id);
    };
    await put('20261101T030000Z', 'old-vps');
    await put('20261102T030000Z', 'old-vps');
    await put('20261103T030000Z', 'new-vps');
    await put('20261104T030000Z', 'new-vps');
    const now = Date.parse('2026-11-04T03:10:00Z');
    await s3.put('data/20261104T030500Z/events/202611.jsonl.gz', 'the old VPS is uploading right now');
    const pruned = await prune(store, { daily: 1, weekly: 0, monthly: 0 }, 'new-vps', 3_600_000, now);
    assert.deepEqual(pruned, { backups: 1, objects: 1 });
    assert.deepEqual(await s3.keys('backups/'), ['backups/20261101T030000Z.json', 'backups/20261102T030000Z.json', 'backups/20261104T030000Z.json']);
    assert.ok((await s3.keys('data/')).includes('data/20261104T030500Z/events/202611.jsonl.gz'), 'a recent upload without a manifest is left alone');
  } finally {
    await s3.close();
  }
});
