// Checks of the owner's notifications: Telegram's bot and chat (getMe, getChat; a message only
// when asked), web push keys and devices (a test push to each only when asked).
import type { LeadsConfig } from '../config.ts';
import { ask } from './http.ts';
import { fail, ok, warn, type Check } from './report.ts';

export const CHECK_MESSAGE = 'Lean Capture connection check';

export async function telegramChecks(config: NonNullable<LeadsConfig['telegram']>, send: boolean): Promise<Check[]> {
  const name = 'Telegram';
  const call = (method: string, body: unknown) => ask(`${config.apiUrl}/bot${config.botToken}/${method}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const me = await call('getMe', {});
  if ('error' in me) return [fail(name, `the Bot API did not answer: ${me.error}`, 'Check the server can reach api.telegram.org (outbound https), and TELEGRAM_API_URL if set.')];
  const bot = parse(me.text) as { ok?: boolean; result?: { username?: string }; description?: string };
  if (!bot.ok) return [fail(name, `Telegram refused the bot token: ${bot.description ?? `HTTP ${me.res.status}`}`, 'Copy the token again from @BotFather (/mybots → API Token) into TELEGRAM_BOT_TOKEN.')];
  const chat = await call('getChat', { chat_id: config.chatId });
  const found = 'error' in chat ? { ok: false, description: chat.error } : (parse(chat.text) as { ok?: boolean; description?: string });
  if (!found.ok) return [fail(name, `bot @${bot.result?.username ?? '?'} cannot reach chat ${config.chatId}: ${found.description ?? 'no answer'}`, `Open @${bot.result?.username ?? 'your bot'} in Telegram and press Start (or add it to the group), then set TELEGRAM_CHAT_ID to that chat's id.`)];
  const checks = [ok(name, `bot @${bot.result?.username ?? '?'} can write to chat ${config.chatId}`)];
  if (send) {
    const sent = await call('sendMessage', { chat_id: config.chatId, text: CHECK_MESSAGE });
    const answer = 'error' in sent ? { ok: false, description: sent.error } : (parse(sent.text) as { ok?: boolean; description?: string });
    checks.push(answer.ok ? ok(name, `sent "${CHECK_MESSAGE}"`) : fail(name, `the test message failed: ${answer.description ?? 'no answer'}`, 'See the line above; the chat must have started the bot.'));
  }
  return checks;
}

/**
 * `devices`: subscribed devices; `sendTest`: queues a test push to each (through the outbox, as a
 * real notification goes) and says how many, or undefined when no server runs to send it.
 */
export function pushChecks(keysPresent: boolean, devices: number, send: boolean, sendTest: (() => number) | undefined): Check[] {
  const name = 'Web push';
  if (!keysPresent) return [fail(name, 'no VAPID keys', 'Start the server once (it makes and keeps a pair), or set VAPID_PUBLIC_KEY and VAPID_PRIVATE_KEY (npm run gen-vapid-keys).')];
  if (devices === 0) return [warn(name, 'VAPID keys present; no device is subscribed', "Open the owner's app on the phone → Settings → Notifications → Turn on.")];
  const checks = [ok(name, `VAPID keys present; ${devices} device(s) subscribed`)];
  if (send) {
    if (!sendTest) checks.push(warn(name, 'no test push sent: no server is running to send it', 'Start the server and run the check again with --send.'));
    else checks.push(ok(name, `a test push is on its way to ${sendTest()} device(s)`));
  }
  return checks;
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return {};
  }
}
