// The destinations this installation sends to: web push always, Telegram, WhatsApp, Google and Meta when
// their settings are present (config.ts refuses a partial setup). Each loads its lead by id.
// Google's client libraries (about 27 MB of memory) are loaded only when Google is configured.
import type { Config } from '../config.ts';
import type { Storage } from '../db/storage.ts';
import type { Logger } from '../log.ts';
import type { Destination } from '../outbox/destination.ts';
import { meta } from './meta.ts';
import { PushEndpoints } from './push-endpoint.ts';
import { telegram } from './telegram.ts';
import { vapidKeys, webPush } from './webpush.ts';
import { whatsapp } from './whatsapp.ts';

export async function configuredDestinations(config: Config, storage: Storage, log: Logger): Promise<{ destinations: Destination[]; vapidPublicKey: string; pushEndpoints: PushEndpoints }> {
  if (config.leads.vapid.subject === undefined) log.warn('VAPID_SUBJECT is not set (mailto: or https: URL): some push services reject pushes without a real contact');
  const vapid = vapidKeys(storage.settings, config.leads.vapid, 'mailto:owner@lean-capture.invalid');
  const pushEndpoints = new PushEndpoints(new Set(config.leads.pushAllowHosts));
  const leadById = (id: string) => storage.leads.get(id);
  if (!config.google) log.warn('sales are not sent to Google Ads (GOOGLE_* not set)');
  const { google } = config.google ? await import('./google.ts') : { google: undefined };
  const destinations = [
    webPush(storage.push, vapid, pushEndpoints),
    ...(config.leads.telegram ? [telegram(config.leads.telegram)] : []),
    ...(config.leads.whatsapp ? [whatsapp(config.leads.whatsapp)] : []),
    ...(config.google && google ? [google(config.google, leadById), google(config.google, leadById, true)] : []),
    ...(config.meta ? [meta(config.meta, leadById)] : []),
  ];
  return { destinations, vapidPublicKey: vapid.publicKey, pushEndpoints };
}
