// The one interface every outbound system implements (web push, Telegram; later Google and Meta):
// send one outbox job, say whether it worked, and whether a failure is worth retrying.
import type { DeliveryResult, Job } from '../outbox/outbox.ts';

export interface Destination {
  /** The outbox's `destination` column for this system. */
  readonly name: string;
  send(job: Job): Promise<DeliveryResult>;
}

/** HTTP statuses worth retrying: timeouts, throttling, server errors. Other 4xx will not change. */
export function outcomeOfStatus(status: number): DeliveryResult['outcome'] {
  if (status >= 200 && status < 300) return 'ok';
  if (status === 408 || status === 425 || status === 429 || status >= 500) return 'transient';
  return 'permanent';
}
