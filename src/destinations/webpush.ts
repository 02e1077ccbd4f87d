// Web push to the owner's devices: one outbox job per (lead, subscription), sent with web-push
// (RFC 8291 aes128gcm payload encryption, RFC 8292 VAPID). TTL and urgency "high" so a phone
// wakes for a lead; 404/410 from the push service mean the subscription is gone: it is removed.
import webpush from 'web-push';
import type { Db } from '../leads/database.ts';
import type { Job } from '../outbox/outbox.ts';
import { outcomeOfStatus, type Destination } from './destination.ts';
import type { PushEndpoints } from './push-endpoint.ts';

export interface Vapid {
  publicKey: string;
  privateKey: string;
  subject: string;
}

export interface PushJob {
  subscriptionId: number;
  notification: unknown;
}

interface SubscriptionRow {
  endpoint: string;
  p256dh: string;
  auth: string;
}

/** A lead is news for about a day; a phone offline longer gets nothing rather than stale alerts. */
const TTL_SECONDS = 24 * 3600;

export function webPush(db: Db, vapid: Vapid, endpoints: PushEndpoints): Destination {
  const agent = endpoints.agent();
  return {
    name: 'webpush',
    async send(job: Job) {
      const { subscriptionId, notification } = JSON.parse(job.payload) as PushJob;
      const sub = db.prepare('SELECT endpoint, p256dh, auth FROM push_subscriptions WHERE id = ?').get(subscriptionId) as SubscriptionRow | undefined;
      if (!sub) return { outcome: 'permanent', response: 'the subscription was removed before this push was sent' };
      try {
        if (!endpoints.literalAllowed(sub.endpoint)) return { outcome: 'permanent', response: 'the subscription points at a private or local address; not sent' };
        const res = await webpush.sendNotification({ endpoint: sub.endpoint, keys: { p256dh: sub.p256dh, auth: sub.auth } }, JSON.stringify(notification), {
          TTL: TTL_SECONDS,
          urgency: 'high',
          vapidDetails: vapid,
          timeout: 10_000,
          agent,
        });
        return { outcome: 'ok', httpStatus: res.statusCode, response: res.body || undefined };
      } catch (err) {
        // Socket errors say nothing useful to the owner and may describe the network: keep them out of the status.
        if (!(err instanceof webpush.WebPushError)) return { outcome: 'transient', response: 'the push service could not be reached' };
        if (err.statusCode === 404 || err.statusCode === 410) {
          db.prepare('DELETE FROM push_subscriptions WHERE id = ?').run(subscriptionId);
          return { outcome: 'permanent', httpStatus: err.statusCode, response: `subscription expired (${err.statusCode}); removed. ${err.body ?? ''}` };
        }
        return { outcome: outcomeOfStatus(err.statusCode), httpStatus: err.statusCode, response: err.body || err.message };
      }
    },
  };
}

/** VAPID keys from the environment, or generated once into the settings table and kept. */
export function vapidKeys(db: Db, configured: Partial<Vapid>, fallbackSubject: string): Vapid {
  if (configured.publicKey && configured.privateKey) {
    return { publicKey: configured.publicKey, privateKey: configured.privateKey, subject: configured.subject ?? fallbackSubject };
  }
  const stored = db.prepare("SELECT value FROM settings WHERE key = 'vapid'").pluck().get() as string | undefined;
  const keys = stored ? (JSON.parse(stored) as { publicKey: string; privateKey: string }) : webpush.generateVAPIDKeys();
  if (!stored) db.prepare("INSERT INTO settings (key, value) VALUES ('vapid', ?)").run(JSON.stringify(keys));
  return { ...keys, subject: configured.subject ?? fallbackSubject };
}
