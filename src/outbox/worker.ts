// Sends due outbox jobs through their destinations. Woken right after a job commits (a new lead
// reaches the owner's phone within a second) and by a timer at the next due retry. Each
// destination is worked on by its own loop: notifications one job at a time (a few in parallel), ad
// platforms in batches. When a destination refuses our credentials it is parked: its jobs wait,
// unsent and not counted as attempts, and one job probes it again every `parkedProbeMs` (a restart
// with fixed settings tries at once). Requests the far side processes later (Google) are asked
// about until it reports an outcome.
import type { Logger } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import type { DeliveryResult, Job, Outbox } from '../db/outbox.ts';
import { succeedsWithin, withDeadline } from '../time.ts';
import { isBatch, postInBatches, type BatchDestination, type Destination } from './destination.ts';

const CLAIM_BATCH = 20;
const SEND_TIMEOUT_MS = 30_000;
/** Even with nothing due, look again this often (a clock jump, a job added by another path). */
const IDLE_POLL_MS = 30_000;
/** Ask about a request at most this rarely, and stop asking after a day without an outcome. */
const STATUS_CHECK_CAP_MS = 30 * 60_000;
const STATUS_GIVE_UP_MS = 24 * 3600_000;

export interface WorkerOptions {
  parkedProbeMs: number;
  statusCheckMs: number;
}

export type DeliveryStatus = 'queued' | 'sending' | 'retrying' | 'parked' | 'waiting' | 'sent' | 'accepted' | 'partial' | 'rejected' | 'skipped' | 'dead';

export interface Parked {
  reason: string;
  since: number;
  probeAt: number;
}

export class OutboxWorker {
  private readonly destinations: Map<string, Destination>;
  private readonly parked = new Map<string, Parked>();
  /** Each destination is worked on by its own loop: a slow ad platform never delays a push. */
  private readonly running = new Map<string, Promise<void>>();
  private readonly again = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly outbox: Outbox, destinations: Destination[], private readonly log: Logger, private readonly metrics: Metrics, private readonly options: WorkerOptions) {
    this.destinations = new Map(destinations.map((d) => [d.name, d]));
    metrics.gauge('lc_outbox_dead_jobs', 'Outbox jobs that stopped retrying (replay them from the admin API)', () => outbox.counts().dead);
    metrics.gauge('lc_outbox_pending_jobs', 'Outbox jobs waiting to be sent', () => outbox.counts().pending);
    const interrupted = outbox.recoverInterrupted();
    if (interrupted > 0) log.warn({ jobs: interrupted }, 'outbox jobs interrupted by a crash will be sent again');
  }

  /** Looks for due jobs now. */
  wake(): void {
    for (const destination of this.destinations.values()) this.wakeOne(destination);
  }

  private wakeOne(destination: Destination): void {
    if (this.stopped) return;
    if (this.running.has(destination.name)) {
      this.again.add(destination.name);
      return;
    }
    const run = this.drain(destination).finally(() => {
      this.running.delete(destination.name);
      if (this.again.delete(destination.name)) this.wakeOne(destination);
      else this.schedule();
    });
    this.running.set(destination.name, run);
  }

  /** Waits up to `graceMs` for sends in flight; what is still out is sent again at the next start. */
  async stop(graceMs = 5000): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    const finished = await succeedsWithin(Promise.all(this.running.values()), graceMs);
    if (!finished) this.log.warn({ destinations: [...this.running.keys()] }, 'deliveries still in flight at shutdown will be sent again at the next start');
  }

  /** Where a delivery stands, in the owner's words: the state plus what the far side made of it. */
  describe(job: Job, lastOutcome: DeliveryResult['outcome'] | undefined): { status: DeliveryStatus; reason?: string } {
    const reason = job.last_error ?? undefined;
    switch (job.state) {
      case 'pending': {
        if (!this.destinations.has(job.destination)) return { status: 'waiting', reason: `${job.destination} is not configured on this server` };
        const park = this.parked.get(job.destination);
        if (park) return { status: 'parked', reason: park.reason };
        return job.attempts === 0 ? { status: 'queued' } : { status: 'retrying', reason };
      }
      case 'sending':
        return { status: 'sending' };
      case 'done':
        if (job.remote_status === null || job.remote_status === 'accepted') return { status: 'accepted', reason: job.remote_detail ?? undefined };
        if (job.remote_status === 'processing') return { status: 'sent', reason: 'accepted for processing; waiting for the outcome' };
        if (job.remote_status === 'unknown') return { status: 'sent', reason: job.remote_detail ?? undefined };
        return { status: job.remote_status, reason: job.remote_detail ?? undefined };
      case 'skipped':
        return { status: 'skipped', reason };
      case 'dead':
        return lastOutcome === 'permanent' ? { status: 'rejected', reason } : { status: 'dead', reason: `gave up after ${job.attempts} attempts: ${reason ?? ''}` };
    }
  }

  /** Per destination: whether it is configured, how many deliveries wait, and why they wait when stuck. */
  status(): Array<{ destination: string; configured: boolean; waiting: number; parked?: { reason: string; since: string; nextTry: string } }> {
    const waiting = this.outbox.pendingByDestination();
    const names = new Set([...this.destinations.keys(), ...Object.keys(waiting)]);
    return [...names].map((name) => {
      const park = this.parked.get(name);
      return {
        destination: name,
        configured: this.destinations.has(name),
        waiting: waiting[name] ?? 0,
        ...(park ? { parked: { reason: park.reason, since: new Date(park.since).toISOString(), nextTry: new Date(park.probeAt).toISOString() } } : {}),
      };
    });
  }

  private schedule(): void {
    clearTimeout(this.timer);
    if (this.stopped) return;
    const active = [...this.destinations.keys()].filter((name) => !this.parked.has(name));
    const times = [this.outbox.nextDueAt(active), ...[...this.parked.values()].map((p) => p.probeAt)].filter((t): t is number => t !== undefined);
    const due = times.length > 0 ? Math.min(...times) : undefined;
    const delay = due === undefined ? IDLE_POLL_MS : Math.min(IDLE_POLL_MS, Math.max(0, due - Date.now()));
    this.timer = setTimeout(() => this.wake(), delay);
    this.timer.unref();
  }

  private async drain(destination: Destination): Promise<void> {
    for (;;) {
      const now = Date.now();
      const sent = await this.work(destination, now);
      if (isBatch(destination)) await this.askOutcomes(destination, now);
      if (this.stopped || sent === 0) return;
    }
  }

  /** Sends one round of a destination's due jobs; returns how many were claimed. */
  private async work(destination: Destination, now: number): Promise<number> {
    const park = this.parked.get(destination.name);
    if (park && park.probeAt > now) return 0;
    // A parked destination is probed with a single job.
    const jobs = this.outbox.claimDue(now, park ? 1 : isBatch(destination) ? destination.batchSize : CLAIM_BATCH, destination.name);
    if (jobs.length === 0) {
      if (park) park.probeAt = now + this.options.parkedProbeMs; // nothing to probe with yet: stay parked, look later
      return 0;
    }
    const results = isBatch(destination) ? await this.sendBatch(destination, jobs) : await Promise.all(jobs.map((job) => timed(() => destination.send(job))));
    results.forEach(({ result, ms }, i) => this.finish(jobs[i]!, result, ms));

    const refused = results.find(({ result }) => result.outcome === 'parked')?.result;
    if (refused) {
      this.parked.set(destination.name, { reason: refused.response ?? 'credentials refused', since: park?.since ?? Date.now(), probeAt: Date.now() + this.options.parkedProbeMs });
      if (!park) this.log.error({ destination: destination.name, response: refused.response }, 'destination refused our credentials: its deliveries are parked until the settings are fixed');
    } else if (park) {
      this.parked.delete(destination.name);
      this.log.info({ destination: destination.name }, 'destination accepts our credentials again: parked deliveries resume');
    }
    return jobs.length;
  }

  private async sendBatch(destination: BatchDestination, jobs: Job[]): Promise<Array<{ result: DeliveryResult; ms: number }>> {
    const started = performance.now();
    const results: DeliveryResult[] = new Array(jobs.length);
    const events: unknown[] = [];
    const sendable: number[] = [];
    jobs.forEach((job, i) => {
      let built: ReturnType<typeof destination.build>;
      try {
        built = destination.build(job);
      } catch (err) {
        built = { outcome: 'permanent', response: `could not build the event: ${errorText(err)}` };
      }
      if ('event' in built) {
        events.push(built.event);
        sendable.push(i);
      } else results[i] = built; // fails validation: dead alone, never sent
    });
    const posted = await postInBatches(events, destination.batchSize, (part) => guarded(() => destination.post(part)));
    posted.forEach((result, k) => (results[sendable[k]!] = result));
    const ms = performance.now() - started;
    return results.map((result) => ({ result, ms }));
  }

  private finish(job: Job, result: DeliveryResult, ms: number): void {
    const state = this.outbox.finish(job, result, ms);
    this.metrics.deliveries(job.destination, result.outcome);
    if (state === 'skipped') this.log.info({ job: job.id, destination: job.destination, reason: result.response }, 'delivery not sent, by design');
    else if (state === 'dead') this.log.error({ job: job.id, destination: job.destination, response: result.response }, 'delivery is dead; replay it from the admin API');
    else if (state === 'pending' && result.outcome !== 'parked') this.log.warn({ job: job.id, destination: job.destination, attempt: job.attempts, response: result.response }, 'delivery failed; will retry');
  }

  /** Asks the far side how the requests it accepted were processed, and records the answers. */
  private async askOutcomes(destination: BatchDestination, now: number): Promise<void> {
    if (!destination.processingOutcome || this.parked.has(destination.name)) return;
    for (const { ref, sentAt } of this.outbox.remoteRefsToCheck(destination.name, now)) {
      try {
        const outcome = await withDeadline(destination.processingOutcome!(ref), SEND_TIMEOUT_MS);
        if (outcome.status === 'processing') {
          const age = Date.now() - sentAt;
          if (age > STATUS_GIVE_UP_MS) this.outbox.recordRemote(destination.name, ref, { status: 'unknown', detail: 'no processing outcome reported within a day' });
          else this.outbox.recordRemote(destination.name, ref, { status: 'processing', checkAgainAt: Date.now() + Math.min(STATUS_CHECK_CAP_MS, Math.max(this.options.statusCheckMs, age / 2)) });
        } else {
          const deliveries = this.outbox.recordRemote(destination.name, ref, outcome);
          this.metrics.processed(destination.name, outcome.status, deliveries);
          if (outcome.status !== 'accepted') this.log.warn({ destination: destination.name, request: ref, status: outcome.status, detail: outcome.detail }, 'the far side did not process every event of a request');
        }
      } catch (err) {
        this.log.warn({ destination: destination.name, request: ref, err: errorText(err) }, 'could not ask for a processing outcome; will ask again');
        this.outbox.recordRemote(destination.name, ref, { status: 'processing', checkAgainAt: Date.now() + this.options.statusCheckMs });
      }
    }
  }
}

/** Runs one send with a time limit; a throw or no answer is a transient failure. */
async function timed(send: () => Promise<DeliveryResult>): Promise<{ result: DeliveryResult; ms: number }> {
  const started = performance.now();
  const result = await guarded(send);
  return { result, ms: performance.now() - started };
}

function guarded(send: () => Promise<DeliveryResult>): Promise<DeliveryResult> {
  return withDeadline(Promise.resolve().then(send), SEND_TIMEOUT_MS).catch((err: unknown) => ({ outcome: 'transient' as const, response: errorText(err) }));
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
