// Backups as the running server sees them: one at a time, started from the admin API (the
// backup script asks for it, since only this process can read the embedded ClickHouse), with
// live progress; every outcome recorded in SQLite for /api/admin/status and the PWA; and the
// owner told, through the outbox, when a backup fails or the last good one is too old.
import type { OwnerAlert } from '../notify/texts.ts';
import type { Logger } from '../log.ts';
import type { Settings } from '../db/settings.ts';
import { runBackup, type BackupDeps, type BackupResult, type Progress } from './backup.ts';

export interface BackupRecord {
  outcome: 'ok' | 'failed';
  at: string;
  durationMs: number;
  /** Set on success. */
  result?: BackupResult;
  error?: string;
}

const LAST = 'backup.last';
const LAST_OK = 'backup.last_ok';

/** Remembers a backup's outcome (the script records its own runs the same way). */
export function recordBackup(settings: Settings, record: BackupRecord): void {
  settings.put(LAST, JSON.stringify(record));
  if (record.outcome === 'ok') settings.put(LAST_OK, JSON.stringify(record));
}

export function backupRecords(settings: Settings): { last: BackupRecord | undefined; lastOk: BackupRecord | undefined } {
  const get = (key: string) => {
    const value = settings.get(key);
    return value === undefined ? undefined : (JSON.parse(value) as BackupRecord);
  };
  return { last: get(LAST), lastOk: get(LAST_OK) };
}

export interface Alerts {
  /** Tells the owner once per `key`. */
  notify(key: string, alert: OwnerAlert): void;
}

interface Run {
  startedAt: number;
  progress: Progress | undefined;
  done: Promise<BackupRecord>;
}

export class Backups {
  private current: Run | undefined;
  /** Without any good backup yet, lateness counts from when this server started. */
  private readonly since = Date.now();

  constructor(
    private readonly deps: BackupDeps | undefined,
    private readonly settings: Settings,
    private readonly alerts: Alerts,
    private readonly log: Logger,
  ) {}

  get configured(): boolean {
    return this.deps !== undefined;
  }

  /** Starts a backup unless one runs; returns the run's outcome promise (which never rejects). */
  start(): { started: boolean; done: Promise<BackupRecord> } {
    if (this.current) return { started: false, done: this.current.done };
    if (!this.deps) throw new Error('backups are not configured (set S3_BUCKET)');
    const deps = this.deps;
    const startedAt = Date.now();
    const run: Run = { startedAt, progress: undefined, done: Promise.resolve(undefined as never) };
    run.done = runBackup(deps, (p) => (run.progress = p))
      .then((result): BackupRecord => {
        this.log.info({ backup: result.id, bytes: result.bytes, uploaded: result.uploadedBytes, rows: result.rows, leads: result.leads, ms: result.durationMs }, 'backup done');
        return { outcome: 'ok', at: new Date().toISOString(), durationMs: result.durationMs, result };
      })
      .catch((err: unknown): BackupRecord => {
        const error = err instanceof Error ? err.message : String(err);
        this.log.error({ err }, 'backup failed');
        this.alerts.notify(`backup-failed:${startedAt}`, { kind: 'backup-failed', error: error.slice(0, 200) });
        return { outcome: 'failed', at: new Date().toISOString(), durationMs: Date.now() - startedAt, error };
      })
      .then((record) => {
        this.current = undefined;
        try {
          recordBackup(this.settings, record);
        } catch (err) {
          this.log.warn({ err }, 'could not record the backup outcome (shutting down?)');
        }
        return record;
      });
    this.current = run;
    return { started: true, done: run.done };
  }

  /** For /api/admin/status, the PWA and the backup script's progress. */
  status(): Record<string, unknown> {
    const { last, lastOk } = backupRecords(this.settings);
    return {
      configured: this.configured,
      ...(this.deps ? { location: this.deps.store.location, encrypted: this.deps.config.encryptionKey !== undefined, maxAgeHours: this.deps.config.maxAgeHours } : {}),
      running: this.current ? { startedAt: new Date(this.current.startedAt).toISOString(), progress: this.current.progress } : null,
      last: last ?? null,
      lastOk: lastOk ?? null,
    };
  }

  /** Checks the backups' age every hour from now on; returns the function that stops it. */
  watchAge(): () => void {
    const timer = setInterval(() => this.checkAge(), 3_600_000);
    timer.unref();
    return () => clearInterval(timer);
  }

  /**
   * Tells the owner (once a day) when the last good backup is older than BACKUP_MAX_AGE_HOURS —
   * also while a backup runs: a run that hangs is no backup.
   */
  checkAge(now = Date.now()): void {
    if (!this.deps) return;
    const { lastOk } = backupRecords(this.settings);
    const ageHours = (now - (lastOk ? Date.parse(lastOk.at) : this.since)) / 3_600_000;
    if (ageHours <= this.deps.config.maxAgeHours) return;
    this.alerts.notify(`backup-missing:${new Date(now).toISOString().slice(0, 10)}`, { kind: 'backup-late', hours: lastOk ? Math.floor(ageHours) : undefined });
  }
}
