// A local Telegram Bot API for tests: POST /bot<token>/sendMessage with a JSON body, checked as
// Telegram checks it, answered like Telegram ({ok: true, result: Message} or {ok: false,
// error_code, description, parameters}). Tests script failures, and can hold a request unanswered.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';

export interface TelegramCall {
  at: number;
  chatId: unknown;
  text: string;
}

export type Scripted = { status: number; body: unknown } | 'hold';

/** `chats`: the chats that started the bot (others are "chat not found"); undefined = any. */
export async function startTelegram(token: string, chats?: string[]) {
  const calls: TelegramCall[] = [];
  const script: Scripted[] = [];
  const held: ServerResponse[] = [];
  let messageId = 0;
  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const reply = (status: number, body: unknown) => {
      res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const method = req.url?.startsWith(`/bot${token}/`) ? req.url.slice(`/bot${token}/`.length) : undefined;
    if (req.method !== 'POST' || (method !== 'sendMessage' && method !== 'getMe' && method !== 'getChat')) return reply(401, { ok: false, error_code: 401, description: 'Unauthorized' });
    if (!(req.headers['content-type'] ?? '').startsWith('application/json')) return reply(400, { ok: false, error_code: 400, description: 'Bad Request: unsupported content type' });
    let body: { chat_id?: unknown; text?: unknown };
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      return reply(400, { ok: false, error_code: 400, description: "Bad Request: can't parse JSON" });
    }
    if (method === 'getMe') return reply(200, { ok: true, result: { id: 7000000001, is_bot: true, first_name: 'Lean Capture', username: 'lc_test_bot' } });
    if (body.chat_id === undefined) return reply(400, { ok: false, error_code: 400, description: 'Bad Request: chat_id is empty' });
    if (chats && !chats.includes(String(body.chat_id))) return reply(400, { ok: false, error_code: 400, description: 'Bad Request: chat not found' });
    if (method === 'getChat') return reply(200, { ok: true, result: { id: Number(body.chat_id), type: 'private', first_name: 'Owner' } });
    if (typeof body.text !== 'string' || body.text.length === 0 || body.text.length > 4096) return reply(400, { ok: false, error_code: 400, description: 'Bad Request: message text is empty' });
    calls.push({ at: Date.now(), chatId: body.chat_id, text: body.text });
    const next = script.shift();
    if (next === 'hold') {
      held.push(res);
      return;
    }
    if (next) return reply(next.status, next.body);
    reply(200, { ok: true, result: { message_id: ++messageId, chat: { id: body.chat_id, type: 'private' }, date: Math.floor(Date.now() / 1000), text: body.text } });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return {
    url: `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`,
    calls,
    /** Answers for the next requests, in order; afterwards every request succeeds. */
    script(...answers: Scripted[]) {
      script.push(...answers);
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of held) res.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export const TELEGRAM_ERRORS = {
  serverError: { status: 502, body: { ok: false, error_code: 502, description: 'Bad Gateway' } },
  tooManyRequests: (seconds: number) => ({ status: 429, body: { ok: false, error_code: 429, description: `Too Many Requests: retry after ${seconds}`, parameters: { retry_after: seconds } } }),
  chatNotFound: { status: 400, body: { ok: false, error_code: 400, description: 'Bad Request: chat not found' } },
};
