// Web push to the owner's devices: one outbox job per (lead, subscription), sent with web-push
// (RFC 8291 aes128gcm payload encryption, RFC 8292 VAPID). TTL and urgency "high" so a phone
// wakes for a lead; 404/410 from the push service mean the subscription is gone: it is removed.
import webpush from 'web-push';
import type { PushSubscriptions } from '../db/push.ts';
import type { Settings } from '../db/settings.ts';
import type { PushJob } from '../notify/notify.ts';
import { outcomeOfStatus, type Destination, type Job } from '../outbox/destination.ts';
import type { PushEndpoints } from './push-endpoint.ts';

export interface Vapid {
  publicKey: string;
  privateKey: string;
  subject: string;
}

/** A lead is news for about a day; a phone offline longer gets nothing rather than stale alerts. */
const TTL_SECONDS = 24 * 3600;

export function webPush(subscriptions: PushSubscriptions, vapid: Vapid, endpoints: PushEndpoints): Destination {
  const agent = endpoints.agent();
  return {
    name: 'webpush',
    async send(job: Job) {
      const { subscriptionId, notification } = JSON.parse(job.payload) as PushJob;
      const sub = subscriptions.get(subscriptionId);
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
          subscriptions.remove(subscriptionId);
          return { outcome: 'permanent', httpStatus: err.statusCode, response: `subscription expired (${err.statusCode}); removed. ${err.body ?? ''}` };
        }
        return { outcome: outcomeOfStatus(err.statusCode), httpStatus: err.statusCode, response: err.body || err.message };
      }
    },
  };
}

/** VAPID keys from the environment, or generated once into the settings table and kept. */
export function vapidKeys(settings: Settings, configured: Partial<Vapid>, fallbackSubject: string): Vapid {
  if (configured.publicKey && configured.privateKey) {
    return { publicKey: configured.publicKey, privateKey: configured.privateKey, subject: configured.subject ?? fallbackSubject };
  }
  const keys = JSON.parse(settings.get('vapid') ?? settings.putIfAbsent('vapid', JSON.stringify(webpush.generateVAPIDKeys()))) as { publicKey: string; privateKey: string };
  return { ...keys, subject: configured.subject ?? fallbackSubject };
}
