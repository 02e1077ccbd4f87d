// npm run bench:backup [-- events leads]: backup and restore time and size for a realistic data
// set (default 1 000 000 events over 90 days and 10 000 leads), against a local S3 (s3rver).
// Baseline, measured in the same run: reading the same events out of ClickHouse as JSONEachRow
// (the export alone, no compression, encryption or upload). Prints one summary line.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import S3rver from 's3rver';
import { Storage } from '../src/db/storage.ts';
import { newLead } from '../src/leads/lead.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const EVENTS = Number(process.argv[2] ?? 1_000_000);
const LEADS = Number(process.argv[3] ?? 10_000);
const work = mkdtempSync(join(tmpdir(), 'lc-bench-backup-'));
const dataDir = join(work, 'data');
const GEO = { country: 'TR', region: 'Istanbul', city: 'Istanbul' };

function run(args: string[], env: Record<string, string> = {}): Promise<{ ms: number; stdout: string }> {
  const started = performance.now();
  const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), ...args], { cwd: work, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  let stdout = '';
  child.stdout.on('data', (c) => (stdout += c));
  return new Promise((resolve, reject) =>
    child.once('exit', (code) => (code === 0 ? resolve({ ms: performance.now() - started, stdout }) : reject(new Error(`${args.join(' ')} exited ${code}: ${stdout}`)))),
  );
}

const s3dir = join(work, 's3');
const s3 = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: s3dir, configureBuckets: [{ name: 'bench' }] });
const { port } = await s3.run();
const env = {
  DATA_DIR: dataDir,
  S3_ENDPOINT: `http://127.0.0.1:${port}`,
  S3_BUCKET: 'bench',
  S3_ACCESS_KEY_ID: 'S3RVER',
  S3_SECRET_ACCESS_KEY: 'S3RVER',
  S3_FORCE_PATH_STYLE: 'true',
  BACKUP_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  LOG_LEVEL: 'warn',
};
try {
  process.stderr.write(`seeding ${EVENTS.toLocaleString('en-US')} events and ${LEADS.toLocaleString('en-US')} leads…\n`);
  const seed = await run([join(ROOT, 'bench/seed-events.ts'), dataDir, String(EVENTS)]);
  const baseline = JSON.parse(seed.stdout) as { exportMs: number; exportBytes: number };
  const storage = Storage.open(join(dataDir, 'leads.db'));
  storage.transaction(() => {
    for (let i = 0; i < LEADS; i++) {
      storage.leads.create(newLead(
        { eventId: `bench-${i}`, name: `Müşteri ${i}`, phone: `+90532${String(i).padStart(7, '0')}`, email: `m${i}@example.com`, message: 'Kombi su kaçırıyor, yarın gelebilir misiniz?', service: undefined, extra: undefined, refCode: undefined, consentAds: true,
      consentPersonalization: undefined, visitorId: `v${i}`, sessionId: undefined, pageUrl: 'https://usta.example.com/kombi', referrer: undefined, attribution: { gclid: `Cj0KCQiA${i}` } },
        { source: 'form', clientIp: '81.214.10.20', userAgent: 'Mozilla/5.0', geo: GEO },
      ));
    }
  });
  storage.close();

  process.stderr.write('backup…\n');
  const full = await run([join(ROOT, 'scripts/backup.ts'), '--json'], env);
  const first = JSON.parse(full.stdout).result as { bytes: number; uploadedBytes: number; objects: number; rows: number; leads: number };
  const again = await run([join(ROOT, 'scripts/backup.ts'), '--json'], env);
  const second = JSON.parse(again.stdout).result as { uploadedBytes: number; reusedObjects: number };
  process.stderr.write('restore…\n');
  const restore = await run([join(ROOT, 'scripts/restore.ts'), '--latest', '--json', '--data-dir', join(work, 'restored')], env);
  const restored = JSON.parse(restore.stdout) as { rows: number; leads: number };
  if (restored.rows !== first.rows || restored.leads !== LEADS) throw new Error(`restored ${restored.rows} events and ${restored.leads} leads, backed up ${first.rows} and ${LEADS}`);

  const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;
  const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  process.stdout.write(
    `bench backup: ${first.rows.toLocaleString('en-US')} events + ${first.leads.toLocaleString('en-US')} leads → ${mb(first.bytes)} in ${first.objects} objects (JSON ${mb(baseline.exportBytes)}, ${(baseline.exportBytes / first.bytes).toFixed(1)}x smaller) | ` +
      `backup ${s(full.ms)} (${(full.ms / baseline.exportMs).toFixed(1)}x the bare export, ${s(baseline.exportMs)}) | next backup ${s(again.ms)}, uploaded ${mb(second.uploadedBytes)}, ${second.reusedObjects} partitions reused | ` +
      `restore ${s(restore.ms)} (${(restore.ms / baseline.exportMs).toFixed(1)}x the bare export), all rows verified\n`,
  );
} finally {
  await s3.close();
  rmSync(work, { recursive: true, force: true });
}
