// Ships journaled rows to ClickHouse: an insert every FLUSH_INTERVAL_MS, or as soon as
// FLUSH_MAX_ROWS rows wait, whichever comes first; one insert at a time; rows that arrive during
// an insert go in the next one. Each batch is read back from the journal, so memory holds one
// batch whatever the backlog, and carries the journal's dedup token, so a retry or a replay
// after a crash never counts a row twice. A failed insert is retried with capped exponential
// backoff and jitter until ClickHouse takes it; nothing is dropped.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import { isBadData, type ClickHouse } from './clickhouse.ts';
import type { Journal, JournalBatch } from './journal.ts';

const RETRY_FIRST_MS = 200;
const RETRY_MAX_MS = 30_000;
/** A backlog (after an outage or a restart) drains in batches up to this size: fewer, larger parts. */
const BACKLOG_BATCH_ROWS = 20_000;

export interface BatcherOptions {
  table: string;
  flushIntervalMs: number;
  flushMaxRows: number;
}

export interface BatcherStats {
  /** Rows journaled by this process and not yet confirmed by ClickHouse. */
  pendingRows: number;
  confirmedRows: number;
  inserts: number;
  failedInserts: number;
  lastError: string | undefined;
  lastInsertAt: number | undefined;
}

export class Batcher {
  private inFlight: Promise<void> | undefined;
  private readonly timer: NodeJS.Timeout;
  private stopping = false;
  private readonly stats = { confirmedRows: 0, confirmedOwnRows: 0, inserts: 0, failedInserts: 0, lastError: undefined as string | undefined, lastInsertAt: undefined as number | undefined };

  constructor(
    private readonly db: ClickHouse,
    private readonly journal: Journal,
    private readonly options: BatcherOptions,
    private readonly log: Logger,
    private readonly metrics: Metrics,
  ) {
    this.timer = setInterval(() => this.kick(), options.flushIntervalMs);
    this.timer.unref();
    this.kick(); // a backlog from before a restart goes first
  }

  /** Call after rows were journaled: starts an insert early when a full batch waits. */
  added(): void {
    if (this.waitingRows() >= this.options.flushMaxRows) this.kick();
  }

  snapshot(): BatcherStats {
    const { confirmedOwnRows, ...stats } = this.stats;
    return { ...stats, pendingRows: Math.max(0, this.journal.appendedRows - confirmedOwnRows) };
  }

  /** Inserts everything journaled so far; resolves once ClickHouse confirmed it. */
  async flush(): Promise<void> {
    while (!this.stopping) {
      if (this.inFlight) await this.inFlight;
      else if (!(await this.start())) return;
    }
  }

  /** Stops the timer and flushes; gives up after `deadlineMs` and says how many rows stay in the journal. */
  async close(deadlineMs: number): Promise<number> {
    clearInterval(this.timer);
    const flushed = await Promise.race([this.flush().then(() => true, () => false), sleep(deadlineMs, false, { ref: false })]);
    this.stopping = true;
    return flushed ? 0 : this.snapshot().pendingRows;
  }

  /** Rows this process journaled that ClickHouse has not confirmed yet. */
  private waitingRows(): number {
    return this.journal.appendedRows - this.stats.confirmedOwnRows;
  }

  /** More to insert at once: a full batch waits, or a backlog from before the restart. */
  private busy(): boolean {
    return this.waitingRows() >= this.options.flushMaxRows || this.journal.replaying();
  }

  private kick(): void {
    // start() only rejects once close() has given up; close() reports what is left.
    if (this.inFlight === undefined) this.start().catch(() => undefined);
  }

  private start(): Promise<boolean> {
    const run = this.insertLoop();
    this.inFlight = run.then(() => undefined, () => undefined).finally(() => {
      this.inFlight = undefined;
    });
    return run;
  }

  /** Inserts one batch, and more while busy(); resolves whether anything was waiting. */
  private async insertLoop(): Promise<boolean> {
    let inserted = false;
    do {
      // Under load or after an outage, batches take what waits, up to BACKLOG_BATCH_ROWS: fewer, larger parts.
      const batch = await this.journal.readBatch(this.busy() ? Math.max(this.options.flushMaxRows, BACKLOG_BATCH_ROWS) : this.options.flushMaxRows);
      if (batch === undefined) return inserted;
      await this.insertWithRetry(batch);
      this.journal.confirm(batch);
      if (!batch.replayed) this.stats.confirmedOwnRows += batch.rows;
      inserted = true;
    } while (!this.stopping && this.busy());
    return inserted;
  }

  private async insertWithRetry(batch: JournalBatch): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const started = performance.now();
      try {
        await this.db.insert(this.options.table, batch.payload, batch.token);
        this.metrics.insertSeconds.labels('ok').observe((performance.now() - started) / 1000);
        this.metrics.batchRows.observe(batch.rows);
        this.metrics.rowsConfirmed.inc(batch.rows);
        this.stats.confirmedRows += batch.rows;
        this.stats.inserts++;
        this.stats.lastInsertAt = Date.now();
        this.stats.lastError = undefined;
        return;
      } catch (err) {
        this.metrics.insertSeconds.labels('error').observe((performance.now() - started) / 1000);
        this.stats.failedInserts++;
        this.stats.lastError = err instanceof Error ? err.message : String(err);
        if (isBadData(err)) {
          // Retrying cannot help and would block every row behind it: keep the batch on disk.
          const path = this.journal.park(batch);
          this.metrics.batchesParked.inc();
          this.log.error({ err, rows: batch.rows, path }, `ClickHouse rejected the rows of a batch as invalid; kept them in ${path}`);
          return;
        }
        if (this.stopping) throw new Error(`insert ${batch.rows} rows into ${this.options.table}`, { cause: err });
        const delay = Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** attempt) * (0.5 + Math.random() / 2);
        this.log.error({ err, rows: batch.rows, attempt, retryInMs: Math.round(delay) }, `insert into ${this.options.table} failed; retrying`);
        await sleep(delay);
      }
    }
  }
}
