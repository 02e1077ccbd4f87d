// npm run backup [-- --json]: one backup to S3, for the admin over SSH and for the nightly timer.
// While a server runs on DATA_DIR it alone can read the embedded ClickHouse, so the script asks
// it (admin API on loopback, ADMIN_TOKEN) to take the backup and follows its progress; with no
// server running, the script takes the backup itself. Exit code 0 on success, 1 with the reason.
import { backupDeps, runBackup, type BackupResult, type Progress } from '../src/backup/backup.ts';
import { formatBytes, formatDuration, terminalProgress } from '../src/backup/progress.ts';
import { recordBackup, type BackupRecord } from '../src/backup/service.ts';
import { loadEnv, readConfigForBackups } from '../src/config.ts';
import { openClickHouse } from '../src/events/open.ts';
import { journalOwner } from '../src/events/owner-lock.ts';
import { migrate } from '../src/events/schema.ts';
import { NewerSchema, NotADataDir, Storage } from '../src/db/storage.ts';

process.umask(0o077); // what this writes (leads.db, staging, restored data) holds personal data: owner-only

type BackupSettings = ReturnType<typeof readConfigForBackups>;

const json = process.argv.includes('--json');
const progress = json ? { update: () => undefined, end: () => undefined } : terminalProgress('backup');

function fail(message: string): never {
  progress.end();
  if (json) process.stdout.write(JSON.stringify({ outcome: 'failed', error: message }) + '\n');
  else process.stderr.write(`backup failed: ${message}\n`);
  process.exit(1);
}

async function viaServer(config: BackupSettings, pid: number): Promise<BackupRecord> {
  if (!config.adminToken) fail(`a Lean Capture server (pid ${pid}) is using ${config.dataDir} and only it can read the embedded ClickHouse: set ADMIN_TOKEN (in .env) so this script can ask it for the backup`);
  const host = config.host === '0.0.0.0' ? '127.0.0.1' : config.host === '::' ? '[::1]' : config.host.includes(':') ? `[${config.host}]` : config.host;
  const base = `http://${host}:${config.port}`;
  const call = async (method: string) => {
    const res = await fetch(`${base}/api/admin/backups`, { method, headers: { Authorization: `Bearer ${config.adminToken}` } }).catch((err: Error) => fail(`the server on ${base} does not answer: ${err.message}`));
    const body = (await res.json().catch(() => ({}))) as Record<string, any>;
    return { status: res.status, body };
  };
  const asked = Date.now();
  const start = await call('POST');
  if (start.status === 409 && start.body.type?.endsWith('/backup-running')) process.stderr.write('a backup is already running; following it\n');
  else if (start.status !== 202) fail(`the server refused: ${start.body.title ?? start.status}${start.body.detail ? ` — ${start.body.detail}` : ''}`);
  for (;;) {
    await new Promise((r) => setTimeout(r, 300));
    const { status, body } = await call('GET');
    if (status !== 200) fail(`the server answered ${status} while the backup ran`);
    if (body.running) {
      if (body.running.progress) progress.update(body.running.progress as Progress);
      continue;
    }
    const last = body.last as BackupRecord | null;
    if (last && Date.parse(last.at) >= asked - 1000) return last;
    fail('the server finished without recording a backup outcome');
  }
}

async function itself(config: BackupSettings): Promise<BackupRecord> {
  let storage;
  try {
    storage = Storage.open(config.leads.databasePath, { existing: true });
  } catch (err) {
    if (err instanceof NotADataDir || err instanceof NewerSchema) fail(err.message);
    throw err;
  }
  const started = Date.now();
  let record: BackupRecord;
  try {
    const clickhouse = await openClickHouse(config.clickhouse);
    try {
      await migrate(clickhouse);
      const result: BackupResult = await runBackup(backupDeps(config, storage, clickhouse), progress.update);
      record = { outcome: 'ok', at: new Date().toISOString(), durationMs: result.durationMs, result };
    } finally {
      await clickhouse.close();
    }
  } catch (err) {
    record = { outcome: 'failed', at: new Date().toISOString(), durationMs: Date.now() - started, error: err instanceof Error ? err.message : String(err) };
  }
  recordBackup(storage.settings, record);
  storage.close();
  return record;
}

let config: BackupSettings;
try {
  config = readConfigForBackups(loadEnv());
} catch (err) {
  fail((err as Error).message);
}
const pid = journalOwner(config.journal.dir);
const record = pid !== undefined ? await viaServer(config, pid) : await itself(config);
progress.end();
if (record.outcome !== 'ok') fail(record.error ?? 'unknown error');
const r = record.result!;
if (json) process.stdout.write(JSON.stringify(record) + '\n');
else {
  process.stdout.write(
    `backup ${r.id}: ${r.rows.toLocaleString('en-US')} events, ${r.leads.toLocaleString('en-US')} leads, ${formatBytes(r.bytes)} in ${r.objects} objects ` +
      `(uploaded ${formatBytes(r.uploadedBytes)}, ${r.reusedObjects} unchanged reused; pruned ${r.pruned.backups} old backups) in ${formatDuration(r.durationMs)} → ${config.backup.s3.bucket}/${config.backup.s3.prefix}${config.backup.encryptionKey ? ', encrypted' : ', NOT encrypted'}\n`,
  );
}
