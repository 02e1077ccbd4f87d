// WhatsApp (Business Cloud API): the owner's notifications as a template message to his number —
// POST {WHATSAPP_API_URL}/{version}/{phone number id}/messages with {messaging_product: whatsapp,
// to, type: template, template: {name, language: {code}, components: [body parameters]}}. A
// business may write first only with an approved template; ours has two body parameters, the
// title and the text. Template parameters may not hold line breaks or tabs, so lines become " · ".
import { request } from 'undici';
import type { WhatsAppConfig } from '../config.ts';
import type { NotificationPayload } from '../notify/notify.ts';
import { outcomeOfStatus, type Destination, type Job } from '../outbox/destination.ts';

/** Graph error codes about our token, number or template: our settings (parked until they change). */
const SETTINGS_CODES = new Set([10, 100, 190, 200, 131030, 132000, 132001, 133010]);
/** Rate limits and temporary failures: try again later. */
const TRANSIENT_CODES = new Set([1, 2, 4, 80007, 130429, 131000, 131016, 131056, 133004]);

const param = (text: string) => ({ type: 'text', text: text.replace(/[\r\n\t]+/g, ' · ').replace(/ {4,}/g, '   ').slice(0, 1000) || '-' });

export function whatsapp(config: WhatsAppConfig): Destination {
  const url = `${config.apiUrl}/${config.apiVersion}/${config.phoneNumberId}/messages`;
  return {
    name: 'whatsapp',
    async send(job: Job) {
      const notification = JSON.parse(job.payload) as NotificationPayload;
      const res = await request(url, {
        method: 'POST',
        headers: { authorization: `Bearer ${config.token}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          messaging_product: 'whatsapp',
          recipient_type: 'individual',
          to: config.to,
          type: 'template',
          template: { name: config.template, language: { code: config.language }, components: [{ type: 'body', parameters: [param(notification.title), param(notification.body)] }] },
        }),
        headersTimeout: 10_000,
        bodyTimeout: 10_000,
      });
      const text = await res.body.text();
      let error: { message?: string; code?: number; error_data?: { details?: string } } | undefined;
      try {
        error = (JSON.parse(text) as { error?: typeof error }).error;
      } catch {
        // not JSON: keep the excerpt
      }
      if (res.statusCode < 300) return { outcome: 'ok', httpStatus: res.statusCode, response: text.slice(0, 300) };
      const reason = error ? `${error.message ?? ''}${error.error_data?.details ? ` — ${error.error_data.details}` : ''} (code ${error.code ?? '?'})` : text.slice(0, 300);
      if (error?.code !== undefined && SETTINGS_CODES.has(error.code)) return { outcome: 'parked', httpStatus: res.statusCode, response: `WhatsApp refused our settings (check WHATSAPP_TOKEN, WHATSAPP_PHONE_NUMBER_ID, WHATSAPP_TO and the template ${config.template}): ${reason}` };
      if (error?.code !== undefined && TRANSIENT_CODES.has(error.code)) return { outcome: 'transient', httpStatus: res.statusCode, response: `WhatsApp asks to try later: ${reason}` };
      return { outcome: outcomeOfStatus(res.statusCode), httpStatus: res.statusCode, response: reason };
    },
  };
}
