// Embedded ClickHouse: the chdb engine inside this process, data in DATA_DIR/clickhouse.
// chdb runs queries and inserts on libuv threads, off the event loop. A data directory can be
// opened by one process only, which is why backups ask the running server. TabSeparated rows are
// staged in a file ClickHouse reads (INSERT … SELECT FROM file()): measured at half the cost of
// passing them inline, which chdb does for JSONEachRow.
import { mkdirSync, rmSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
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
  const staging = await Staging.open(join(path, 'lean-capture-staging'));

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
      const token = dedupToken === undefined ? '' : `insert_deduplication_token = ${literal(dedupToken)}, `;
      const into = columns ? `${table} (${columns.join(', ')})` : table;
      await staging.use(rows, (file) => session.queryAsync(`INSERT INTO ${into} SETTINGS ${token}max_threads = 1 SELECT * FROM file(${literal(file)}, '${format}')`));
    },
    async close() {
      stopYielding();
      await staging.close();
      session.close();
    },
  };
}

/** A ClickHouse string literal. */
function literal(text: string): string {
  return `'${text.replace(/[\\']/g, (c) => '\\' + c)}'`;
}

/**
 * Rows are staged in writes of at most this size. A thread copying into the page cache keeps the
 * core until its write returns (this kernel does not pre-empt inside a system call): perf at half
 * peak caught a 5 MB write holding core 0 for 6.5–7.5 ms now and then, in both event-loop stalls
 * over 10 ms of a run. Each write is a job for libuv's pool (see below), so not much smaller.
 */
const WRITE_BYTES = 1024 * 1024;

/**
 * The file rows are staged in, kept open and rewritten in place: a write a MiB (and a truncate when
 * the rows are fewer than last time), where a file per insert was seven jobs for libuv's pool
 * (open, three writes, close, unlink), and each job's end may make the event loop wait (journal.ts).
 * One insert stages at a time.
 */
class Staging {
  private size = 0;
  private turn: Promise<unknown> = Promise.resolve();

  private constructor(private readonly file: string, private readonly handle: FileHandle) {}

  static async open(dir: string): Promise<Staging> {
    rmSync(dir, { recursive: true, force: true }); // files per insert an older version left behind in a crash
    mkdirSync(dir, { recursive: true });
    const file = join(dir, 'rows.tsv');
    return new Staging(file, await open(file, 'w'));
  }

  use<T>(rows: Buffer, read: (file: string) => Promise<T>): Promise<T> {
    const run = this.turn.then(async () => {
      this.size = Math.max(this.size, rows.length); // what a write that fails halfway may leave
      for (let written = 0; written < rows.length; ) written += (await this.handle.write(rows, written, Math.min(WRITE_BYTES, rows.length - written), written)).bytesWritten;
      if (rows.length < this.size) await this.handle.truncate(rows.length);
      this.size = rows.length;
      return read(this.file);
    });
    this.turn = run.catch(() => undefined);
    return run;
  }

  async close(): Promise<void> {
    await this.turn;
    await this.handle.close();
  }
}
