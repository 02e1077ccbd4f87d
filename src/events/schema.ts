// The ClickHouse schema: one row shape (EventRow) and versioned, idempotent migrations applied at
// start. The same SQL runs on both drivers; table names are unqualified because each driver is
// bound to CLICKHOUSE_DATABASE.
import type { ClickHouse } from './clickhouse.ts';

/** One enriched event as stored; field names are the column names. Times are ms since epoch, UTC. */
export interface EventRow {
  event_id: string;
  event_time: number;
  received_at: number;
  type: string;
  name: string;
  visitor_id: string;
  session_id: string;
  url: string;
  path: string;
  hostname: string;
  referrer: string;
  referrer_host: string;
  utm_source: string;
  utm_medium: string;
  utm_campaign: string;
  utm_term: string;
  utm_content: string;
  gclid: string;
  gbraid: string;
  wbraid: string;
  fbclid: string;
  msclkid: string;
  country: string;
  region: string;
  city: string;
  browser: string;
  os: string;
  device: string;
  screen_width: number;
  screen_height: number;
  language: string;
  props: Record<string, string>;
}

interface Migration {
  version: number;
  name: string;
  statements: string[];
}

const LC = 'LowCardinality(String)';

export const MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'events table',
    statements: [
      `CREATE TABLE IF NOT EXISTS events (
        event_id UUID,
        event_time DateTime64(3, 'UTC'),
        received_at DateTime64(3, 'UTC'),
        type ${LC},
        name String,
        visitor_id String,
        session_id String,
        url String,
        path String,
        hostname ${LC},
        referrer String,
        referrer_host ${LC},
        utm_source ${LC},
        utm_medium ${LC},
        utm_campaign ${LC},
        utm_term String,
        utm_content String,
        gclid String,
        gbraid String,
        wbraid String,
        fbclid String,
        msclkid String,
        country ${LC},
        region ${LC},
        city ${LC},
        browser ${LC},
        os ${LC},
        device ${LC},
        screen_width UInt16,
        screen_height UInt16,
        language ${LC},
        props Map(String, String)
      )
      ENGINE = MergeTree
      PARTITION BY toYYYYMM(event_time)
      ORDER BY (toDate(event_time), type, visitor_id, event_time)
      -- A retried insert of the same block is dropped by ClickHouse instead of counted twice.
      SETTINGS non_replicated_deduplication_window = 1000`,
    ],
  },
  {
    version: 2,
    name: 'ad spend per platform, campaign and day',
    statements: [
      // A re-sync restates a day (Google and Meta revise the last days for a while): the newest
      // synced_at wins, and readers use FINAL.
      `CREATE TABLE IF NOT EXISTS ad_spend (
        platform ${LC},
        day Date,
        campaign_id String,
        campaign ${LC},
        currency ${LC},
        cost Float64,
        clicks UInt64,
        impressions UInt64,
        synced_at DateTime64(3, 'UTC')
      )
      ENGINE = ReplacingMergeTree(synced_at)
      PARTITION BY toYYYYMM(day)
      ORDER BY (platform, campaign_id, day)`,
    ],
  },
];

/** A day of one campaign's spend as ad_spend holds it. */
export interface SpendRow {
  platform: 'google' | 'meta';
  /** YYYY-MM-DD in the ad account's time zone. */
  day: string;
  campaign_id: string;
  campaign: string;
  currency: string;
  cost: number;
  clicks: number;
  impressions: number;
  synced_at: number;
}

/**
 * Tables backups export, with the column that places a row in time (export chunks) and the one
 * that says when it arrived (a backup's cutoff). Backups refuse to run while a table of ours is
 * missing here, so a new table cannot be left out silently.
 */
export const BACKUP_TABLES = [
  { table: 'events', timeColumn: 'event_time', cutoffColumn: 'received_at' },
  { table: 'ad_spend', timeColumn: 'synced_at', cutoffColumn: 'synced_at' },
] as const;

const MIGRATIONS_TABLE = `CREATE TABLE IF NOT EXISTS schema_migrations (
  version UInt32,
  name String,
  applied_at DateTime64(3, 'UTC')
) ENGINE = MergeTree ORDER BY version`;

/** Applies the migrations not yet recorded; returns the schema version now in place. */
export async function migrate(db: ClickHouse): Promise<number> {
  await db.exec(MIGRATIONS_TABLE);
  const rows = await db.query<{ version: number }>('SELECT version FROM schema_migrations');
  const applied = new Set(rows.map((r) => Number(r.version)));
  const newest = Math.max(0, ...applied);
  const known = MIGRATIONS.at(-1)!.version;
  if (newest > known) {
    throw Object.assign(new Error(`the ClickHouse events schema is at version ${newest}, newer than this version of Lean Capture knows (${known}): it was upgraded by a newer version. Run that version again, or restore the backup taken before the upgrade (docs/deploy.md, "Upgrade and rollback")`), { name: 'NewerSchema' });
  }
  for (const migration of MIGRATIONS) {
    if (applied.has(migration.version)) continue;
    for (const sql of migration.statements) {
      await db.exec(sql).catch((cause) => {
        throw new Error(`apply migration ${migration.version} (${migration.name})`, { cause });
      });
    }
    const record = { version: migration.version, name: migration.name, applied_at: Date.now() };
    await db.insert('schema_migrations', Buffer.from(JSON.stringify(record) + '\n'));
  }
  return MIGRATIONS.at(-1)!.version;
}
