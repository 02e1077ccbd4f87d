// The SQLite database (DATA_DIR/leads.db): leads, their status history, the outbox of outbound
// deliveries, push subscriptions and settings. better-sqlite3, WAL, foreign keys, versioned
// migrations at start.
//
// Durability: synchronous=FULL with WAL fsyncs the WAL at every commit, so a lead answered 2xx
// survives a process crash and a power cut alike (a commit costs one fsync, ~1 ms on an SSD; a
// small business gets a few leads an hour). NORMAL would survive a process crash but could lose
// the last commits on a power cut.
import Database from 'better-sqlite3';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { dayIn } from '../time.ts';

export type Db = Database.Database;

/** `rebuildsTables`: the migration recreates tables others refer to, so foreign keys are off while it runs (SQLite's documented procedure). */
export const MIGRATIONS: ReadonlyArray<{ version: number; name: string; sql: string; rebuildsTables?: boolean }> = [
  {
    version: 1,
    name: 'leads, history, outbox, push subscriptions, settings',
    sql: `
      CREATE TABLE leads (
        id TEXT PRIMARY KEY,
        event_id TEXT UNIQUE,
        source TEXT NOT NULL CHECK (source IN ('form', 'call', 'whatsapp', 'google_lead_form')),
        status TEXT NOT NULL DEFAULT 'NEW' CHECK (status IN ('NEW', 'CONTACTED', 'QUOTED', 'SOLD', 'LOST')),
        is_test INTEGER NOT NULL DEFAULT 0,
        name TEXT, phone TEXT, email TEXT, message TEXT, service TEXT, extra TEXT, ref_code TEXT,
        gclid TEXT, gbraid TEXT, wbraid TEXT, fbclid TEXT, msclkid TEXT, fbc TEXT, fbp TEXT,
        utm_source TEXT, utm_medium TEXT, utm_campaign TEXT, utm_term TEXT, utm_content TEXT,
        landing_page TEXT, page_url TEXT, referrer TEXT, visitor_id TEXT, session_id TEXT,
        client_ip TEXT, user_agent TEXT, country TEXT, region TEXT, city TEXT,
        consent_ads INTEGER,
        google_campaign_id TEXT, google_form_id TEXT,
        sale_value REAL, sale_currency TEXT, sold_at INTEGER,
        note TEXT,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      );
      CREATE INDEX leads_status ON leads (status);
      CREATE INDEX leads_ref_code ON leads (ref_code);

      CREATE TABLE lead_history (
        id INTEGER PRIMARY KEY,
        lead_id TEXT NOT NULL REFERENCES leads (id) ON DELETE CASCADE,
        at INTEGER NOT NULL,
        actor TEXT NOT NULL,
        field TEXT NOT NULL,
        old_value TEXT,
        new_value TEXT
      );
      CREATE INDEX lead_history_lead ON lead_history (lead_id, at);

      CREATE TABLE outbox (
        id INTEGER PRIMARY KEY,
        destination TEXT NOT NULL,
        dedup_key TEXT NOT NULL UNIQUE,
        lead_id TEXT REFERENCES leads (id) ON DELETE CASCADE,
        payload TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sending', 'done', 'dead')),
        attempts INTEGER NOT NULL DEFAULT 0,
        max_attempts INTEGER NOT NULL,
        next_attempt_at INTEGER NOT NULL,
        last_error TEXT,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      );
      CREATE INDEX outbox_due ON outbox (state, next_attempt_at);

      CREATE TABLE outbox_attempts (
        id INTEGER PRIMARY KEY,
        job_id INTEGER NOT NULL REFERENCES outbox (id) ON DELETE CASCADE,
        at INTEGER NOT NULL,
        outcome TEXT NOT NULL CHECK (outcome IN ('ok', 'transient', 'permanent')),
        http_status INTEGER,
        response TEXT,
        duration_ms INTEGER NOT NULL
      );
      CREATE INDEX outbox_attempts_job ON outbox_attempts (job_id, at);

      CREATE TABLE push_subscriptions (
        id INTEGER PRIMARY KEY,
        endpoint TEXT NOT NULL UNIQUE,
        p256dh TEXT NOT NULL,
        auth TEXT NOT NULL,
        user_agent TEXT,
        created_at INTEGER NOT NULL
      );

      CREATE TABLE settings (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
      );
    `,
  },
  {
    version: 2,
    name: 'owner sessions',
    sql: `
      CREATE TABLE sessions (
        id TEXT PRIMARY KEY,
        created_at INTEGER NOT NULL,
        last_seen_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        user_agent TEXT
      );
    `,
  },
  {
    version: 3,
    name: 'Stripe events already processed',
    sql: `
      CREATE TABLE stripe_events (
        id TEXT PRIMARY KEY,
        received_at INTEGER NOT NULL
      );
    `,
  },
  {
    version: 4,
    name: 'outbox: parked attempts, and the far side\'s processing outcome of a delivery',
    sql: `
      CREATE TABLE outbox_attempts_v4 (
        id INTEGER PRIMARY KEY,
        job_id INTEGER NOT NULL REFERENCES outbox (id) ON DELETE CASCADE,
        at INTEGER NOT NULL,
        outcome TEXT NOT NULL CHECK (outcome IN ('ok', 'transient', 'permanent', 'parked')),
        http_status INTEGER,
        response TEXT,
        duration_ms INTEGER NOT NULL
      );
      INSERT INTO outbox_attempts_v4 SELECT * FROM outbox_attempts;
      DROP TABLE outbox_attempts;
      ALTER TABLE outbox_attempts_v4 RENAME TO outbox_attempts;
      CREATE INDEX outbox_attempts_job ON outbox_attempts (job_id, at);

      -- Set when the far side processes deliveries after accepting them (Google's request id):
      -- remote_status is processing, accepted, partial or rejected; remote_check_at is when to ask next.
      ALTER TABLE outbox ADD COLUMN remote_ref TEXT;
      ALTER TABLE outbox ADD COLUMN remote_status TEXT;
      ALTER TABLE outbox ADD COLUMN remote_detail TEXT;
      ALTER TABLE outbox ADD COLUMN remote_check_at INTEGER;
      CREATE INDEX outbox_remote_check ON outbox (remote_status, remote_check_at);
    `,
  },
  {
    version: 5,
    name: 'leads: when contact data was removed by retention',
    sql: `
      ALTER TABLE leads ADD COLUMN anonymised_at INTEGER;
      CREATE INDEX leads_phone ON leads (phone);
      CREATE INDEX leads_email ON leads (email);
      CREATE INDEX leads_visitor ON leads (visitor_id);
    `,
  },
  {
    version: 6,
    name: 'leads: held by the spam checks (honeypot, too fast, flood)',
    sql: `
      ALTER TABLE leads ADD COLUMN flag TEXT;
      CREATE INDEX leads_ip_created ON leads (client_ip, created_at);
    `,
  },
  {
    version: 7,
    name: 'leads: client network (IPv4 address or IPv6 /64) for the flood checks',
    sql: `
      ALTER TABLE leads ADD COLUMN client_net TEXT;
      UPDATE leads SET client_net = client_ip;
      CREATE INDEX leads_net_created ON leads (client_net, created_at);
    `,
  },
  {
    version: 8,
    name: 'Stripe payments: one sale per payment whatever events arrive, refunds restate it',
    sql: `
      CREATE TABLE stripe_payments (
        key TEXT PRIMARY KEY,
        lead_id TEXT NOT NULL REFERENCES leads (id) ON DELETE CASCADE,
        amount INTEGER NOT NULL,
        currency TEXT NOT NULL,
        refunded INTEGER NOT NULL DEFAULT 0,
        updated_at INTEGER NOT NULL
      );
      CREATE INDEX stripe_payments_lead ON stripe_payments (lead_id);
    `,
  },
  {
    version: 9,
    name: 'outbox: deliveries skipped by design (no consent, no click id, a test lead) have their own state',
    rebuildsTables: true,
    sql: `
      CREATE TABLE outbox_v9 (
        id INTEGER PRIMARY KEY,
        destination TEXT NOT NULL,
        dedup_key TEXT NOT NULL UNIQUE,
        lead_id TEXT REFERENCES leads (id) ON DELETE CASCADE,
        payload TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sending', 'done', 'skipped', 'dead')),
        attempts INTEGER NOT NULL DEFAULT 0,
        max_attempts INTEGER NOT NULL,
        next_attempt_at INTEGER NOT NULL,
        last_error TEXT,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        remote_ref TEXT,
        remote_status TEXT,
        remote_detail TEXT,
        remote_check_at INTEGER
      );
      INSERT INTO outbox_v9 (id, destination, dedup_key, lead_id, payload, state, attempts, max_attempts, next_attempt_at, last_error, created_at, updated_at, remote_ref, remote_status, remote_detail, remote_check_at)
        SELECT id, destination, dedup_key, lead_id, payload, state, attempts, max_attempts, next_attempt_at, last_error, created_at, updated_at, remote_ref, remote_status, remote_detail, remote_check_at FROM outbox;
      DROP TABLE outbox;
      ALTER TABLE outbox_v9 RENAME TO outbox;
      CREATE INDEX outbox_due ON outbox (state, next_attempt_at);
      CREATE INDEX outbox_remote_check ON outbox (remote_status, remote_check_at);

      CREATE TABLE outbox_attempts_v9 (
        id INTEGER PRIMARY KEY,
        job_id INTEGER NOT NULL REFERENCES outbox (id) ON DELETE CASCADE,
        at INTEGER NOT NULL,
        outcome TEXT NOT NULL CHECK (outcome IN ('ok', 'transient', 'permanent', 'parked', 'skipped')),
        http_status INTEGER,
        response TEXT,
        duration_ms INTEGER NOT NULL
      );
      INSERT INTO outbox_attempts_v9 SELECT * FROM outbox_attempts;
      DROP TABLE outbox_attempts;
      ALTER TABLE outbox_attempts_v9 RENAME TO outbox_attempts;
      CREATE INDEX outbox_attempts_job ON outbox_attempts (job_id, at);
    `,
  },
  {
    version: 10,
    name: 'leads: ad_personalization consent, when the page\'s Consent Mode said it',
    sql: `
      ALTER TABLE leads ADD COLUMN consent_personalization INTEGER;
    `,
  },
  {
    version: 11,
    name: 'leads: utm_id, and the Google campaign, ad group and keyword their click resolves to (click_view)',
    sql: `
      ALTER TABLE leads ADD COLUMN utm_id TEXT;
      ALTER TABLE leads ADD COLUMN ad_campaign_id TEXT;
      ALTER TABLE leads ADD COLUMN ad_campaign TEXT;
      ALTER TABLE leads ADD COLUMN ad_group TEXT;
      ALTER TABLE leads ADD COLUMN ad_keyword TEXT;
      -- When the click was looked up for good (found, or not found within its days): not asked again.
      ALTER TABLE leads ADD COLUMN ad_resolved_at INTEGER;
      CREATE INDEX leads_unresolved_gclid ON leads (created_at) WHERE gclid IS NOT NULL AND ad_resolved_at IS NULL;
    `,
  },
  {
    version: 12,
    name: 'leads: the price quoted to the person (Send price), offered again when the sale is entered',
    sql: `
      ALTER TABLE leads ADD COLUMN quote_value REAL;
    `,
  },
  {
    version: 13,
    name: 'sales from hosted checkouts (Hotmart, Kiwify, Stripe): leads of source checkout, the platform and transaction of a sale; the Stripe ledger serves every checkout',
    rebuildsTables: true,
    sql: `
      CREATE TABLE leads_v13 (
        id TEXT PRIMARY KEY,
        event_id TEXT UNIQUE,
        source TEXT NOT NULL CHECK (source IN ('form', 'call', 'whatsapp', 'google_lead_form', 'checkout')),
        status TEXT NOT NULL DEFAULT 'NEW' CHECK (status IN ('NEW', 'CONTACTED', 'QUOTED', 'SOLD', 'LOST')),
        is_test INTEGER NOT NULL DEFAULT 0,
        name TEXT, phone TEXT, email TEXT, message TEXT, service TEXT, extra TEXT, ref_code TEXT,
        gclid TEXT, gbraid TEXT, wbraid TEXT, fbclid TEXT, msclkid TEXT, fbc TEXT, fbp TEXT,
        utm_source TEXT, utm_medium TEXT, utm_campaign TEXT, utm_term TEXT, utm_content TEXT,
        landing_page TEXT, page_url TEXT, referrer TEXT, visitor_id TEXT, session_id TEXT,
        client_ip TEXT, user_agent TEXT, country TEXT, region TEXT, city TEXT,
        consent_ads INTEGER,
        google_campaign_id TEXT, google_form_id TEXT,
        sale_value REAL, sale_currency TEXT, sold_at INTEGER,
        note TEXT,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        anonymised_at INTEGER,
        flag TEXT,
        client_net TEXT,
        consent_personalization INTEGER,
        utm_id TEXT, ad_campaign_id TEXT, ad_campaign TEXT, ad_group TEXT, ad_keyword TEXT, ad_resolved_at INTEGER,
        quote_value REAL,
        -- A sale paid on a hosted checkout: the platform (hotmart, kiwify, stripe) and its transaction id.
        checkout TEXT,
        checkout_ref TEXT
      );
      INSERT INTO leads_v13 SELECT *, NULL, NULL FROM leads;
      DROP TABLE leads;
      ALTER TABLE leads_v13 RENAME TO leads;
      CREATE INDEX leads_status ON leads (status);
      CREATE INDEX leads_ref_code ON leads (ref_code);
      CREATE INDEX leads_phone ON leads (phone);
      CREATE INDEX leads_email ON leads (email);
      CREATE INDEX leads_visitor ON leads (visitor_id);
      CREATE INDEX leads_ip_created ON leads (client_ip, created_at);
      CREATE INDEX leads_net_created ON leads (client_net, created_at);
      CREATE INDEX leads_unresolved_gclid ON leads (created_at) WHERE gclid IS NOT NULL AND ad_resolved_at IS NULL;

      -- Keys are the platform's own: Stripe's event and PaymentIntent ids as before, hotmart:… and kiwify:… for the others.
      ALTER TABLE stripe_events RENAME TO checkout_events;
      ALTER TABLE stripe_payments RENAME TO checkout_payments;
      DROP INDEX stripe_payments_lead;
      CREATE INDEX checkout_payments_lead ON checkout_payments (lead_id);
    `,
  },
];

/** The schema version this build writes (a backup from a newer one is refused). */
export const SQLITE_SCHEMA_VERSION = Math.max(...MIGRATIONS.map((m) => m.version));

/** An admin command pointed at a directory that holds no leads.db: not the server's DATA_DIR. */
export class NotADataDir extends Error {}

/**
 * Opens leads.db, creating it unless `existing`: the admin commands (backup, set-password) open
 * only the server's own, so a wrong DATA_DIR is refused instead of starting an empty database.
 */
export function openDatabase(path: string, existing = false): Db {
  if (existing && !existsSync(path)) {
    throw new NotADataDir(`${dirname(path)} holds no leads.db, so it is not the server's DATA_DIR: set DATA_DIR in .env (the file the server reads from its working directory) and run this from that directory`);
  }
  mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
  // Deleted rows (an erasure, a retention run) are overwritten, not left in free pages and backups.
  db.pragma('secure_delete = ON');
  db.pragma('busy_timeout = 5000');
  db.function('lc_fold', { deterministic: true }, (text: unknown) => (typeof text === 'string' ? foldText(text) : null));
  db.function('lc_day', { deterministic: true }, (ms: unknown, timeZone: unknown) => (typeof ms === 'number' || typeof ms === 'bigint' ? dayIn(Number(ms), String(timeZone)) : null));
  migrate(db);
  return db;
}

/**
 * Text as search compares it: case and accents folded, Turkish dotted and dotless i alike (İ, I,
 * ı and i), so "ibrahim" finds "İbrahim", "yilmaz" finds "Yılmaz" and "joao" finds "João".
 */
export function foldText(text: string): string {
  return text.replace(/[İIı]/g, 'i').normalize('NFD').replace(/\p{M}/gu, '').toLowerCase();
}

/** Data written by a newer Lean Capture: this version must not run on it (a rollback needs the backup). */
export class NewerSchema extends Error {
  override readonly name = 'NewerSchema';
}

function migrate(db: Db): void {
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)');
  const applied = new Set(db.prepare('SELECT version FROM schema_migrations').pluck().all() as number[]);
  const newest = Math.max(0, ...applied);
  if (newest > SQLITE_SCHEMA_VERSION) {
    db.close();
    throw new NewerSchema(`${db.name} is at schema ${newest}, newer than this version of Lean Capture knows (${SQLITE_SCHEMA_VERSION}): it was upgraded by a newer version. Run that version again, or restore the backup taken before the upgrade into a fresh DATA_DIR (docs/deploy.md, "Upgrade and rollback")`);
  }
  for (const m of MIGRATIONS) {
    if (applied.has(m.version)) continue;
    if (m.rebuildsTables) db.pragma('foreign_keys = OFF'); // outside the transaction, or it is ignored
    try {
      db.transaction(() => {
        db.exec(m.sql);
        const broken = db.pragma('foreign_key_check') as unknown[];
        if (broken.length > 0) throw new Error(`migration ${m.version} would break ${broken.length} references`);
        db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(m.version, m.name, Date.now());
      })();
    } finally {
      if (m.rebuildsTables) db.pragma('foreign_keys = ON');
    }
  }
}

export function schemaVersion(db: Db): number {
  return (db.prepare('SELECT max(version) FROM schema_migrations').pluck().get() as number | null) ?? 0;
}
