// Restores a backup into a new DATA_DIR (and, in server mode, an empty ClickHouse database).
// Order matters: refuse a target in use or not empty, check the version and the key, download
// every object and verify its checksum, decode and verify the content — all before anything is
// written to the target. Then the data directory is built on the target's filesystem and renamed
// into place (one rename for a new directory; for an existing empty one, a rename per entry); in ClickHouse the rows go into `<table>__restoring` tables that are
// exchanged with the real ones once their row counts match the manifest.
import { createReadStream, existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { join, resolve } from 'node:path';
import type { ClickHouseConfig } from '../config.ts';
import type { ClickHouse } from '../events/clickhouse.ts';
import { openClickHouse } from '../events/open.ts';
import { journalOwner } from '../events/owner-lock.ts';
import { migrate } from '../events/schema.ts';
import { adoptRestoredDatabase, SQLITE_SCHEMA_VERSION } from '../db/storage.ts';
import { CLICKHOUSE_SCHEMA_VERSION, MANIFEST_FORMAT, ManifestRejected, trustedManifest, type Manifest, type ObjectEntry, type Progress } from './backup.ts';
import { fileSha256, keyMatches, unseal } from './codec.ts';
import { S3Failure, type ObjectStore } from './s3.ts';

/** Rows per insert while restoring. */
const INSERT_ROWS = 50_000;

export interface RestoreOptions {
  store: ObjectStore;
  id: string;
  key: Buffer | undefined;
  dataDir: string;
  clickhouse: ClickHouseConfig;
  onProgress?: (p: Progress) => void;
}

export interface RestoreResult {
  id: string;
  durationMs: number;
  bytes: number;
  rows: number;
  leads: number;
}

/** Refusals that leave the target untouched; the message says what to do. */
export class RestoreRefused extends Error {}

export async function restoreBackup(options: RestoreOptions): Promise<RestoreResult> {
  const started = Date.now();
  const progress = options.onProgress ?? (() => undefined);
  const dataDir = resolve(options.dataDir);

  // 1. The target: no server on it, nothing in it.
  const owner = journalOwner(join(dataDir, 'journal'));
  if (owner !== undefined) throw new RestoreRefused(`a Lean Capture server (pid ${owner}) is using ${dataDir}: stop it first, or restore into another DATA_DIR`);
  if (existsSync(dataDir) && readdirSync(dataDir).length > 0) throw new RestoreRefused(`${dataDir} is not empty: restore into a new or empty DATA_DIR (move the old one away first)`);

  // 2. The manifest (signed with the key, of our own shapes), its version and the key.
  let manifest: Manifest | undefined;
  try {
    manifest = await trustedManifest(options.store, options.id, options.key);
  } catch (err) {
    if (err instanceof ManifestRejected) throw new RestoreRefused(err.message);
    throw err;
  }
  if (!manifest) throw new RestoreRefused(`no backup ${options.id} in ${options.store.location} (npm run restore -- --list shows them)`);
  if (manifest.format > MANIFEST_FORMAT || manifest.schema.sqlite > SQLITE_SCHEMA_VERSION || manifest.schema.clickhouse > CLICKHOUSE_SCHEMA_VERSION) {
    throw new RestoreRefused(`backup ${manifest.id} was made by Lean Capture ${manifest.app.version} with a newer schema (SQLite ${manifest.schema.sqlite}, ClickHouse ${manifest.schema.clickhouse}); this is schema SQLite ${SQLITE_SCHEMA_VERSION}, ClickHouse ${CLICKHOUSE_SCHEMA_VERSION}: upgrade Lean Capture first`);
  }
  if (manifest.encryption) {
    if (!options.key) throw new RestoreRefused(`backup ${manifest.id} is encrypted: set BACKUP_ENCRYPTION_KEY to the key it was made with`);
    if (!keyMatches(options.key, manifest.encryption.keyCheck)) throw new RestoreRefused(`BACKUP_ENCRYPTION_KEY is not the key backup ${manifest.id} was made with`);
  }

  // In server mode the events go to ClickHouse: its tables must be empty.
  let server: ClickHouse | undefined;
  if (options.clickhouse.mode === 'server') {
    server = await openClickHouse(options.clickhouse);
    await migrate(server);
    for (const table of Object.keys(manifest.tables)) {
      const [row] = await server.query<{ n: string }>(`SELECT count() AS n FROM ${table}`);
      if (Number(row?.n ?? 0) > 0) {
        await server.close();
        throw new RestoreRefused(`ClickHouse table ${options.clickhouse.database}.${table} already holds ${row!.n} rows: restore into an empty database (CLICKHOUSE_DATABASE)`);
      }
    }
  }

  // Staging inside the target (created now if new), on its filesystem, so the last step is renames:
  // no write beside it (the service user cannot write /var/lib), and a mount point (a Docker
  // volume) works the same.
  const created = !existsSync(dataDir);
  if (created) {
    try {
      mkdirSync(dataDir, { mode: 0o700 });
    } catch (err) {
      if (server) await server.close();
      const code = (err as NodeJS.ErrnoException).code;
      throw new RestoreRefused(`cannot create ${dataDir} (${code}): ${code === 'EACCES' ? `create it for the user that runs the server first, e.g. sudo install -d -o lean-capture -m 700 ${dataDir}` : 'check the path'}`);
    }
  }
  const staging = join(dataDir, `.restoring-${manifest.id}`);
  rmSync(staging, { recursive: true, force: true });
  const downloads = join(staging, 'download');
  const plain = join(staging, 'plain');
  const built = join(staging, 'data');
  mkdirSync(downloads, { recursive: true });
  mkdirSync(plain, { recursive: true });
  try {
    // 3. Every object downloaded and checked before anything is built.
    const objects: Array<{ entry: ObjectEntry; table?: string; partition?: string }> = [
      { entry: manifest.sqlite },
      ...Object.entries(manifest.tables).flatMap(([table, partitions]) => partitions.map((p) => ({ entry: p.object, table, partition: p.id }))),
    ];
    const totalBytes = objects.reduce((n, o) => n + o.entry.bytes, 0);
    let bytesDone = 0;
    const fileOf = (dir: string, entry: ObjectEntry) => join(dir, entry.key.replaceAll('/', '_'));
    for (const { entry } of objects) {
      const file = fileOf(downloads, entry);
      try {
        await options.store.getToFile(entry.key, file, (b) => progress({ step: 'download', done: bytesDone + b, total: totalBytes, unit: 'bytes' }));
      } catch (err) {
        throw new RestoreRefused(`object ${entry.key} of backup ${manifest.id} cannot be read: ${err instanceof S3Failure && err.missing ? 'it is missing' : (err as Error).message}`);
      }
      bytesDone += entry.bytes;
      if ((await fileSha256(file)) !== entry.sha256) throw new RestoreRefused(`object ${entry.key} of backup ${manifest.id} is corrupt (SHA-256 differs from the manifest)`);
    }
    let decoded = 0;
    for (const { entry } of objects) {
      try {
        await unseal(fileOf(downloads, entry), fileOf(plain, entry), entry.key, options.key, entry.contentSha256);
      } catch (err) {
        throw new RestoreRefused((err as Error).message);
      }
      rmSync(fileOf(downloads, entry));
      progress({ step: 'verify', done: ++decoded, total: objects.length, unit: 'objects' });
    }

    // 4. Build the data directory beside the target.
    mkdirSync(built, { recursive: true });
    const leadsPath = join(built, 'leads.db');
    renameSync(fileOf(plain, manifest.sqlite), leadsPath);
    const { integrity, leads } = adoptRestoredDatabase(leadsPath);
    if (integrity !== 'ok' || leads !== manifest.sqlite.leads) throw new Error(`the restored leads database does not check out (integrity: ${String(integrity)}, leads ${leads} of ${manifest.sqlite.leads})`);

    const clickhouse = server ?? (await openClickHouse({ ...(options.clickhouse as Extract<ClickHouseConfig, { mode: 'embedded' }>), path: join(built, 'clickhouse') }));
    let rows = 0;
    try {
      await migrate(clickhouse);
      const totalRows = manifest.totals.rows;
      for (const [table, partitions] of Object.entries(manifest.tables)) {
        const restoring = `${table}__restoring`;
        await clickhouse.exec(`DROP TABLE IF EXISTS ${restoring}`);
        await clickhouse.exec(`CREATE TABLE ${restoring} AS ${table}`);
        for (const partition of partitions) {
          rows += await insertFile(clickhouse, restoring, fileOf(plain, partition.object), (n) => progress({ step: `${table} ${partition.id}`, done: rows + n, total: totalRows, unit: 'rows' }));
          const [count] = await clickhouse.query<{ n: string }>(`SELECT count() AS n FROM ${restoring} WHERE _partition_id = {p:String}`, { p: partition.id });
          if (Number(count?.n) !== partition.rows) throw new Error(`${table} partition ${partition.id}: ${count?.n} rows restored, the backup holds ${partition.rows}`);
        }
        await clickhouse.exec(`EXCHANGE TABLES ${restoring} AND ${table}`);
        await clickhouse.exec(`DROP TABLE ${restoring}`);
      }
    } finally {
      await clickhouse.close();
    }

    // 5. Into place: the events first, the leads database last (a server started in between sees
    // no leads.db and would begin a new one; the window is two renames long).
    const entries = readdirSync(built).sort((a, b) => Number(a === 'leads.db') - Number(b === 'leads.db'));
    for (const entry of entries) renameSync(join(built, entry), join(dataDir, entry));
    rmSync(staging, { recursive: true, force: true });
    return { id: manifest.id, durationMs: Date.now() - started, bytes: totalBytes, rows, leads };
  } catch (err) {
    if (server) await server.close().catch(() => undefined);
    rmSync(staging, { recursive: true, force: true });
    if (created) rmSync(dataDir, { recursive: true, force: true }); // ours, and nothing was moved in
    throw diskFull(err, dataDir);
  }
}

/** A full disk says so, instead of surfacing as a "damaged" object or a raw ENOSPC. */
function diskFull(err: unknown, dataDir: string): unknown {
  const text = `${(err as Error)?.message ?? ''} ${((err as Error)?.cause as Error | undefined)?.message ?? ''}`;
  if ((err as NodeJS.ErrnoException)?.code !== 'ENOSPC' && !/ENOSPC|no space left/i.test(text)) return err;
  return new RestoreRefused(`the disk of ${dataDir} is full: a restore needs room for the decoded backup (about 15× its size while it runs); free some space and run it again`);
}

/** Inserts a JSONEachRow file in batches; returns the rows inserted. */
async function insertFile(clickhouse: ClickHouse, table: string, path: string, onRows: (n: number) => void): Promise<number> {
  let batch: string[] = [];
  let rows = 0;
  const flush = async () => {
    if (batch.length === 0) return;
    await clickhouse.insert(table, Buffer.from(batch.join('\n') + '\n'));
    rows += batch.length;
    batch = [];
    onRows(rows);
  };
  for await (const line of createInterface({ input: createReadStream(path), crlfDelay: Infinity })) {
    if (line === '') continue;
    batch.push(line);
    if (batch.length >= INSERT_ROWS) await flush();
  }
  await flush();
  return rows;
}

/** What `--list` shows. */
export function describe(manifest: Manifest): { id: string; createdAt: string; bytes: number; rows: number; leads: number; encrypted: boolean; version: string } {
  return { id: manifest.id, createdAt: manifest.createdAt, bytes: manifest.totals.bytes, rows: manifest.totals.rows, leads: manifest.totals.leads, encrypted: manifest.encryption !== null, version: manifest.app.version };
}
