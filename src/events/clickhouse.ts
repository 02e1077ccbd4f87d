// The one interface the event flow has to ClickHouse. Two backends implement it: embedded
// (chdb, in-process, the default) and server (@clickhouse/client over HTTP, with CLICKHOUSE_URL).
// Values reach SQL only as bound parameters ({name:Type}); nothing user-sent is concatenated.
import type { ClickHouseConfig } from '../config.ts';

export type QueryParams = Record<string, string | number>;

export interface ClickHouse {
  readonly mode: 'embedded' | 'server';
  /** Runs a statement that returns no rows (DDL). */
  exec(sql: string): Promise<void>;
  /** Runs a SELECT with server-side bound parameters; returns its rows (64-bit integers arrive as strings). */
  query<T>(sql: string, params?: QueryParams): Promise<T[]>;
  /**
   * Appends newline-delimited JSONEachRow rows to a table of ours. With a dedup token, ClickHouse
   * drops an insert whose token it has seen among the table's last inserts (a retry, a replay).
   */
  insert(table: string, rows: Buffer, dedupToken?: string): Promise<void>;
  close(): Promise<void>;
}

export async function openClickHouse(config: ClickHouseConfig): Promise<ClickHouse> {
  if (config.mode === 'embedded') {
    const { openEmbedded } = await import('./embedded.ts');
    return openEmbedded(config.path, config.database);
  }
  const { openServer } = await import('./server.ts');
  return openServer(config);
}
