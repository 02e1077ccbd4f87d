// After a burst, V8 keeps what it grew (a larger young generation, old-generation garbage,
// buffers no longer used) until its memory reducer runs, and only a full collection arms that,
// which a server at rest never needs. Measured in embedded mode after a burst and a half-rate
// phase: RSS stayed at 354 MiB through 40 s of idle; one full collection took 29 ms and brought
// it to 323. So once the event loop has been all but idle for a whole check after a burst, and
// the heap grew, this runs that collection, when nobody waits on the loop. It needs
// `node --expose-gc` (npm start, the Dockerfile and the systemd unit pass it); without it, this
// does nothing.
import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import type { Logger } from './log.ts';

// V8 gives back the young generation it grew only when its allocation rate over the last ~5 s is
// low: a collection 2 s after the load ended left it at 17 MB, one after 5 s of rest at 1.
const CHECK_MS = 5000;
/**
 * Below this share of a check spent running, the loop is at rest: the loop-delay monitor's 1 ms
 * timer alone keeps it at 1–2 %; serving half the bench's peak, ~50 %.
 */
const IDLE_BELOW = 0.03;
/**
 * At or above this share, a burst (~3 000 beacons a second). Only rest after one counts: a steady
 * trickle leaves the heap to V8, instead of a full collection each time it grows a little.
 */
const BURST_FROM = 0.1;
/** Growth of the heap and buffers since the last collection worth a full one (~30 ms at rest). */
const GROWN_BYTES = 8 << 20;

export interface Heap {
  /** The JS heap and ArrayBuffers: what a full collection can give back. */
  bytes(): number;
  /** The event loop's share of time spent running since the last call. */
  busy(): number;
  collect(): void;
}

/** Decides at each check; separate from the timer so that tests can drive it. */
export class IdleCollector {
  private floor: number;
  /** A check since the last collection saw a burst. */
  private burst = false;

  constructor(private readonly heap: Heap, private readonly log: Logger) {
    this.floor = heap.bytes();
  }

  /** Runs a full collection when the loop came to rest after a burst and the heap grew; returns whether it did. */
  check(): boolean {
    const busy = this.heap.busy();
    if (busy >= BURST_FROM) this.burst = true;
    const before = this.heap.bytes();
    if (!this.burst || busy >= IDLE_BELOW || before < this.floor + GROWN_BYTES) return false;
    const started = performance.now();
    this.heap.collect();
    this.floor = this.heap.bytes();
    this.burst = false;
    this.log.debug({ beforeMb: mb(before), afterMb: mb(this.floor), ms: Math.round(performance.now() - started) }, 'event loop at rest: heap collected');
    return true;
  }
}

/** Starts the checks for the life of the process (their timer does not keep it alive). */
export function collectWhenIdle(log: Logger): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) {
    log.debug('node runs without --expose-gc: memory a burst grew is returned when V8 decides');
    return;
  }
  let last: EventLoopUtilization = performance.eventLoopUtilization();
  const collector = new IdleCollector(
    {
      bytes: () => {
        const { heapTotal, arrayBuffers } = process.memoryUsage();
        return heapTotal + arrayBuffers;
      },
      busy: () => {
        const now = performance.eventLoopUtilization();
        const { utilization } = performance.eventLoopUtilization(now, last);
        last = now;
        return utilization;
      },
      collect: gc,
    },
    log,
  );
  setInterval(() => collector.check(), CHECK_MS).unref();
}

const mb = (bytes: number) => Math.round(bytes / 2 ** 20);
