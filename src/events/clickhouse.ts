// The one interface the event flow has to ClickHouse. Two backends implement it: embedded
// (chdb, in-process, the default) and server (@clickhouse/client over HTTP, with CLICKHOUSE_URL).
// Values reach SQL only as bound parameters ({name:Type}); nothing user-sent is concatenated.
// openClickHouse (open.ts) picks the backend.

/** How rows are written: JSONEachRow (journals from before), or TabSeparated (row-format.ts). */
export type RowFormat = 'JSONEachRow' | 'TabSeparated';
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
   * Appends newline-delimited rows (JSONEachRow unless `format` says) to a table of ours. With a
   * dedup token, ClickHouse drops an insert whose token it has seen among the table's last
   * inserts (a retry, a replay). `columns`: the columns positional rows hold, in order (so a
   * column added later takes its default instead of breaking rows written before).
   */
  insert(table: string, rows: Buffer, dedupToken?: string, format?: RowFormat, columns?: readonly string[]): Promise<void>;
  close(): Promise<void>;
}

/**
 * ClickHouse error codes that mean the rows themselves are bad: the same insert will fail again
 * however often it is retried, so the batcher bisects the batch and parks only the bad rows.
 * Every parse, conversion and range error of src/Common/ErrorCodes.cpp: CANNOT_PARSE_TEXT (6),
 * INCORRECT_NUMBER_OF_COLUMNS (7), CANNOT_PARSE_ESCAPE_SEQUENCE (25, a lone surrogate),
 * CANNOT_PARSE_QUOTED_STRING (26), CANNOT_PARSE_INPUT_ASSERTION_FAILED (27), ATTEMPT_TO_READ_AFTER_EOF
 * (32), CANNOT_READ_ALL_DATA (33), CANNOT_PARSE_DATE (38), CANNOT_PARSE_DATETIME (41), TYPE_MISMATCH
 * (53), ARGUMENT_OUT_OF_BOUND (69), CANNOT_CONVERT_TYPE (70), CANNOT_PARSE_NUMBER (72),
 * INCORRECT_DATA (117), TOO_LARGE_ARRAY_SIZE (128), CANNOT_READ_ARRAY_FROM_TEXT (130),
 * TOO_LARGE_STRING_SIZE (131), SIZES_OF_ARRAYS_DOESNT_MATCH (190), VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE
 * (321), CANNOT_INSERT_NULL_IN_ORDINARY_COLUMN (349), CANNOT_PARSE_UUID (376), DECIMAL_OVERFLOW (407),
 * CANNOT_PARSE_DOMAIN_VALUE_FROM_STRING (441), CANNOT_PARSE_BOOL (467). Everything else (connection
 * refused, timeouts, memory limits, too many parts) is worth retrying.
 */
const BAD_DATA_CODES = new Set([6, 7, 25, 26, 27, 32, 33, 38, 41, 53, 69, 70, 72, 117, 128, 130, 131, 190, 321, 349, 376, 407, 441, 467]);

export function isBadData(err: unknown): boolean {
  const e = err as { clickhouseCode?: unknown; code?: unknown; message?: unknown };
  const code = typeof e?.clickhouseCode === 'number' ? e.clickhouseCode
    : typeof e?.code === 'string' && /^\d+$/.test(e.code) ? Number(e.code)
    : Number(/^Code: (\d+)\./.exec(String(e?.message ?? ''))?.[1] ?? NaN);
  return BAD_DATA_CODES.has(code);
}
