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
  /** Runs a SELECT and returns its rows as JSONEachRow text, untouched (backups: 64-bit integers stay exact). */
  queryText(sql: string, params?: QueryParams): Promise<string>;
  /**
   * Appends newline-delimited JSONEachRow rows to a table of ours. With a dedup token, ClickHouse
   * drops an insert whose token it has seen among the table's last inserts (a retry, a replay).
   */
  insert(table: string, rows: Buffer, dedupToken?: string): Promise<void>;
  close(): Promise<void>;
}

/**
 * ClickHouse error codes that mean the rows themselves are bad: the same insert will fail again
 * however often it is retried (CANNOT_PARSE_*, TYPE_MISMATCH, INCORRECT_DATA, …). Everything else
 * (connection refused, timeouts, memory limits, too many parts) is worth retrying.
 */
const BAD_DATA_CODES = new Set([6, 26, 27, 38, 41, 53, 69, 70, 72, 117, 131]);

export function isBadData(err: unknown): boolean {
  const e = err as { clickhouseCode?: unknown; code?: unknown; message?: unknown };
  const code = typeof e?.clickhouseCode === 'number' ? e.clickhouseCode
    : typeof e?.code === 'string' && /^\d+$/.test(e.code) ? Number(e.code)
    : Number(/^Code: (\d+)\./.exec(String(e?.message ?? ''))?.[1] ?? NaN);
  return BAD_DATA_CODES.has(code);
}

export async function openClickHouse(config: ClickHouseConfig): Promise<ClickHouse> {
  if (config.mode === 'embedded') {
    const { openEmbedded } = await import('./embedded.ts');
    return openEmbedded(config.path, config.database);
  }
  const { openServer } = await import('./server.ts');
  return openServer(config);
}
