// Sends due outbox jobs through their destinations. Woken right after a job commits (a new lead
// reaches the owner's phone within a second) and by a timer at the next due retry.
import type { Logger } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import type { Destination } from '../destinations/destination.ts';
import type { Outbox } from './outbox.ts';

const CLAIM_BATCH = 20;
const SEND_TIMEOUT_MS = 15_000;
/** Even with nothing due, look again this often (a clock jump, a job added by another path). */
const IDLE_POLL_MS = 30_000;

export class OutboxWorker {
  private readonly destinations: Map<string, Destination>;
  private running: Promise<void> | undefined;
  private again = false;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly outbox: Outbox, destinations: Destination[], private readonly log: Logger, private readonly metrics: Metrics) {
    this.destinations = new Map(destinations.map((d) => [d.name, d]));
    const interrupted = outbox.recoverInterrupted();
    if (interrupted > 0) log.warn({ jobs: interrupted }, 'outbox jobs interrupted by a crash will be sent again');
  }

  /** Looks for due jobs now. */
  wake(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.drain().finally(() => {
      this.running = undefined;
      if (this.again) {
        this.again = false;
        this.wake();
      } else this.schedule();
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  private schedule(): void {
    clearTimeout(this.timer);
    if (this.stopped) return;
    const due = this.outbox.nextDueAt();
    const delay = due === undefined ? IDLE_POLL_MS : Math.min(IDLE_POLL_MS, Math.max(0, due - Date.now()));
    this.timer = setTimeout(() => this.wake(), delay);
    this.timer.unref();
  }

  private async drain(): Promise<void> {
    for (;;) {
      const jobs = this.outbox.claimDue(Date.now(), CLAIM_BATCH);
      if (jobs.length === 0) return;
      await Promise.all(
        jobs.map(async (job) => {
          const destination = this.destinations.get(job.destination);
          const started = performance.now();
          const result = destination
            ? await withTimeout(destination.send(job), SEND_TIMEOUT_MS).catch((err: unknown) => ({ outcome: 'transient' as const, response: errorText(err) }))
            : { outcome: 'permanent' as const, response: `destination ${job.destination} is not configured` };
          const state = this.outbox.finish(job, result, performance.now() - started);
          this.metrics.deliveries(job.destination, result.outcome);
          if (state === 'dead') this.log.error({ job: job.id, destination: job.destination, response: result.response }, 'delivery is dead; replay it from the admin API');
          else if (state === 'pending') this.log.warn({ job: job.id, destination: job.destination, attempt: job.attempts, response: result.response }, 'delivery failed; will retry');
        }),
      );
      if (this.stopped) return;
    }
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
