// Tells the owner about a new lead (or another event, such as a failed backup): one web push job
// per subscribed device and one Telegram job, enqueued in the lead's own transaction. The text says where the lead came from, not who it is:
// the name only when NOTIFY_INCLUDE_NAME is on (a lock screen is public).
import type { Db } from './database.ts';
import type { Outbox } from '../outbox/outbox.ts';
import type { NotificationPayload } from '../destinations/telegram.ts';
import type { PushJob } from '../destinations/webpush.ts';
import type { Lead } from './store.ts';

export interface NotifyOptions {
  includeName: boolean;
  telegram: boolean;
  locale: string;
}

const SOURCE_LABEL: Record<Lead['source'], string> = {
  form: 'form',
  call: 'call click',
  whatsapp: 'WhatsApp click',
  google_lead_form: 'Google lead form',
};

export function notification(lead: Lead, options: NotifyOptions): NotificationPayload {
  const time = new Intl.DateTimeFormat(options.locale, { hour: '2-digit', minute: '2-digit' }).format(lead.created_at);
  const parts = [lead.city, lead.utm_campaign ? `campaign ${lead.utm_campaign}` : undefined, time].filter(Boolean);
  const who = options.includeName && lead.name ? `: ${lead.name}` : '';
  return {
    title: `New lead (${SOURCE_LABEL[lead.source]})${who}${lead.is_test ? ' [test]' : ''}`,
    body: parts.join(' · '),
    leadId: lead.id,
    url: `/admin/#/lead/${lead.id}`,
  };
}

export function enqueueNotifications(db: Db, outbox: Outbox, lead: Lead, options: NotifyOptions): void {
  notifyOwner(db, outbox, lead.id, notification(lead, options), options.telegram, lead.id);
}

/** One push job per subscribed device and one Telegram job, under dedup keys derived from `key`. */
export function notifyOwner(db: Db, outbox: Outbox, key: string, payload: NotificationPayload, telegram: boolean, leadId: string | null = null): void {
  const subscriptions = db.prepare('SELECT id FROM push_subscriptions').pluck().all() as number[];
  for (const subscriptionId of subscriptions) {
    const job: PushJob = { subscriptionId, notification: payload };
    outbox.enqueue('webpush', `webpush:${key}:${subscriptionId}`, leadId, job);
  }
  if (telegram) outbox.enqueue('telegram', `telegram:${key}`, leadId, payload);
}
