// Tells the owner about a new lead (or another event, such as a failed backup): one web push job
// per subscribed device, one Telegram and one WhatsApp job where set up, enqueued in the lead's own transaction. The text
// says where the lead came from, not who it is: the name only when NOTIFY_INCLUDE_NAME is on (a
// lock screen is public). A lead held by the spam checks is stored for the owner to look at, not
// pushed to their phone; a flood says so once an hour instead of once per lead.
import type { Lead, LeadStore } from '../db/leads.ts';
import type { Outbox } from '../db/outbox.ts';
import type { PushSubscriptions } from '../db/push.ts';
import { clock, money, notifyTexts, type OwnerAlert } from './texts.ts';

/** What the owner's phone shows, and where tapping it leads. */
export interface NotificationPayload {
  title: string;
  body: string;
  leadId?: string;
  url: string;
}

/** A web push job: one notification for one subscribed device. */
export interface PushJob {
  subscriptionId: number;
  notification: NotificationPayload;
}

export interface NotifyOptions {
  includeName: boolean;
  telegram: boolean;
  /** WhatsApp to the owner's number (the Cloud API) as well. */
  whatsapp?: boolean;
  locale: string;
}

export function notification(lead: Lead, options: NotifyOptions): NotificationPayload {
  const say = notifyTexts(options.locale);
  const time = clock(lead.created_at, options.locale);
  const campaign = lead.ad_campaign ?? lead.utm_campaign;
  const parts = [lead.city, campaign ? say.campaign(campaign) : undefined, time].filter(Boolean);
  const who = options.includeName && lead.name ? `: ${lead.name}` : '';
  return {
    title: say.newLead(lead.source, who, Boolean(lead.is_test)),
    body: parts.join(' · '),
    leadId: lead.id,
    url: `/admin/#/lead/${lead.id}`,
  };
}

/** A sale a checkout reported: "Venda aprovada: R$ 497,00" — "Curso X — via Google · campanha Y". */
export function saleNotification(lead: Lead, product: string | undefined, options: NotifyOptions): NotificationPayload {
  const say = notifyTexts(options.locale);
  const value = money(lead.sale_value ?? 0, lead.sale_currency ?? 'USD', options.locale);
  const platform = lead.gclid || lead.gbraid || lead.wbraid ? 'Google' : lead.fbc || lead.fbclid ? 'Meta' : lead.utm_source;
  const campaign = lead.ad_campaign ?? lead.utm_campaign;
  const via = platform ? [say.via(platform), campaign ? say.campaign(campaign) : undefined].filter(Boolean).join(' · ') : say.noClick;
  return { title: say.saleTitle(value), body: [product, via].filter(Boolean).join(' — '), leadId: lead.id, url: `/admin/#/lead/${lead.id}` };
}

export class Notifier {
  constructor(private readonly storage: { outbox: Outbox; push: PushSubscriptions }, private readonly options: NotifyOptions) {}

  /** Notifies new leads from now on (inside the transaction that stores each). */
  watch(leads: LeadStore): void {
    leads.onCreate.push((lead) => {
      if (lead.source === 'checkout') return; // told as a sale, with its value (sale below)
      if (!lead.flag) this.owner(lead.id, notification(lead, this.options), { leadId: lead.id });
      else if (lead.flag === 'flood') {
        const say = notifyTexts(this.options.locale);
        this.owner(`lead-flood:${new Date().toISOString().slice(0, 13)}`, { title: say.floodTitle, body: say.floodBody, url: '/admin/#/' });
      }
    });
  }

  /** A sale a checkout reported (inside the transaction that records it). */
  sale(lead: Lead, product: string | undefined): void {
    this.owner(`sale:${lead.id}`, saleNotification(lead, product, this.options), { leadId: lead.id });
  }

  /** Something that is not a lead (a failed backup, a campaign wasting money), in the owner's language. */
  alert(key: string, alert: OwnerAlert, url: string): number {
    return this.owner(key, { ...notifyTexts(this.options.locale).alert(alert), url });
  }

  /** A test notification to every device (Settings, the connections check); returns how many. */
  test(): number {
    const say = notifyTexts(this.options.locale);
    return this.owner(`test:${Date.now()}`, { title: say.testTitle, body: say.testBody, url: '/admin/#/settings' }, { pushOnly: true });
  }

  /**
   * One push job per subscribed device and one Telegram job (unless `pushOnly`), under dedup keys
   * derived from `key`; returns how many devices it goes to.
   */
  owner(key: string, payload: NotificationPayload, options: { leadId?: string; pushOnly?: boolean } = {}): number {
    const leadId = options.leadId ?? null;
    const subscriptions = this.storage.push.ids();
    for (const subscriptionId of subscriptions) {
      const job: PushJob = { subscriptionId, notification: payload };
      this.storage.outbox.enqueue('webpush', `webpush:${key}:${subscriptionId}`, leadId, job);
    }
    if (this.options.telegram && !options.pushOnly) this.storage.outbox.enqueue('telegram', `telegram:${key}`, leadId, payload);
    if (this.options.whatsapp && !options.pushOnly) this.storage.outbox.enqueue('whatsapp', `whatsapp:${key}`, leadId, payload);
    return subscriptions.length;
  }
}
