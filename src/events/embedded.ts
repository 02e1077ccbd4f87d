// Embedded ClickHouse: the chdb engine inside this process, data in DATA_DIR/clickhouse.
// chdb runs queries and inserts on libuv threads, off the event loop. A data directory can be
// opened by one process only, which is why backups ask the running server.
import { Session } from 'chdb';
import type { ClickHouse, QueryParams } from './clickhouse.ts';

export async function openEmbedded(path: string, database: string): Promise<ClickHouse> {
  let session: Session;
  try {
    session = new Session(path);
  } catch (cause) {
    throw new Error(`open embedded ClickHouse at ${path} (is another Lean Capture process using this DATA_DIR?)`, { cause });
  }
  await session.queryAsync(`CREATE DATABASE IF NOT EXISTS ${database}`);
  await session.queryAsync(`USE ${database}`);

  const queryText = async (sql: string, params?: QueryParams) => {
    const result = params ? await session.queryBindAsync(sql, params, { format: 'JSONEachRow' }) : await session.queryAsync(sql, { format: 'JSONEachRow' });
    return result.text();
  };

  return {
    mode: 'embedded',
    async exec(sql) {
      await session.queryAsync(sql);
    },
    async query<T>(sql: string, params?: QueryParams) {
      const text = await queryText(sql, params);
      return text === '' ? [] : text.trimEnd().split('\n').map((line) => JSON.parse(line) as T);
    },
    queryText,
    async insert(table, rows, dedupToken) {
      const settings = dedupToken === undefined ? undefined : { insert_deduplication_token: dedupToken };
      await session.insert({ table, values: rows, format: 'JSONEachRow', settings });
    },
    async close() {
      session.close();
    },
  };
}
