// The interface every outbound system implements. Notifications (web push, Telegram) send one
// job at a time; ad platforms (Google, Meta) take many events per request, so they build and
// validate each job's event first, then post events in batches. Every answer says whether it
// worked and whether a failure is worth retrying, or means our credentials are refused (parked).
// A destination that learns from leads also says which changes of a lead become its jobs.
import type { Lead, Sale } from '../db/leads.ts';
import type { DeliveryResult, Job, RemoteStatus } from '../db/outbox.ts';

export type { DeliveryResult, Job, RemoteStatus };

/** What happened to a lead: it arrived, or its sale was recorded or restated (value 0: taken back). */
export type LeadChange = { kind: 'created' } | { kind: 'sale'; sale: Sale };

export interface NewJob {
  /** The same key twice is one job: the far side gets each event once. */
  dedupKey: string;
  payload: unknown;
  /** A line for the lead's history when the job was already delivered (the far side takes no corrections). */
  ifDelivered?: string;
}

interface Common {
  /** The outbox's `destination` column for this system. */
  readonly name: string;
  /** The jobs a change of a lead makes for this system (none when it does not care). */
  jobsFor?(lead: Lead, change: LeadChange): NewJob[];
}

export interface SingleDestination extends Common {
  send(job: Job): Promise<DeliveryResult>;
}

export interface BatchDestination<Event = unknown> extends Common {
  /** The most events the far side takes in one request. */
  readonly batchSize: number;
  /** The job's event built from the lead as it is now, or the result for a job that cannot be sent. */
  build(job: Job): { event: Event } | DeliveryResult;
  /** One request with these events: the far side accepts or refuses them together. */
  post(events: Event[]): Promise<DeliveryResult>;
  /** For a destination that processes after accepting: the outcome of the request `ref`. */
  processingOutcome?(ref: string): Promise<{ status: RemoteStatus; detail?: string }>;
}

export type Destination = SingleDestination | BatchDestination;

export function isBatch(destination: Destination): destination is BatchDestination {
  return 'post' in destination;
}

/**
 * Posts events in requests of at most `batchSize`, one result per event. The far side refuses a
 * whole request for one bad event, so a request refused for good is split in halves and re-sent
 * until the bad event is alone: it goes dead, the others are delivered (log2(batch) extra requests).
 */
export async function postInBatches<Event>(events: Event[], batchSize: number, post: (events: Event[]) => Promise<DeliveryResult>): Promise<DeliveryResult[]> {
  let parked: DeliveryResult | undefined; // credentials refused: the rest is not tried
  const isolate = async (part: Event[]): Promise<DeliveryResult[]> => {
    if (parked) return part.map(() => parked!);
    const result = await post(part);
    if (result.outcome === 'parked') parked = result;
    if (result.outcome !== 'permanent' || part.length === 1) return part.map(() => result);
    const half = Math.ceil(part.length / 2);
    return [...(await isolate(part.slice(0, half))), ...(await isolate(part.slice(half)))];
  };
  const results: DeliveryResult[] = [];
  for (let i = 0; i < events.length; i += batchSize) results.push(...(await isolate(events.slice(i, i + batchSize))));
  return results;
}

/** HTTP statuses worth retrying: timeouts, throttling, server errors. Other 4xx will not change. */
export function outcomeOfStatus(status: number): DeliveryResult['outcome'] {
  if (status >= 200 && status < 300) return 'ok';
  if (status === 408 || status === 425 || status === 429 || status >= 500) return 'transient';
  return 'permanent';
}
