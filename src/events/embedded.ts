// Embedded ClickHouse: the chdb engine inside this process, data in DATA_DIR/clickhouse.
// chdb runs queries and inserts on libuv threads, off the event loop. A data directory can be
// opened by one process only, which is why backups ask the running server. TabSeparated rows are
// staged in a file ClickHouse reads (INSERT … SELECT FROM file()): measured at half the cost of
// passing them inline, which chdb does for JSONEachRow.
import { mkdirSync } from 'node:fs';
import { unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Session } from 'chdb';
import type { ClickHouse, QueryParams } from './clickhouse.ts';
import { yieldEngineThreads } from './engine-priority.ts';

export async function openEmbedded(path: string, database: string): Promise<ClickHouse> {
  let session: Session;
  try {
    session = new Session(path);
  } catch (cause) {
    throw new Error(`open embedded ClickHouse at ${path} (is another Lean Capture process using this DATA_DIR?)`, { cause });
  }
  await session.queryAsync(`CREATE DATABASE IF NOT EXISTS ${database}`);
  await session.queryAsync(`USE ${database}`);
  const stopYielding = yieldEngineThreads();
  const staging = join(path, 'lean-capture-staging');
  mkdirSync(staging, { recursive: true });
  let staged = 0;

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
    async insert(table, rows, dedupToken, format = 'JSONEachRow', columns) {
      if (format === 'JSONEachRow') {
        const settings = dedupToken === undefined ? undefined : { insert_deduplication_token: dedupToken };
        await session.insert({ table, values: rows, format, settings });
        return;
      }
      // One block per insert (batches are far below max_insert_block_size), so the token dedups a replay.
      const file = join(staging, `${++staged}.tsv`);
      await writeFile(file, rows);
      try {
        const token = dedupToken === undefined ? '' : `insert_deduplication_token = ${literal(dedupToken)}, `;
        const into = columns ? `${table} (${columns.join(', ')})` : table;
        await session.queryAsync(`INSERT INTO ${into} SETTINGS ${token}max_threads = 1 SELECT * FROM file(${literal(file)}, '${format}')`);
      } finally {
        // unlink, not rm: rm looks at the file twice first, and each look is a job for libuv's pool (see journal.ts).
        await unlink(file).catch(() => undefined);
      }
    },
    async close() {
      stopYielding();
      session.close();
    },
  };
}

/** A ClickHouse string literal. */
function literal(text: string): string {
  return `'${text.replace(/[\\']/g, (c) => '\\' + c)}'`;
}
