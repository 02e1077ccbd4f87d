// Lead changes become deliveries: each destination says which changes make its jobs (jobsFor),
// and they are added inside the change's own transaction, so they commit with it or not at all.
// Once committed, the worker is woken: a new lead reaches the owner's phone within a second.
import type { Lead, LeadStore } from '../db/leads.ts';
import type { Outbox } from '../db/outbox.ts';
import type { Destination, LeadChange } from './destination.ts';

export function routeLeadChanges(leads: LeadStore, outbox: Outbox, destinations: Destination[], wake: () => void): void {
  const add = (lead: Lead, change: LeadChange) => {
    for (const destination of destinations) {
      for (const job of destination.jobsFor?.(lead, change) ?? []) {
        const existing = outbox.enqueue(destination.name, job.dedupKey, lead.id, job.payload);
        if (existing === 'done' && job.ifDelivered) leads.remark(lead.id, destination.name, destination.name, job.ifDelivered);
      }
    }
    queueMicrotask(wake); // after the commit
  };
  leads.onCreate.push((lead) => add(lead, { kind: 'created' }));
  leads.onSale.push((lead, sale) => add(lead, { kind: 'sale', sale }));
}
