// Checks of backups: the bucket with these keys (a probe object written, read back and deleted
// under the prefix), the encryption key, and the age of the last good backup.
import type { BackupConfig } from '../config.ts';
import { s3Store } from '../backup/s3.ts';
import type { BackupRecord } from '../backup/service.ts';
import { fail, ok, warn, type Check } from './report.ts';

export async function backupChecks(config: BackupConfig | undefined, lastOk: BackupRecord | undefined, now = Date.now()): Promise<Check[]> {
  const name = 'Backups';
  if (!config) return [warn(name, 'not configured: leads and events are not backed up', 'Set S3_BUCKET and its keys (docs/deploy.md, section 8).')];
  const store = s3Store(config.s3);
  const key = `connection-check/${now}.txt`;
  const text = `Lean Capture connection check ${new Date(now).toISOString()}`;
  const checks: Check[] = [];
  try {
    await store.putText(key, text);
    const back = await store.getText(key);
    await store.remove([key]);
    if (back !== text) throw new Error('the probe object read back differs from what was written');
    checks.push(ok(name, `${store.location}: a probe object was written, read back and deleted`));
  } catch (err) {
    return [fail(name, (err as Error).message.slice(0, 400), 'Check S3_BUCKET, S3_ENDPOINT, S3_REGION and the keys (S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY): they need read, write, list and delete on the prefix.')];
  }
  if (!config.encryptionKey) checks.push(warn(name, 'backups are not encrypted (they hold phone numbers)', 'Set BACKUP_ENCRYPTION_KEY (openssl rand -hex 32) and keep a copy of it away from the server.'));
  else checks.push(ok(name, 'backups are encrypted (BACKUP_ENCRYPTION_KEY)'));
  if (!lastOk) checks.push(warn(name, 'no backup has succeeded yet', 'Run npm run backup once, and keep the nightly timer (docs/deploy.md, section 8).'));
  else {
    const hours = Math.floor((now - Date.parse(lastOk.at)) / 3_600_000);
    const words = `last good backup ${hours} hours ago (${lastOk.at.slice(0, 16).replace('T', ' ')} UTC)`;
    checks.push(hours > config.maxAgeHours ? fail(name, words, `Backups are late (BACKUP_MAX_AGE_HOURS is ${config.maxAgeHours}): run npm run backup and read its error.`) : ok(name, words));
  }
  return checks;
}
