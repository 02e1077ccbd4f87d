// Prometheus metrics for GET /metrics: one registry, every series named here so the set is
// visible in one place. Hot-path counters are pre-bound to their labels (no lookup per beacon).
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export const DROP_REASONS = ['bot', 'no_user_agent'] as const;
export type DropReason = (typeof DROP_REASONS)[number];

export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });

  // Resolution 1 ms: we promise no stall above 10 ms, so we must be able to see one.
  const loopDelay = monitorEventLoopDelay({ resolution: 1 });
  loopDelay.enable();

  const accepted = new Counter({ name: 'lc_beacons_accepted_total', help: 'Beacons accepted for storage', registers: [registry] });
  const dropped = new Counter({
    name: 'lc_beacons_dropped_total',
    help: 'Beacons answered 204 but not stored, by reason',
    labelNames: ['reason'],
    registers: [registry],
  });
  const rejected = new Counter({
    name: 'lc_http_rejected_total',
    help: 'Requests answered with an error status, by status',
    labelNames: ['status'],
    registers: [registry],
  });
  const batchRows = new Histogram({
    name: 'lc_clickhouse_batch_rows',
    help: 'Rows per ClickHouse insert',
    buckets: [1, 10, 100, 500, 1000, 2000, 5000, 10000, 50000],
    registers: [registry],
  });
  const insertSeconds = new Histogram({
    name: 'lc_clickhouse_insert_seconds',
    help: 'Latency of ClickHouse inserts, including failed ones',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    labelNames: ['outcome'],
    registers: [registry],
  });
  const journalRefused = new Counter({
    name: 'lc_journal_refused_requests_total',
    help: 'Requests answered 503 because the journal was full or could not be written',
    labelNames: ['reason'],
    registers: [registry],
  });
  const deliveries = new Counter({
    name: 'lc_outbox_deliveries_total',
    help: 'Delivery attempts of outbox jobs, by destination and outcome',
    labelNames: ['destination', 'outcome'],
    registers: [registry],
  });
  const limited = new Counter({
    name: 'lc_rate_limited_total',
    help: 'Requests refused with 429 by a rate limit, by what it protects (beacon, lead, login)',
    labelNames: ['limit'],
    registers: [registry],
  });
  const processed = new Counter({
    name: 'lc_outbox_processed_total',
    help: 'Processing outcomes the far side reported for delivered requests (Google), by destination and status',
    labelNames: ['destination', 'status'],
    registers: [registry],
  });
  const rowsParked = new Counter({
    name: 'lc_clickhouse_rows_parked_total',
    help: 'Rows ClickHouse refused as invalid data (found by halving their batch), kept in journal/rejected/',
    registers: [registry],
  });
  const journalDamaged = new Counter({
    name: 'lc_journal_damaged_records_total',
    help: 'Torn or corrupt journal records skipped on replay',
    registers: [registry],
  });
  const rowsConfirmed = new Counter({
    name: 'lc_clickhouse_rows_confirmed_total',
    help: 'Rows whose insert ClickHouse confirmed',
    registers: [registry],
  });
  // Both gauges cover the time since the previous scrape, which then starts a new window.
  new Gauge({
    name: 'lc_event_loop_delay_p99_seconds',
    help: '99th percentile of event-loop delay since the previous scrape',
    registers: [registry],
    collect() {
      this.set(loopDelay.percentile(99) / 1e9);
    },
  });
  new Gauge({
    name: 'lc_event_loop_delay_max_seconds',
    help: 'Longest event-loop stall since the previous scrape',
    registers: [registry],
    collect() {
      this.set(loopDelay.max / 1e9);
      loopDelay.reset();
    },
  });

  const droppedBy = Object.fromEntries(DROP_REASONS.map((r) => [r, dropped.labels(r)])) as Record<DropReason, Counter>;
  return {
    registry,
    loopDelay,
    accepted,
    drop: (reason: DropReason) => droppedBy[reason].inc(),
    rejected: (status: number) => rejected.labels(String(status)).inc(),
    batchRows,
    insertSeconds,
    rowsConfirmed,
    journalDamaged,
    rowsParked,
    deliveries: (destination: string, outcome: string) => deliveries.labels(destination, outcome).inc(),
    rateLimited: (limit: string) => limited.labels(limit).inc(),
    processed: (destination: string, status: string, requests = 1) => processed.labels(destination, status).inc(requests),
    journalRefused: (reason: 'full' | 'write-failed') => journalRefused.labels(reason).inc(),
    /** Registers a gauge read at scrape time, for figures another component owns. */
    gauge(name: string, help: string, read: () => number) {
      new Gauge({ name, help, registers: [registry], collect() { this.set(read()); } });
    },
    /** The same with labels: `read` gives every labelled value at scrape time. */
    gauges(name: string, help: string, labelNames: string[], read: () => Array<[Record<string, string>, number]>) {
      new Gauge({ name, help, labelNames, registers: [registry], collect() { this.reset(); for (const [labels, value] of read()) this.set(labels, value); } });
    },
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
