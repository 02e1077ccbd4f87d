// One backup: a consistent copy of SQLite (its online backup API), every ClickHouse table of ours
// exported as JSONEachRow partition by partition, each object gzip'd (and encrypted), uploaded,
// and a manifest — with row counts and SHA-256 of every object — written last: a backup exists
// once its manifest does. A partition whose parts are unchanged since the previous backup reuses
// that backup's object. Afterwards, backups outside the retention policy are pruned, and objects
// no kept backup refers to are deleted.
import { createReadStream, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { hostname } from 'node:os';
import { APP_VERSION, type BackupConfig, type Config } from '../config.ts';
import type { ClickHouse } from '../events/clickhouse.ts';
import { BACKUP_TABLES, MIGRATIONS } from '../events/schema.ts';
import type { Settings } from '../db/settings.ts';
import type { Storage } from '../db/storage.ts';
import { keyCheck, keyMatches, seal, type Sealed } from './codec.ts';
import { backupsToKeep } from './retention.ts';
import { s3Store, type ObjectStore } from './s3.ts';
import { withDeadline } from '../time.ts';

/** 2: manifests carry an HMAC from the backup key (`mac`). */
export const MANIFEST_FORMAT = 2;
/** Rows per export query; a bigger day is exported hour by hour. */
const CHUNK_ROWS = 100_000;

export interface ObjectEntry extends Sealed {
  key: string;
  rows: number;
}

export interface PartitionEntry {
  id: string;
  /** The partition's active parts and rows when it was exported: equal fingerprints, equal data. */
  fingerprint: string;
  rows: number;
  object: ObjectEntry;
}

export interface Manifest {
  format: number;
  id: string;
  createdAt: string;
  /** Events received up to this time (and already in ClickHouse) are in the backup. */
  cutoff: string;
  app: { version: string };
  schema: { sqlite: number; clickhouse: number };
  compression: 'gzip';
  encryption: { algorithm: 'AES-256-GCM'; keyCheck: string } | null;
  sqlite: ObjectEntry & { leads: number };
  tables: Record<string, PartitionEntry[]>;
  totals: { bytes: number; rows: number; leads: number; objects: number };
  /** The installation that made it (backupInstance): retention prunes only its own. */
  instance?: string;
  /** HMAC-SHA256 of the rest, from BACKUP_ENCRYPTION_KEY (see manifestMac); absent without a key. */
  mac?: string;
}

export interface BackupResult {
  id: string;
  at: string;
  durationMs: number;
  /** Bytes of every object the backup refers to, and of those uploaded this time. */
  bytes: number;
  uploadedBytes: number;
  rows: number;
  leads: number;
  objects: number;
  reusedObjects: number;
  pruned: { backups: number; objects: number };
}

export interface Progress {
  step: string;
  done: number;
  total: number;
  unit: 'rows' | 'bytes' | 'objects';
}

export interface BackupDeps {
  config: BackupConfig;
  store: ObjectStore;
  storage: Storage;
  clickhouse: ClickHouse;
  /** ClickHouse database of ours. */
  database: string;
  appVersion: string;
  /** Scratch space on the data disk (emptied after each run). */
  scratchDir: string;
  /** The data directory backed up, for messages. */
  dataDir: string;
}

/** What a backup needs, the same for the server and the backup script. */
export function backupDeps(config: Config & { backup: BackupConfig }, storage: Storage, clickhouse: ClickHouse): BackupDeps {
  return { config: config.backup, store: s3Store(config.backup.s3), storage, clickhouse, database: config.clickhouse.database, appVersion: APP_VERSION, scratchDir: join(config.dataDir, 'backup-scratch'), dataDir: config.dataDir };
}

export const manifestKey = (id: string) => `backups/${id}.json`;
/** Sortable and readable: 20261122T031500Z. */
export const backupId = (at: number) => new Date(at).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
export const backupTime = (id: string) => Date.parse(id.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, '$1-$2-$3T$4:$5:$6Z'));

export async function listManifestIds(store: ObjectStore): Promise<string[]> {
  return (await store.list('backups/'))
    .map((o) => /^backups\/(\d{8}T\d{6}Z)\.json$/.exec(o.key)?.[1])
    .filter((id): id is string => id !== undefined)
    .sort();
}

/** A manifest as stored, unchecked: for listing and pruning, never for restoring or reusing objects (see trustedManifest). */
export async function readManifest(store: ObjectStore, id: string): Promise<Manifest | undefined> {
  const text = await store.getText(manifestKey(id));
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as Manifest;
  } catch {
    return undefined;
  }
}

/** A manifest's content is not ours (forged, altered, or of another kind): restore refuses it. */
export class ManifestRejected extends Error {}

const BACKUP_ID = /^\d{8}T\d{6}Z$/;
const PARTITION_ID = /^[0-9A-Za-z_-]{1,64}$/;
const OBJECT_KEY = /^data\/\d{8}T\d{6}Z\/[0-9A-Za-z_-]+(\/[0-9A-Za-z_-]+)?(\.[a-z]+)+$/;
const SHA256 = /^[0-9a-f]{64}$/;

/**
 * The manifest's HMAC from the backup key. Whoever can write to the bucket can write a manifest;
 * only the key holder can sign one, so a restore with the key trusts nothing unsigned.
 */
export function manifestMac(manifest: Manifest, key: Buffer): string {
  const { mac: _mac, ...signed } = manifest;
  return createHmac('sha256', key).update('lean-capture backup manifest v2\n').update(JSON.stringify(signed)).digest('hex');
}

/**
 * Reads a manifest that may be acted on (restored, or its objects reused). With a key it must be
 * encrypted and carry a valid HMAC; with or without one, every id, table name and object key it
 * holds must be of our own shapes, because they become paths, SQL and S3 keys.
 */
export async function trustedManifest(store: ObjectStore, id: string, key: Buffer | undefined): Promise<Manifest | undefined> {
  if (!BACKUP_ID.test(id)) throw new ManifestRejected(`${JSON.stringify(id)} is not a backup id (they look like 20261122T031500Z)`);
  const manifest = await readManifest(store, id);
  if (manifest === undefined) return undefined;
  const where = `backup ${id}`;
  if (typeof manifest !== 'object' || manifest === null || manifest.id !== id) throw new ManifestRejected(`the manifest of ${where} names another backup`);
  if (key !== undefined) {
    if (manifest.encryption === null || manifest.encryption === undefined) throw new ManifestRejected(`${where} is not encrypted, but BACKUP_ENCRYPTION_KEY is set: a backup made with the key is always encrypted, so this one was not made by this installation`);
    if (typeof manifest.encryption.keyCheck !== 'string' || !keyMatches(key, manifest.encryption.keyCheck)) throw new ManifestRejected(`BACKUP_ENCRYPTION_KEY is not the key ${where} was made with`);
    const mac = typeof manifest.mac === 'string' ? Buffer.from(manifest.mac, 'hex') : Buffer.alloc(0);
    const expected = Buffer.from(manifestMac(manifest, key), 'hex');
    if (mac.length !== expected.length || !timingSafeEqual(mac, expected)) {
      throw new ManifestRejected(`the manifest of ${where} is not signed with BACKUP_ENCRYPTION_KEY (altered, forged, made with another key, or made before manifests were signed)`);
    }
  }
  const objects = [manifest.sqlite, ...Object.values(manifest.tables ?? {}).flat().map((p) => p?.object)];
  const known = new Set<string>(BACKUP_TABLES.map((t) => t.table));
  for (const [table, partitions] of Object.entries(manifest.tables ?? {})) {
    if (!known.has(table)) throw new ManifestRejected(`${where} names a table that is not ours: ${JSON.stringify(table).slice(0, 80)}`);
    if (!Array.isArray(partitions) || partitions.some((p) => typeof p?.id !== 'string' || !PARTITION_ID.test(p.id) || !Number.isSafeInteger(p.rows))) throw new ManifestRejected(`${where} has a malformed partition list for ${table}`);
  }
  for (const o of objects) {
    if (typeof o?.key !== 'string' || !OBJECT_KEY.test(o.key) || !SHA256.test(String(o.sha256)) || !SHA256.test(String(o.contentSha256)) || !Number.isSafeInteger(o.bytes)) {
      throw new ManifestRejected(`${where} refers to an object that is not of ours: ${JSON.stringify(o?.key).slice(0, 120)}`);
    }
  }
  return manifest;
}

/** One backup, failed as a whole once it takes longer than BACKUP_TIMEOUT_MS (its requests time out on their own too). */
export function runBackup(deps: BackupDeps, onProgress: (p: Progress) => void = () => undefined, now = Date.now()): Promise<BackupResult> {
  return withDeadline(takeBackup(deps, onProgress, now), deps.config.timeoutMs, `the backup did not finish within ${Math.round(deps.config.timeoutMs / 60_000)} min (BACKUP_TIMEOUT_MS): is ${deps.store.location} reachable?`);
}

async function takeBackup(deps: BackupDeps, onProgress: (p: Progress) => void, now: number): Promise<BackupResult> {
  const { store, config, clickhouse } = deps;
  const started = Date.now();
  const id = backupId(now);
  const key = config.encryptionKey;
  const encryption = key ? { algorithm: 'AES-256-GCM' as const, keyCheck: keyCheck(key) } : null;
  const ext = key ? '.gz.enc' : '.gz';
  const scratch = join(deps.scratchDir, id);
  rmSync(scratch, { recursive: true, force: true });
  mkdirSync(scratch, { recursive: true });
  let uploadedBytes = 0;
  let reusedObjects = 0;

  const upload = async (objectKey: string, content: AsyncIterable<Buffer | string>, rows: () => number, step: string): Promise<ObjectEntry> => {
    const file = join(scratch, objectKey.replaceAll('/', '_'));
    const sealed = await seal(content, file, objectKey, key);
    await store.putFile(objectKey, file, (bytes) => onProgress({ step, done: bytes, total: sealed.bytes, unit: 'bytes' }));
    rmSync(file, { force: true });
    uploadedBytes += sealed.bytes;
    return { key: objectKey, rows: rows(), ...sealed };
  };

  try {
    // A backup of an empty DATA_DIR (a wrong directory) must not replace a good one and become "latest".
    const ownLeads = deps.storage.leadCount();
    if (ownLeads === 0) {
      const latestId = (await listManifestIds(store)).at(-1);
      const latest = latestId ? await readManifest(store, latestId) : undefined;
      if (latest && (latest.totals?.leads > 0 || latest.totals?.rows > 0)) {
        throw new Error(`refusing to back up an empty data directory over backup ${latest.id} (${latest.totals.leads} leads, ${latest.totals.rows} events): is DATA_DIR (${deps.dataDir}) the server's? Set it in .env where the server reads it`);
      }
    }
    const instance = backupInstance(deps.storage.settings);
    const previousId = (await listManifestIds(store)).at(-1);
    // Objects are reused only from a manifest we can trust (signed with our key).
    const previous = previousId ? await trustedManifest(store, previousId, key).catch(() => undefined) : undefined;
    const reusable = previous && JSON.stringify(previous.encryption) === JSON.stringify(encryption) ? previous : undefined;

    // SQLite: the online backup API gives a consistent copy while the server writes.
    onProgress({ step: 'leads database', done: 0, total: 1, unit: 'objects' });
    const copy = join(scratch, 'leads.db');
    const { leads, schemaVersion: sqliteVersion } = await deps.storage.snapshot(copy);
    const sqlite = { ...(await upload(`data/${id}/leads.db${ext}`, createReadStream(copy), () => 0, 'leads database')), leads };
    rmSync(copy, { force: true });

    // ClickHouse: every table must be one backups know how to export.
    const tables = (await clickhouse.query<{ name: string }>('SELECT name FROM system.tables WHERE database = {db:String}', { db: deps.database })).map((t) => t.name);
    const unknown = tables.filter((t) => t !== 'schema_migrations' && !t.endsWith('__restoring') && !BACKUP_TABLES.some((b) => b.table === t));
    if (unknown.length > 0) throw new Error(`ClickHouse table(s) ${unknown.join(', ')} are not covered by backups (add them to BACKUP_TABLES)`);
    const chVersion = Math.max(0, ...(await clickhouse.query<{ version: number }>('SELECT version FROM schema_migrations')).map((r) => Number(r.version)));

    const partitionsOf = async (table: string) =>
      (await clickhouse.query<{ id: string; rows: string; parts: string }>(
        "SELECT partition_id AS id, sum(rows) AS rows, arrayStringConcat(arraySort(groupArray(name)), ',') AS parts FROM system.parts WHERE database = {db:String} AND table = {table:String} AND active GROUP BY partition_id ORDER BY partition_id",
        { db: deps.database, table },
      )).map((p) => ({ id: p.id, rows: Number(p.rows), fingerprint: createHash('sha256').update(`${p.parts}|${p.rows}`).digest('hex').slice(0, 32) }));
    const plan = await Promise.all(BACKUP_TABLES.map(async (t) => ({ ...t, partitions: tables.includes(t.table) ? await partitionsOf(t.table) : [] })));
    // Rows received up to now: later ones belong to the next backup (parts were listed first).
    const cutoff = new Date().toISOString().replace('T', ' ').replace('Z', '');
    const totalRows = plan.reduce((n, t) => n + t.partitions.reduce((m, p) => m + p.rows, 0), 0);
    let rowsDone = 0;
    const tableEntries: Record<string, PartitionEntry[]> = {};
    for (const t of plan) {
      tableEntries[t.table] = [];
      for (const partition of t.partitions) {
        const earlier = reusable?.tables[t.table]?.find((p) => p.id === partition.id && p.fingerprint === partition.fingerprint);
        if (earlier) {
          tableEntries[t.table]!.push(earlier);
          reusedObjects++;
          rowsDone += partition.rows;
          onProgress({ step: `${t.table} ${partition.id} (unchanged)`, done: rowsDone, total: totalRows, unit: 'rows' });
          continue;
        }
        let rows = 0;
        const step = `${t.table} ${partition.id}`;
        const chunks = async function* () {
          for (const where of await chunksOf(clickhouse, t, partition.id, cutoff)) {
            const text = await clickhouse.queryText(`SELECT * FROM ${t.table} WHERE _partition_id = {partition:String} AND ${t.cutoffColumn} <= {cutoff:DateTime64(3, 'UTC')} AND ${where.sql}`, { partition: partition.id, cutoff, ...where.params });
            const n = countLines(text);
            rows += n;
            rowsDone += n;
            onProgress({ step, done: rowsDone, total: totalRows, unit: 'rows' });
            yield text;
          }
        };
        const object = await upload(`data/${id}/${t.table}/${partition.id}.jsonl${ext}`, chunks(), () => rows, step);
        tableEntries[t.table]!.push({ id: partition.id, fingerprint: partition.fingerprint, rows, object });
      }
    }

    const objects = [sqlite, ...Object.values(tableEntries).flat().map((p) => p.object)];
    const manifest: Manifest = {
      format: MANIFEST_FORMAT,
      id,
      instance,
      createdAt: new Date(now).toISOString(),
      cutoff: cutoff.replace(' ', 'T') + 'Z',
      app: { version: deps.appVersion },
      schema: { sqlite: sqliteVersion, clickhouse: chVersion },
      compression: 'gzip',
      encryption,
      sqlite,
      tables: tableEntries,
      totals: {
        bytes: objects.reduce((n, o) => n + o.bytes, 0),
        rows: Object.values(tableEntries).flat().reduce((n, p) => n + p.rows, 0),
        leads,
        objects: objects.length,
      },
    };
    if (key) manifest.mac = manifestMac(manifest, key);
    await store.putText(manifestKey(id), JSON.stringify(manifest, null, 1));

    onProgress({ step: 'pruning old backups', done: 0, total: 1, unit: 'objects' });
    const pruned = await prune(store, config.keep, instance, config.timeoutMs);
    return {
      id,
      at: manifest.createdAt,
      durationMs: Date.now() - started,
      bytes: manifest.totals.bytes,
      uploadedBytes,
      rows: manifest.totals.rows,
      leads,
      objects: objects.length,
      reusedObjects,
      pruned,
    };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** Deletes the manifests retention does not keep, then every object no kept manifest refers to. */
/**
 * Applies retention to this installation's backups only (two servers sharing a prefix — the old
 * and the new VPS after a move — never prune each other's), then deletes the objects no remaining
 * manifest refers to: those of the backups just dropped at once, others (leftovers of failed runs)
 * once older than `leftoverAfterMs`, because a backup still uploading, ours or another
 * installation's, has no manifest yet.
 */
export async function prune(store: ObjectStore, keep: BackupConfig['keep'], instance: string, leftoverAfterMs: number, now = Date.now()): Promise<{ backups: number; objects: number }> {
  const manifests = new Map<string, Manifest | undefined>();
  for (const id of await listManifestIds(store)) manifests.set(id, await readManifest(store, id));
  // Manifests without an instance predate it: they were made by this installation or its predecessor.
  const own = [...manifests].filter(([, m]) => (m?.instance ?? instance) === instance).map(([id]) => id);
  const kept = backupsToKeep(own.map((id) => ({ id, at: backupTime(id) })), keep);
  const dropped = own.filter((id) => !kept.has(id));
  const referenced = new Set<string>();
  for (const [id, manifest] of manifests) {
    if (!manifest || dropped.includes(id)) continue;
    referenced.add(manifest.sqlite?.key);
    for (const p of Object.values(manifest.tables ?? {}).flat()) referenced.add(p?.object?.key);
  }
  await store.remove(dropped.map(manifestKey));
  const leftover = (key: string) => {
    const id = /^data\/(\d{8}T\d{6}Z)\//.exec(key)?.[1] ?? '';
    const made = backupTime(id);
    return dropped.includes(id) || !Number.isFinite(made) || now - made > leftoverAfterMs;
  };
  const dropObjects = (await store.list('data/')).map((o) => o.key).filter((k) => !referenced.has(k) && leftover(k));
  await store.remove(dropObjects);
  return { backups: dropped.length, objects: dropObjects.length };
}

/**
 * This installation's name in its manifests: made once and kept in leads.db (a restore drops it,
 * so a restored copy on a new machine gets its own).
 */
export function backupInstance(settings: Settings): string {
  return settings.get('backup.instance') ?? settings.putIfAbsent('backup.instance', `${hostname().replace(/[^A-Za-z0-9.-]/g, '').slice(0, 40) || 'host'}-${randomBytes(4).toString('hex')}`);
}

/** Export queries for one partition: a day at a time, or an hour at a time for a big day. */
async function chunksOf(clickhouse: ClickHouse, t: (typeof BACKUP_TABLES)[number], partition: string, cutoff: string): Promise<Array<{ sql: string; params: Record<string, string | number> }>> {
  const days = await clickhouse.query<{ day: string; n: string }>(
    `SELECT toString(toDate(${t.timeColumn})) AS day, count() AS n FROM ${t.table} WHERE _partition_id = {partition:String} AND ${t.cutoffColumn} <= {cutoff:DateTime64(3, 'UTC')} GROUP BY day ORDER BY day`,
    { partition, cutoff },
  );
  return days.flatMap(({ day, n }) =>
    Number(n) <= CHUNK_ROWS
      ? [{ sql: `toDate(${t.timeColumn}) = {day:Date}`, params: { day } }]
      : Array.from({ length: 24 }, (_, hour) => ({ sql: `toDate(${t.timeColumn}) = {day:Date} AND toHour(${t.timeColumn}) = {hour:UInt8}`, params: { day, hour } })),
  );
}

function countLines(text: string): number {
  let n = 0;
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

/** The ClickHouse schema version this build writes. */
export const CLICKHOUSE_SCHEMA_VERSION = Math.max(...MIGRATIONS.map((m) => m.version));
