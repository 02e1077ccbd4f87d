// The app's SQLite database (DATA_DIR/leads.db) as the rest of the server sees it: one store per
// table family. Nothing outside src/db/ touches the connection; work that must commit together
// across stores runs in `transaction` (better-sqlite3 nests it as a savepoint).
import Database from 'better-sqlite3';
import { openDatabase, schemaVersion, type Db } from './database.ts';

export { NewerSchema, NotADataDir, SQLITE_SCHEMA_VERSION } from './database.ts';
import { LeadStore } from './leads.ts';
import { Outbox } from './outbox.ts';
import { PersonalData } from './privacy.ts';
import { PushSubscriptions } from './push.ts';
import { LeadReports } from './reports.ts';
import { Sessions } from './sessions.ts';
import { Settings } from './settings.ts';
import { CheckoutLedger } from './checkout.ts';

export interface StorageOptions {
  /** Refuse a path without leads.db (the admin commands), instead of starting an empty database. */
  existing?: boolean;
  outboxMaxAttempts?: number;
  outboxStatusCheckMs?: number;
}

export class Storage {
  readonly leads: LeadStore;
  readonly outbox: Outbox;
  readonly settings: Settings;
  readonly sessions: Sessions;
  readonly push: PushSubscriptions;
  readonly checkout: CheckoutLedger;
  readonly reports: LeadReports;
  readonly personalData: PersonalData;

  private constructor(private readonly db: Db, options: StorageOptions) {
    this.leads = new LeadStore(db);
    this.outbox = new Outbox(db, options.outboxMaxAttempts ?? 10, options.outboxStatusCheckMs);
    this.settings = new Settings(db);
    this.sessions = new Sessions(db);
    this.push = new PushSubscriptions(db);
    this.checkout = new CheckoutLedger(db);
    this.reports = new LeadReports(db);
    this.personalData = new PersonalData(db);
  }

  /** Opens (creating unless `existing`) and migrates the database at `path`. */
  static open(path: string, options: StorageOptions = {}): Storage {
    return new Storage(openDatabase(path, options.existing), options);
  }

  transaction<T>(work: () => T): T {
    return this.db.transaction(work)();
  }

  schemaVersion(): number {
    return schemaVersion(this.db);
  }

  leadCount(): number {
    return this.db.prepare('SELECT count(*) FROM leads').pluck().get() as number;
  }

  /** A consistent copy at `path` while the server writes (SQLite's online backup API), with what it holds. */
  async snapshot(path: string): Promise<{ leads: number; schemaVersion: number }> {
    await this.db.backup(path);
    const copy = new Database(path, { readonly: true });
    try {
      return { leads: copy.prepare('SELECT count(*) FROM leads').pluck().get() as number, schemaVersion: schemaVersion(copy) };
    } finally {
      copy.close();
    }
  }

  close(): void {
    this.db.close();
  }
}

/**
 * Checks a restored copy of leads.db and makes it a new installation's: its backups get their own
 * instance name (see backupInstance). Returns SQLite's integrity verdict and the leads it holds.
 */
export function adoptRestoredDatabase(path: string): { integrity: unknown; leads: number } {
  const db = new Database(path);
  try {
    const integrity = db.pragma('integrity_check', { simple: true });
    const leads = db.prepare('SELECT count(*) FROM leads').pluck().get() as number;
    db.prepare("DELETE FROM settings WHERE key = 'backup.instance'").run();
    return { integrity, leads };
  } finally {
    db.close();
  }
}
