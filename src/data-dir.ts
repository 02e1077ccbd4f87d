// DATA_DIR holds leads, the journal and backup staging, all personal data: it is created
// owner-only, and everything the server creates in it is owner-only too (umask 077).
import { chmodSync, mkdirSync } from 'node:fs';
import type { Logger } from './log.ts';

export class DataDirUnusable extends Error {}

export function prepareDataDir(dir: string, log: Logger): void {
  process.umask(0o077);
  try {
    mkdirSync(dir, { recursive: true });
  } catch (err) {
    throw new DataDirUnusable(`DATA_DIR ${dir} cannot be created (${(err as NodeJS.ErrnoException).code}): set DATA_DIR in .env to a writable directory (with the systemd unit: /var/lib/lean-capture)`);
  }
  try {
    chmodSync(dir, 0o700);
  } catch (err) {
    log.warn({ err, dataDir: dir }, 'DATA_DIR could not be made owner-only (chmod 700 it yourself)');
  }
}
