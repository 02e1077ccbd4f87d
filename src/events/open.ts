// The analytics side, opened at start: ClickHouse (embedded or a server) with its schema, the
// journal, the batcher and the sink the routes write to; closed by flushing what was accepted.
import type { ClickHouseConfig, Config } from '../config.ts';
import type { Logger } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import { Batcher } from './batcher.ts';
import type { ClickHouse } from './clickhouse.ts';
import { Journal } from './journal.ts';
import { migrate } from './schema.ts';
import { EventSink } from './sink.ts';

export interface Events {
  clickhouse: ClickHouse;
  schemaVersion: number;
  journal: Journal;
  batcher: Batcher;
  sink: EventSink;
  /** Flushes accepted rows (waiting at most `flushMs`) and closes; returns the rows left in the journal. */
  close(flushMs: number): Promise<number>;
}

export async function openEvents(config: Config, log: Logger, metrics: Metrics): Promise<Events> {
  const clickhouse = await openClickHouse(config.clickhouse);
  const schemaVersion = await migrate(clickhouse);
  log.info({ mode: clickhouse.mode, database: config.clickhouse.database, schemaVersion }, 'ClickHouse ready');
  const journal = new Journal(config.journal, log, metrics);
  const batcher = new Batcher(clickhouse, journal, { table: 'events', flushIntervalMs: config.flushIntervalMs, flushMaxRows: config.flushMaxRows }, log, metrics);
  metrics.gauge('lc_batch_pending_rows', 'Rows accepted and not yet confirmed by ClickHouse', () => batcher.snapshot().pendingRows);
  return {
    clickhouse,
    schemaVersion,
    journal,
    batcher,
    sink: new EventSink(journal, batcher),
    async close(flushMs) {
      const unflushed = await batcher.close(flushMs);
      journal.close();
      if (unflushed > 0) log.warn({ rows: unflushed }, 'ClickHouse did not confirm these rows in time; they stay in the journal for the next start');
      await clickhouse.close();
      return unflushed;
    },
  };
}

/** The embedded engine (chdb) or a ClickHouse server, loaded only when chosen. */
export async function openClickHouse(config: ClickHouseConfig): Promise<ClickHouse> {
  if (config.mode === 'embedded') {
    const { openEmbedded } = await import('./embedded.ts');
    return openEmbedded(config.path, config.database);
  }
  const { openServer } = await import('./remote.ts');
  return openServer(config);
}
