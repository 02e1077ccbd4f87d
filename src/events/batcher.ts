// In-memory batching of enriched rows into ClickHouse inserts: flush every FLUSH_INTERVAL_MS or
// FLUSH_MAX_ROWS rows, whichever comes first; at most one insert in flight, rows arriving
// meanwhile join the next batch; a failed insert is retried with capped backoff and its rows kept.
// Rows are serialised to JSONEachRow as they arrive, into reusable slabs, so sealing a batch
// costs nothing on the event loop (a 60k-row JSON.stringify at flush time stalled it 345 ms).
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import type { ClickHouse } from './clickhouse.ts';

const SLAB_BYTES = 256 * 1024;
const RETRY_FIRST_MS = 200;
const RETRY_MAX_MS = 30_000;

export interface BatcherOptions {
  table: string;
  flushIntervalMs: number;
  flushMaxRows: number;
}

interface Batch {
  slabs: Buffer[];
  rows: number;
}

export interface BatcherStats {
  /** Rows accepted but not yet confirmed by ClickHouse. */
  pendingRows: number;
  confirmedRows: number;
  inserts: number;
  failedInserts: number;
  lastError: string | undefined;
  lastInsertAt: number | undefined;
}

export class Batcher {
  private slabs: Buffer[] = [];
  private slab = Buffer.allocUnsafe(SLAB_BYTES);
  private slabUsed = 0;
  private openRows = 0;
  private sealed: Batch | undefined;
  private inFlight: Promise<void> | undefined;
  private readonly timer: NodeJS.Timeout;
  private stopping = false;
  private readonly stats: BatcherStats = { pendingRows: 0, confirmedRows: 0, inserts: 0, failedInserts: 0, lastError: undefined, lastInsertAt: undefined };

  constructor(
    private readonly db: ClickHouse,
    private readonly options: BatcherOptions,
    private readonly log: Logger,
    private readonly metrics: Metrics,
  ) {
    this.timer = setInterval(() => this.kick(), options.flushIntervalMs);
    this.timer.unref();
  }

  add(row: object): void {
    this.write(JSON.stringify(row) + '\n');
    this.openRows++;
    this.stats.pendingRows++;
    if (this.openRows >= this.options.flushMaxRows) this.kick();
  }

  snapshot(): BatcherStats {
    return { ...this.stats };
  }

  /** Inserts everything added so far; resolves once ClickHouse confirmed it. */
  async flush(): Promise<void> {
    while (this.inFlight !== undefined || this.sealed !== undefined || this.openRows > 0) {
      await (this.inFlight ?? this.start());
    }
  }

  /** Stops the timer and flushes; gives up after `deadlineMs` (ClickHouse down) and says how many rows remain. */
  async close(deadlineMs: number): Promise<number> {
    clearInterval(this.timer);
    const done = this.flush().then(() => true, () => false);
    const timedOut = sleep(deadlineMs, false, { ref: false });
    const flushed = await Promise.race([done, timedOut]);
    this.stopping = true;
    return flushed ? 0 : this.stats.pendingRows;
  }

  private kick(): void {
    // insertLoop only rejects once close() has given up; close() reports those rows.
    if (this.inFlight === undefined && (this.sealed !== undefined || this.openRows > 0)) this.start().catch(() => undefined);
  }

  private start(): Promise<void> {
    this.inFlight = this.insertLoop().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  private async insertLoop(): Promise<void> {
    do {
      const batch = this.sealed ?? this.seal();
      this.sealed = batch;
      await this.insertWithRetry(batch);
      this.sealed = undefined;
      // Another full batch already waiting goes now; a partial one waits for the next tick.
    } while (this.openRows >= this.options.flushMaxRows && !this.stopping);
  }

  private async insertWithRetry(batch: Batch): Promise<void> {
    const body = batch.slabs.length === 1 ? batch.slabs[0]! : Buffer.concat(batch.slabs);
    for (let attempt = 0; ; attempt++) {
      const started = performance.now();
      try {
        await this.db.insert(this.options.table, body);
        this.metrics.insertSeconds.labels('ok').observe((performance.now() - started) / 1000);
        this.metrics.batchRows.observe(batch.rows);
        this.metrics.rowsConfirmed.inc(batch.rows);
        this.stats.pendingRows -= batch.rows;
        this.stats.confirmedRows += batch.rows;
        this.stats.inserts++;
        this.stats.lastInsertAt = Date.now();
        this.stats.lastError = undefined;
        return;
      } catch (err) {
        this.metrics.insertSeconds.labels('error').observe((performance.now() - started) / 1000);
        this.stats.failedInserts++;
        this.stats.lastError = err instanceof Error ? err.message : String(err);
        if (this.stopping) throw new Error(`insert ${batch.rows} rows into ${this.options.table}`, { cause: err });
        const delay = Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** attempt) * (0.5 + Math.random() / 2);
        this.log.error({ err, rows: batch.rows, attempt, retryInMs: Math.round(delay) }, `insert into ${this.options.table} failed; retrying`);
        await sleep(delay);
      }
    }
  }

  /** Closes the open batch: its slabs become the sealed batch, and a fresh slab starts. */
  private seal(): Batch {
    const slabs = this.slabs;
    slabs.push(this.slab.subarray(0, this.slabUsed));
    const batch = { slabs, rows: this.openRows };
    this.slabs = [];
    this.slab = Buffer.allocUnsafe(SLAB_BYTES);
    this.slabUsed = 0;
    this.openRows = 0;
    return batch;
  }

  private write(line: string): void {
    // A UTF-16 code unit is at most 3 UTF-8 bytes: only near the slab's end is the exact size needed.
    const bytes = this.slab.length - this.slabUsed >= line.length * 3 ? 0 : Buffer.byteLength(line);
    if (this.slabUsed + bytes > this.slab.length) {
      this.slabs.push(this.slab.subarray(0, this.slabUsed));
      this.slab = Buffer.allocUnsafe(Math.max(SLAB_BYTES, bytes));
      this.slabUsed = 0;
    }
    this.slabUsed += this.slab.write(line, this.slabUsed);
  }
}
