// Ships journaled rows to ClickHouse: an insert every FLUSH_INTERVAL_MS, or as soon as
// FLUSH_MAX_ROWS rows wait, whichever comes first; one insert at a time; rows that arrive during
// an insert go in the next one. Each batch is read back from the journal, so memory holds one
// batch whatever the backlog, and carries the journal's dedup token, so a retry or a replay
// after a crash never counts a row twice. A failed insert is retried with capped exponential
// backoff and jitter until ClickHouse takes it; a batch ClickHouse refuses as bad data is halved
// until the bad rows stand alone: they are parked in journal/rejected/, the rest go in. Nothing is dropped.
import { setTimeout as sleep } from 'node:timers/promises';
import { backoffMs, succeedsWithin, type BackoffPolicy } from '../time.ts';
import type { Logger } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import { isBadData, type ClickHouse, type RowFormat } from './clickhouse.ts';
import { EVENT_COLUMNS } from './row-format.ts';
import type { Journal, JournalBatch } from './journal.ts';

/** An outage is retried after up to 200 ms, 400 ms … and at most 30 s between attempts. */
const RETRY: BackoffPolicy = { baseMs: 200, capMs: 30_000 };
/** A backlog (after an outage or a restart) drains in batches up to this size: fewer, larger parts. */
const BACKLOG_BATCH_ROWS = 20_000;
/**
 * Under load, an insert starts at most this often: each takes what waited meanwhile, so ClickHouse
 * sees about two inserts a second per table (few parts to merge) and parses fewer, larger batches
 * (a 10 000-row insert costs half as much per row as a 1 000-row one here).
 */
const MIN_INSERT_GAP_MS = 500;
/** While inserts keep failing, the failure is logged at most this often (with the count since). */
const RETRY_LOG_EVERY_MS = 60_000;

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
  /** Rows ClickHouse refused as invalid, kept in journal/rejected/. */
  parkedRows: number;
  /** Since when inserts have been failing (retried), or undefined while they succeed. */
  failingSince: number | undefined;
}

export class Batcher {
  private inFlight: Promise<void> | undefined;
  private readonly timer: NodeJS.Timeout;
  private stopping = false;
  private readonly stats = {
    confirmedRows: 0, confirmedOwnRows: 0, inserts: 0, failedInserts: 0, parkedRows: 0,
    lastError: undefined as string | undefined, lastInsertAt: undefined as number | undefined, failingSince: undefined as number | undefined,
  };
  private retryLog = { at: 0, suppressed: 0 };
  /** When the last insert started (performance.now()), for MIN_INSERT_GAP_MS. */
  private lastInsertStart = -Infinity;
  /** Callers of flush() waiting: no pacing while someone waits for the rows to land. */
  private flushing = 0;

  constructor(
    private readonly clickhouse: ClickHouse,
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
    this.flushing++;
    try {
      while (!this.stopping) {
        if (this.inFlight) await this.inFlight;
        else if (!(await this.start())) return;
      }
    } finally {
      this.flushing--;
    }
  }

  /** Stops the timer and flushes; gives up after `deadlineMs` and says how many rows stay in the journal. */
  async close(deadlineMs: number): Promise<number> {
    clearInterval(this.timer);
    const flushed = await succeedsWithin(this.flush(), deadlineMs);
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
      // Under load, wait out the gap since the last insert (a backlog from before a restart, a flush, and shutdown do not wait).
      const gap = this.lastInsertStart + MIN_INSERT_GAP_MS - performance.now();
      if (gap > 0 && this.flushing === 0 && !this.journal.replaying()) await sleep(gap);
      // Under load or after an outage, batches take what waits, up to BACKLOG_BATCH_ROWS: fewer, larger parts.
      const batch = await this.journal.readBatch(this.busy() ? Math.max(this.options.flushMaxRows, BACKLOG_BATCH_ROWS) : this.options.flushMaxRows);
      if (batch === undefined) return inserted;
      this.lastInsertStart = performance.now();
      await this.insertBatch(batch);
      if (!batch.replayed) this.stats.confirmedOwnRows += batch.rows; // ClickHouse has them, whatever the cursor write does
      await this.journal.confirm(batch);
      inserted = true;
    } while (!this.stopping && this.busy());
    return inserted;
  }

  /**
   * Inserts a batch. When ClickHouse refuses it as bad data, the halves are inserted on their own
   * (each with a token derived from the batch's, so a replay after a crash dedups them too), down
   * to single rows: only the rows it refuses alone are parked, and counted.
   */
  private async insertBatch(batch: JournalBatch): Promise<void> {
    const bad: Buffer[] = [];
    let reason: unknown;
    const insertPart = async (payload: Buffer, token: string, rows?: number): Promise<void> => {
      const refused = await this.insertWithRetry(payload, token, batch.format, rows);
      if (refused === undefined) return;
      const halves = splitRows(payload);
      if (halves === undefined) {
        bad.push(payload);
        reason = refused;
        return;
      }
      await insertPart(halves[0], `${token}/a`);
      await insertPart(halves[1], `${token}/b`);
    };
    await insertPart(batch.payload, batch.token, batch.rows);
    if (bad.length === 0) return;
    const rows = bad.length;
    const path = this.journal.park(batch, Buffer.concat(bad));
    this.stats.parkedRows += rows;
    this.metrics.rowsParked.inc(rows);
    this.log.error({ err: reason, rows, batchRows: batch.rows, path }, `ClickHouse refused ${rows} of ${batch.rows} rows as invalid; kept them in ${path}, inserted the rest`);
  }

  /** Inserts rows, retrying outages with backoff; resolves undefined once taken, or ClickHouse's error when it refuses them as bad data. */
  private async insertWithRetry(payload: Buffer, token: string, format: RowFormat, known?: number): Promise<unknown> {
    const rows = known ?? countRows(payload);
    for (let attempt = 0; ; attempt++) {
      const started = performance.now();
      try {
        await this.clickhouse.insert(this.options.table, payload, token, format, format === 'TabSeparated' ? EVENT_COLUMNS : undefined);
        this.metrics.insertSeconds.labels('ok').observe((performance.now() - started) / 1000);
        this.metrics.batchRows.observe(rows);
        this.metrics.rowsConfirmed.inc(rows);
        this.stats.confirmedRows += rows;
        this.stats.inserts++;
        this.stats.lastInsertAt = Date.now();
        this.stats.lastError = undefined;
        this.stats.failingSince = undefined;
        if (this.retryLog.suppressed > 0) this.log.info({ failedAttempts: this.retryLog.suppressed }, `inserts into ${this.options.table} work again`);
        this.retryLog = { at: 0, suppressed: 0 };
        return undefined;
      } catch (err) {
        this.metrics.insertSeconds.labels('error').observe((performance.now() - started) / 1000);
        this.stats.failedInserts++;
        this.stats.lastError = err instanceof Error ? err.message.split('\n', 1)[0] : String(err);
        if (isBadData(err)) return err; // retrying cannot help
        this.stats.failingSince ??= Date.now();
        if (this.stopping) throw new Error(`insert ${rows} rows into ${this.options.table}`, { cause: err });
        const delay = backoffMs(attempt + 1, RETRY);
        this.logRetry(err, rows, attempt, delay);
        await sleep(delay);
      }
    }
  }

  /** An outage would log every few seconds for hours: once a minute, with the attempts in between. */
  private logRetry(err: unknown, rows: number, attempt: number, delay: number): void {
    const now = Date.now();
    if (now - this.retryLog.at < RETRY_LOG_EVERY_MS) {
      this.retryLog.suppressed++;
      return;
    }
    this.log.error({ err, rows, attempt, retryInMs: Math.round(delay), failedSinceLastLog: this.retryLog.suppressed }, `insert into ${this.options.table} failed; retrying`);
    this.retryLog = { at: now, suppressed: 0 };
  }
}

/** JSONEachRow rows in a payload: one per line. */
function countRows(payload: Buffer): number {
  let rows = 0;
  for (let at = payload.indexOf(10); at !== -1; at = payload.indexOf(10, at + 1)) rows++;
  return rows;
}

/** The payload's rows in two halves, or undefined for a single row. */
function splitRows(payload: Buffer): [Buffer, Buffer] | undefined {
  const rows = countRows(payload);
  if (rows < 2) return undefined;
  let at = -1;
  for (let i = 0; i < Math.floor(rows / 2); i++) at = payload.indexOf(10, at + 1);
  return [payload.subarray(0, at + 1), payload.subarray(at + 1)];
}
