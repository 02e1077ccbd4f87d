// npm run restore -- --list | --latest | --at <id> [--data-dir DIR] [--json]
// npm run backup:verify  (= restore --verify: the latest backup into scratch space, checked, then removed)
// Restores a backup from S3 into a new or empty DATA_DIR (and, with CLICKHOUSE_URL, an empty
// ClickHouse database). Every object is downloaded and verified before anything is written; the
// target is swapped in at the end, so a refusal or a failure leaves it untouched.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { listManifestIds, ManifestRejected, trustedManifest } from '../src/backup/backup.ts';
import { withDeadline } from '../src/time.ts';
import { formatBytes, formatDuration, terminalProgress } from '../src/backup/progress.ts';
import { describe, restoreBackup } from '../src/backup/restore.ts';
import { s3Store } from '../src/backup/s3.ts';
import { loadEnv, readConfigForBackups, type ClickHouseConfig } from '../src/config.ts';
import { openClickHouse } from '../src/events/open.ts';

process.umask(0o077); // what this writes (leads.db, staging, restored data) holds personal data: owner-only

let args: ReturnType<typeof parse>;
function parse() {
  return parseArgs({ options: { list: { type: 'boolean' }, latest: { type: 'boolean' }, at: { type: 'string' }, 'data-dir': { type: 'string' }, json: { type: 'boolean' }, verify: { type: 'boolean' } } }).values;
}

function fail(message: string): never {
  if (args?.json) process.stdout.write(JSON.stringify({ outcome: 'failed', error: message }) + '\n');
  else process.stderr.write(`restore: ${message}\n`);
  process.exit(1);
}

try {
  args = parse();
} catch (err) {
  fail(`${(err as Error).message}\nusage: npm run restore -- --list | --latest | --at <id> [--data-dir DIR] [--json]`);
}
let config: ReturnType<typeof readConfigForBackups>;
try {
  config = readConfigForBackups(loadEnv());
} catch (err) {
  fail((err as Error).message);
}
const store = s3Store(config.backup.s3);

async function list(): Promise<void> {
  const manifests = [];
  for (const id of await listManifestIds(store)) {
    try {
      const manifest = await trustedManifest(store, id, config.backup.encryptionKey);
      if (manifest) manifests.push(describe(manifest));
    } catch (err) {
      if (!(err instanceof ManifestRejected)) throw err;
      process.stderr.write(`${id}: cannot be restored: ${err.message}\n`);
    }
  }
  if (args.json) process.stdout.write(JSON.stringify(manifests) + '\n');
  else if (manifests.length === 0) process.stdout.write(`no backups in ${store.location}\n`);
  else {
    for (const m of manifests) process.stdout.write(`${m.id}  ${m.createdAt}  ${formatBytes(m.bytes).padStart(9)}  ${m.rows.toLocaleString('en-US').padStart(11)} events  ${m.leads.toLocaleString('en-US').padStart(7)} leads  ${m.encrypted ? 'encrypted' : 'plain'}  v${m.version}\n`);
  }
}

/**
 * The restore drill (--verify) restores into scratch space on the data disk (the system temp
 * directory may be RAM, and the decoded backup is many times its size), and in server mode into a
 * scratch database on the same ClickHouse server; both are removed afterwards.
 */
async function restore(): Promise<void> {
  if (!args.latest && !args.at && !args.verify) fail('say which backup: --latest or --at <id> (--list shows them)');
  const id = args.at ?? (await listManifestIds(store)).at(-1);
  if (!id) fail(`no backups in ${store.location}`);
  let scratch: string | undefined;
  if (args.verify) {
    mkdirSync(config.dataDir, { recursive: true });
    scratch = mkdtempSync(join(config.dataDir, '.verify-'));
  }
  const dataDir = scratch ? join(scratch, 'data') : resolve(args['data-dir'] ?? config.dataDir);
  const clickhouse: ClickHouseConfig = config.clickhouse.mode === 'server'
    ? { ...config.clickhouse, database: scratch ? `${config.clickhouse.database}_verify` : config.clickhouse.database }
    : { mode: 'embedded', path: join(dataDir, 'clickhouse'), database: config.clickhouse.database };
  const dropScratchDatabase = async () => {
    if (!scratch || clickhouse.mode !== 'server') return;
    const db = await openClickHouse(config.clickhouse);
    await db.exec(`DROP DATABASE IF EXISTS ${clickhouse.database}`).finally(() => db.close());
  };
  const progress = args.json ? { update: () => undefined, end: () => undefined } : terminalProgress(args.verify ? 'verify' : 'restore');
  try {
    await dropScratchDatabase(); // a drill that was killed may have left one
    const result = await withDeadline(
      restoreBackup({ store, id, key: config.backup.encryptionKey, dataDir, clickhouse, onProgress: progress.update }),
      config.backup.timeoutMs,
      `the restore did not finish within ${Math.round(config.backup.timeoutMs / 60_000)} min (BACKUP_TIMEOUT_MS)`,
    );
    progress.end();
    if (args.json) process.stdout.write(JSON.stringify({ outcome: 'ok', ...result, dataDir: scratch ? undefined : dataDir }) + '\n');
    else {
      const what = `${result.rows.toLocaleString('en-US')} events and ${result.leads.toLocaleString('en-US')} leads (${formatBytes(result.bytes)})`;
      process.stdout.write(
        args.verify
          ? `backup ${result.id} verified: every checksum matches, ${what} restored${clickhouse.mode === 'server' ? ` into the scratch database ${clickhouse.database}` : ''} and counted in ${formatDuration(result.durationMs)}\n`
          : `restored backup ${result.id} into ${dataDir}${clickhouse.mode === 'server' ? ` and ClickHouse ${clickhouse.database}` : ''}: ${what} in ${formatDuration(result.durationMs)}. Start the server with DATA_DIR=${dataDir}.\n`,
      );
    }
  } finally {
    progress.end();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
    await dropScratchDatabase().catch(() => undefined);
  }
}

try {
  await (args.list ? list() : restore());
  process.exit(0);
} catch (err) {
  // One line that names the cause (S3, the key, the disk …), never a stack trace.
  fail((err as Error).message);
}
