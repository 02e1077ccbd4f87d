// The durable outbox shared by every outbound delivery (web push, Telegram, Google and Meta
// conversions). A job is inserted in the same SQLite transaction as the change that causes it;
// the worker claims due jobs, sends them, and records every attempt. Transient failures retry
// with capped exponential backoff and full jitter; permanent ones, and jobs past max attempts,
// become dead until the owner replays them; a refusal of our credentials parks the job (pending,
// the attempt not counted) while the worker parks its whole destination. A crash between send and
// mark-done re-sends the job with the same dedup key, which destinations pass on so the far side
// can drop the repeat. Where the far side processes later (Google), the job keeps the request's
// reference and the processing outcome once known.
import { backoffMs, type BackoffPolicy } from '../time.ts';
import type { Db } from './database.ts';

/** `skipped`: not sent by design (no consent, no click id, a test lead), with the reason; `dead`: something went wrong. */
export const JOB_STATES = ['pending', 'sending', 'done', 'skipped', 'dead'] as const;
export type JobState = (typeof JOB_STATES)[number];
export type Outcome = 'ok' | 'transient' | 'permanent' | 'parked' | 'skipped';
export type RemoteStatus = 'processing' | 'accepted' | 'partial' | 'rejected' | 'unknown';

export interface Job {
  id: number;
  destination: string;
  dedup_key: string;
  lead_id: string | null;
  payload: string;
  state: JobState;
  attempts: number;
  max_attempts: number;
  next_attempt_at: number;
  last_error: string | null;
  created_at: number;
  updated_at: number;
  remote_ref: string | null;
  remote_status: RemoteStatus | null;
  remote_detail: string | null;
  remote_check_at: number | null;
}

export interface Attempt {
  at: number;
  outcome: Outcome;
  http_status: number | null;
  response: string | null;
  duration_ms: number;
}

export interface DeliveryResult {
  outcome: Outcome;
  httpStatus?: number;
  /** An excerpt of the far side's answer, or the error; stored with the attempt. */
  response?: string;
  /** The far side asked us to wait this long (e.g. Telegram's retry_after). */
  retryAfterMs?: number;
  /** Accepted for later processing under this reference (Google's request id): ask for the outcome. */
  remoteRef?: string;
}

/** A failed delivery waits 1 s, then up to 2 s, 4 s … and at most an hour (full jitter). */
export const OUTBOX_BACKOFF: BackoffPolicy = { baseMs: 1000, capMs: 60 * 60 * 1000 };
const RESPONSE_EXCERPT = 500;

export class Outbox {
  /** `statusCheckMs`: how long after sending to first ask the far side for its processing outcome. */
  constructor(private readonly db: Db, private readonly maxAttempts: number, private readonly statusCheckMs = 60_000) {}

  /**
   * Adds a job; call inside the transaction of the change that causes it. A repeated dedup key is
   * ignored: then the existing job's state is returned (undefined when the job was added).
   */
  enqueue(destination: string, dedupKey: string, leadId: string | null, payload: unknown, now = Date.now()): JobState | undefined {
    const added = this.db
      .prepare('INSERT OR IGNORE INTO outbox (destination, dedup_key, lead_id, payload, max_attempts, next_attempt_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
      .run(destination, dedupKey, leadId, JSON.stringify(payload), this.maxAttempts, now, now, now).changes === 1;
    return added ? undefined : (this.db.prepare('SELECT state FROM outbox WHERE dedup_key = ?').pluck().get(dedupKey) as JobState);
  }

  /** Jobs a previous process claimed and never finished (it died mid-send) go back to pending. */
  recoverInterrupted(): number {
    return this.db.prepare("UPDATE outbox SET state = 'pending', updated_at = ? WHERE state = 'sending'").run(Date.now()).changes;
  }

  /** Marks up to `limit` due jobs of one destination as sending and returns them. */
  claimDue(now: number, limit: number, destination: string): Job[] {
    return this.db.transaction(() => {
      const jobs = this.db.prepare("SELECT * FROM outbox WHERE state = 'pending' AND destination = ? AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?").all(destination, now, limit) as Job[];
      const claim = this.db.prepare("UPDATE outbox SET state = 'sending', attempts = attempts + 1, updated_at = ? WHERE id = ?");
      for (const job of jobs) {
        claim.run(now, job.id);
        job.state = 'sending';
        job.attempts++;
      }
      return jobs;
    })();
  }

  /** Records the attempt and moves the job on: done, back to pending after a backoff, or dead. */
  finish(job: Job, result: DeliveryResult, durationMs: number, now = Date.now()): JobState {
    const response = result.response?.slice(0, RESPONSE_EXCERPT) ?? null;
    let state: JobState;
    let next = job.next_attempt_at;
    let attempts = job.attempts;
    if (result.outcome === 'ok') state = 'done';
    else if (result.outcome === 'skipped') state = 'skipped';
    else if (result.outcome === 'parked') {
      state = 'pending'; // waits for its destination to be unparked; the attempt does not count
      attempts--;
    } else if (result.outcome === 'permanent' || job.attempts >= job.max_attempts) state = 'dead';
    else {
      state = 'pending';
      next = now + Math.max(backoffMs(job.attempts, OUTBOX_BACKOFF), result.retryAfterMs ?? 0);
    }
    this.db.transaction(() => {
      this.db.prepare('INSERT INTO outbox_attempts (job_id, at, outcome, http_status, response, duration_ms) VALUES (?, ?, ?, ?, ?, ?)').run(job.id, now, result.outcome, result.httpStatus ?? null, response, Math.round(durationMs));
      this.db
        .prepare('UPDATE outbox SET state = ?, attempts = ?, next_attempt_at = ?, last_error = ?, updated_at = ?, remote_ref = ?, remote_status = ?, remote_detail = NULL, remote_check_at = ? WHERE id = ?')
        .run(state, attempts, next, result.outcome === 'ok' ? null : response, now, result.remoteRef ?? null, result.remoteRef ? 'processing' : null, result.remoteRef ? now + this.statusCheckMs : null, job.id);
    })();
    job.state = state;
    job.attempts = attempts;
    return state;
  }

  /** References of one destination's deliveries still being processed, due to be asked about. */
  remoteRefsToCheck(destination: string, now: number, limit = 20): Array<{ ref: string; sentAt: number }> {
    return this.db
      .prepare("SELECT remote_ref AS ref, min(updated_at) AS sentAt FROM outbox WHERE remote_status = 'processing' AND destination = ? AND remote_check_at <= ? GROUP BY remote_ref ORDER BY min(remote_check_at) LIMIT ?")
      .all(destination, now, limit) as Array<{ ref: string; sentAt: number }>;
  }

  /** Records the far side's processing outcome for every delivery of a request, or when to ask again. */
  recordRemote(destination: string, ref: string, outcome: { status: RemoteStatus; detail?: string; checkAgainAt?: number }): number {
    return this.db
      .prepare('UPDATE outbox SET remote_status = ?, remote_detail = ?, remote_check_at = ? WHERE destination = ? AND remote_ref = ?')
      .run(outcome.status, outcome.detail ?? null, outcome.status === 'processing' ? (outcome.checkAgainAt ?? null) : null, destination, ref).changes;
  }

  /** Replays a dead job from the start (the owner's "retry"). Returns false when it is not dead. */
  retry(id: number): boolean {
    const now = Date.now();
    return this.db.prepare("UPDATE outbox SET state = 'pending', attempts = 0, next_attempt_at = ?, updated_at = ? WHERE id = ? AND state = 'dead'").run(now, now, id).changes === 1;
  }

  get(id: number): Job | undefined {
    return this.db.prepare('SELECT * FROM outbox WHERE id = ?').get(id) as Job | undefined;
  }

  list(filter: { state?: JobState; leadId?: string; limit?: number }): Job[] {
    const where: string[] = [];
    const params: unknown[] = [];
    if (filter.state) {
      where.push('state = ?');
      params.push(filter.state);
    }
    if (filter.leadId) {
      where.push('lead_id = ?');
      params.push(filter.leadId);
    }
    return this.db.prepare(`SELECT * FROM outbox ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY id DESC LIMIT ?`).all(...params, filter.limit ?? 100) as Job[];
  }

  attempts(jobId: number): Attempt[] {
    return this.db.prepare('SELECT at, outcome, http_status, response, duration_ms FROM outbox_attempts WHERE job_id = ? ORDER BY at, id').all(jobId) as Attempt[];
  }

  /** When the next job of these destinations is due, or a processing outcome is to be asked for. */
  nextDueAt(destinations: string[]): number | undefined {
    const list = JSON.stringify(destinations);
    const due = this.db.prepare("SELECT min(next_attempt_at) FROM outbox WHERE state = 'pending' AND destination IN (SELECT value FROM json_each(?))").pluck().get(list) as number | null;
    const check = this.db.prepare("SELECT min(remote_check_at) FROM outbox WHERE remote_status = 'processing' AND destination IN (SELECT value FROM json_each(?))").pluck().get(list) as number | null;
    const times = [due, check].filter((t): t is number => t !== null);
    return times.length > 0 ? Math.min(...times) : undefined;
  }

  /** Pending jobs per destination (those of a parked or unconfigured destination wait here). */
  pendingByDestination(): Record<string, number> {
    const rows = this.db.prepare("SELECT destination, count(*) AS n FROM outbox WHERE state = 'pending' GROUP BY destination").all() as Array<{ destination: string; n: number }>;
    return Object.fromEntries(rows.map((r) => [r.destination, r.n]));
  }

  counts(): Record<JobState, number> {
    const counts = { pending: 0, sending: 0, done: 0, skipped: 0, dead: 0 };
    for (const row of this.db.prepare('SELECT state, count(*) AS n FROM outbox GROUP BY state').all() as Array<{ state: JobState; n: number }>) counts[row.state] = row.n;
    return counts;
  }
}
