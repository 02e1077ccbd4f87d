// npm run restore -- --list | --latest | --at <id> [--data-dir DIR] [--json]
// npm run backup:verify  (= restore --verify: the latest backup into a temporary directory, checked, then removed)
// Restores a backup from S3 into a new or empty DATA_DIR (and, with CLICKHOUSE_URL, an empty
// ClickHouse database). Every object is downloaded and verified before anything is written; the
// target is swapped in at the end, so a refusal or a failure leaves it untouched.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { listManifestIds, ManifestRejected, trustedManifest } from '../src/backup/backup.ts';
import { formatBytes, formatDuration, terminalProgress } from '../src/backup/progress.ts';
import { describe, restoreBackup } from '../src/backup/restore.ts';
import { s3Store } from '../src/backup/s3.ts';
import { loadEnv, readConfigForBackups } from '../src/config.ts';

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

if (args.list) {
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
  process.exit(0);
}

if (!args.latest && !args.at && !args.verify) fail('say which backup: --latest or --at <id> (--list shows them)');
const id = args.at ?? (await listManifestIds(store)).at(-1);
if (!id) fail(`no backups in ${store.location}`);

// --verify restores into a scratch directory with the embedded engine, whatever the server uses.
const scratch = args.verify ? mkdtempSync(join(tmpdir(), 'lean-capture-verify-')) : undefined;
const dataDir = scratch ? join(scratch, 'data') : resolve(args['data-dir'] ?? config.dataDir);
const clickhouse = scratch || config.clickhouse.mode === 'embedded' ? { mode: 'embedded' as const, path: join(dataDir, 'clickhouse'), database: config.clickhouse.database } : config.clickhouse;
const progress = args.json ? { update: () => undefined, end: () => undefined } : terminalProgress(args.verify ? 'verify' : 'restore');
try {
  const result = await restoreBackup({ store, id, key: config.backup.encryptionKey, dataDir, clickhouse, onProgress: progress.update });
  progress.end();
  if (args.json) process.stdout.write(JSON.stringify({ outcome: 'ok', ...result, dataDir: scratch ? undefined : dataDir }) + '\n');
  else {
    const what = `${result.rows.toLocaleString('en-US')} events and ${result.leads.toLocaleString('en-US')} leads (${formatBytes(result.bytes)})`;
    process.stdout.write(
      args.verify
        ? `backup ${result.id} verified: every checksum matches, ${what} restored and counted in ${formatDuration(result.durationMs)}\n`
        : `restored backup ${result.id} into ${dataDir}${clickhouse.mode === 'server' ? ` and ClickHouse ${clickhouse.database}` : ''}: ${what} in ${formatDuration(result.durationMs)}. Start the server with DATA_DIR=${dataDir}.\n`,
    );
  }
} catch (err) {
  progress.end();
  fail((err as Error).message);
} finally {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
}
