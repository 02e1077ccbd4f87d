// Telegram: the new-lead message through the Bot API's sendMessage
// (POST {TELEGRAM_API_URL}/bot<token>/sendMessage, JSON {chat_id, text}; answers {ok, result}
// or {ok: false, error_code, description, parameters.retry_after}).
import { request } from 'undici';
import type { NotificationPayload } from '../notify/notify.ts';
import { outcomeOfStatus, type Destination, type Job } from '../outbox/destination.ts';

export interface TelegramConfig {
  apiUrl: string;
  botToken: string;
  chatId: string;
}

export function telegram(config: TelegramConfig): Destination {
  return {
    name: 'telegram',
    async send(job: Job) {
      const notification = JSON.parse(job.payload) as NotificationPayload;
      const res = await request(`${config.apiUrl}/bot${config.botToken}/sendMessage`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ chat_id: config.chatId, text: `${notification.title}\n${notification.body}`, disable_web_page_preview: true }),
        headersTimeout: 10_000,
        bodyTimeout: 10_000,
      });
      const text = await res.body.text();
      let retryAfterMs: number | undefined;
      try {
        const seconds = (JSON.parse(text) as { parameters?: { retry_after?: number } }).parameters?.retry_after;
        if (typeof seconds === 'number') retryAfterMs = seconds * 1000;
      } catch {
        // not JSON: keep the excerpt
      }
      return { outcome: outcomeOfStatus(res.statusCode), httpStatus: res.statusCode, response: text, retryAfterMs };
    },
  };
}
