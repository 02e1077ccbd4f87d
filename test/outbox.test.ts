// The outbox end to end, through the Telegram destination against a local Bot API: latency,
// transient failures, dead jobs and their replay, a crash between send and mark-done.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { OUTBOX_BACKOFF } from '../src/db/outbox.ts';
import { backoffMs } from '../src/time.ts';
import { ADMIN_TOKEN, adminGet, eventually, removeDir, send, startServer, type RunningServer } from './support/harness.ts';
import { startTelegram, TELEGRAM_ERRORS } from './support/telegram.ts';

type Json = Record<string, any>;
const TOKEN = '123456:TEST-token_abc';
const CHAT = '-1001234567890';

async function setup(extra: Record<string, string> = {}, dataDir?: string) {
  const telegram = await startTelegram(TOKEN);
  const server = await startServer({
    TELEGRAM_API_URL: telegram.url,
    TELEGRAM_BOT_TOKEN: TOKEN,
    TELEGRAM_CHAT_ID: CHAT,
    DEFAULT_COUNTRY: 'TR',
    ...(dataDir ? { DATA_DIR: dataDir } : {}),
    ...extra,
  });
  return { telegram, server };
}

async function newLead(server: RunningServer, name = 'Deniz'): Promise<{ id: string; answeredAt: number }> {
  const res = await send(`${server.url}/lead`, { name, phone: '+905321234567', attribution: { utm_campaign: 'leak-repair' } }, { 'Content-Type': 'application/json' });
  assert.equal(res.status, 201);
  return { id: ((await res.json()) as { id: string }).id, answeredAt: Date.now() };
}

async function delivery(server: RunningServer, leadId: string): Promise<Json> {
  const { deliveries } = await adminGet<{ deliveries: Json[] }>(server, '/api/admin/deliveries');
  return deliveries.find((d) => d.lead_id === leadId)!;
}

test('a new lead reaches Telegram within a second, without the name or phone on the lock screen', async () => {
  const { telegram, server } = await setup();
  try {
    const { id, answeredAt } = await newLead(server);
    await eventually(async () => (telegram.calls.length === 1 ? true : undefined), 5000, 'the Telegram message');
    const latency = telegram.calls[0]!.at - answeredAt;
    assert.ok(latency < 1000, `notified ${latency} ms after the 201`);
    assert.equal(telegram.calls[0]!.chatId, CHAT);
    assert.match(telegram.calls[0]!.text, /^New lead \(form\)\n.*campaign leak-repair/);
    assert.ok(!telegram.calls[0]!.text.includes('Deniz') && !telegram.calls[0]!.text.includes('5321234567'));
    const job = await eventually(async () => {
      const d = await delivery(server, id);
      return d?.state === 'done' ? d : undefined;
    }, 5000, 'the delivery to be done');
    assert.equal(job.destination, 'telegram');
    assert.equal(job.dedup_key, `telegram:${id}`);
    assert.deepEqual(job.attemptLog.map((a: Json) => [a.outcome, a.http_status]), [['ok', 200]]);
  } finally {
    await server.stop();
    removeDir(server.dataDir);
    await telegram.close();
  }
});

test('transient failures are retried with backoff, honouring retry_after, until Telegram takes the message', async () => {
  const { telegram, server } = await setup();
  try {
    telegram.script(TELEGRAM_ERRORS.serverError, TELEGRAM_ERRORS.tooManyRequests(1));
    const { id } = await newLead(server);
    const job = await eventually(async () => {
      const d = await delivery(server, id);
      return d?.state === 'done' ? d : undefined;
    }, 15_000, 'the delivery after two failures');
    assert.deepEqual(job.attemptLog.map((a: Json) => [a.outcome, a.http_status]), [['transient', 502], ['transient', 429], ['ok', 200]]);
    assert.equal(telegram.calls.length, 3);
    assert.ok(telegram.calls[2]!.at - telegram.calls[1]!.at >= 1000, 'waited the retry_after Telegram asked for');
  } finally {
    await server.stop();
    removeDir(server.dataDir);
    await telegram.close();
  }
});

test('a permanent failure makes the job dead at once; the owner replays it and it goes through', async () => {
  const { telegram, server } = await setup();
  try {
    telegram.script(TELEGRAM_ERRORS.chatNotFound);
    const { id } = await newLead(server);
    const dead = await eventually(async () => {
      const d = await delivery(server, id);
      return d?.state === 'dead' ? d : undefined;
    }, 5000, 'the dead job');
    assert.equal(dead.attempts, 1);
    assert.match(dead.last_error, /chat not found/);
    assert.match(await (await fetch(`${server.url}/metrics`)).text(), /^lc_outbox_dead_jobs 1$/m);
    const listed = await adminGet<{ deliveries: Json[] }>(server, '/api/admin/deliveries?state=dead');
    assert.deepEqual(listed.deliveries.map((d) => d.id), [dead.id]);

    const retry = await fetch(`${server.url}/api/admin/deliveries/${dead.id}/retry`, { method: 'POST', headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } });
    assert.equal(retry.status, 202);
    await eventually(async () => ((await delivery(server, id)).state === 'done' ? true : undefined), 5000, 'the replayed job');
    const again = await fetch(`${server.url}/api/admin/deliveries/${dead.id}/retry`, { method: 'POST', headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } });
    assert.equal(again.status, 409, 'a done job is not replayed');
  } finally {
    await server.stop();
    removeDir(server.dataDir);
    await telegram.close();
  }
});

test('a job failing past OUTBOX_MAX_ATTEMPTS becomes dead', async () => {
  const { telegram, server } = await setup({ OUTBOX_MAX_ATTEMPTS: '2' });
  try {
    telegram.script(TELEGRAM_ERRORS.serverError, TELEGRAM_ERRORS.serverError, TELEGRAM_ERRORS.serverError);
    const { id } = await newLead(server);
    const dead = await eventually(async () => {
      const d = await delivery(server, id);
      return d?.state === 'dead' ? d : undefined;
    }, 10_000, 'the job to give up');
    assert.equal(dead.attempts, 2);
    assert.equal(telegram.calls.length, 2);
  } finally {
    await server.stop();
    removeDir(server.dataDir);
    await telegram.close();
  }
});

test('a crash between sending and marking done re-sends the same job after the restart', async () => {
  const first = await setup();
  const dataDir = first.server.dataDir;
  try {
    first.telegram.script('hold'); // Telegram got it, but the answer never comes back
    const { id } = await newLead(first.server);
    await eventually(async () => (first.telegram.calls.length === 1 ? true : undefined), 5000, 'the held request');
    first.server.stop('SIGKILL');
    await first.server.exited;
    await first.telegram.close();

    const second = await setup({}, dataDir);
    try {
      await eventually(async () => (second.telegram.calls.length === 1 ? true : undefined), 10_000, 'the re-send');
      assert.equal(second.telegram.calls[0]!.text, first.telegram.calls[0]!.text, 'the same message, naming the same lead');
      const job = await eventually(async () => {
        const d = await delivery(second.server, id);
        return d?.state === 'done' ? d : undefined;
      }, 5000, 'the job done');
      assert.equal(job.dedup_key, `telegram:${id}`);
      assert.ok(second.server.output.some((l) => l.includes('interrupted by a crash')));
    } finally {
      await second.server.stop();
      await second.telegram.close();
    }
  } finally {
    removeDir(dataDir);
  }
});

test('backoff delays stay within the full-jitter bounds', () => {
  for (let attempt = 1; attempt <= 30; attempt++) {
    const bound = Math.min(OUTBOX_BACKOFF.capMs, OUTBOX_BACKOFF.baseMs * 2 ** (attempt - 1));
    assert.equal(backoffMs(attempt, OUTBOX_BACKOFF, () => 0), 0);
    assert.equal(backoffMs(attempt, OUTBOX_BACKOFF, () => 0.999999), Math.floor(0.999999 * bound));
    for (let i = 0; i < 20; i++) {
      const d = backoffMs(attempt, OUTBOX_BACKOFF);
      assert.ok(d >= 0 && d < bound, `attempt ${attempt}: ${d} within [0, ${bound})`);
    }
  }
});

test("a new lead reaches the owner's WhatsApp as the approved template, in the business's language; a template WhatsApp does not know parks it in words", async () => {
  const { startWhatsApp, WHATSAPP } = await import('./support/whatsapp.ts');
  const cloud = await startWhatsApp();
  const env = { LOCALE: 'tr-TR', WHATSAPP_API_URL: cloud.url, WHATSAPP_API_VERSION: WHATSAPP.version, WHATSAPP_PHONE_NUMBER_ID: WHATSAPP.phoneNumberId, WHATSAPP_TOKEN: WHATSAPP.token, WHATSAPP_TO: '+90 532 111 22 33' };
  let server = await startServer(env);
  try {
    const res = await send(`${server.url}/lead`, { name: 'Ayşe', phone: '0532 999 88 77', lcFill: 9000, attribution: { utm_campaign: 'kombi' } }, { 'Content-Type': 'application/json', 'X-Forwarded-For': '81.214.10.20' });
    assert.equal(res.status, 201);
    const [message] = await eventually(async () => (cloud.messages.length > 0 ? cloud.messages : undefined), 10_000, 'the WhatsApp message');
    assert.equal(message!.to, WHATSAPP.to);
    assert.equal(message!.template, 'lean_capture_alert');
    assert.equal(message!.language, 'tr');
    assert.equal(message!.parameters[0], 'Yeni talep (form)');
    assert.match(message!.parameters[1]!, /^kampanya kombi · \d\d:\d\d$/);
    await server.stop();
    removeDir(server.dataDir);

    server = await startServer({ ...env, WHATSAPP_TEMPLATE: 'not_approved' });
    assert.equal((await send(`${server.url}/lead`, { name: 'Ali', phone: '0532 999 88 76', lcFill: 9000 }, { 'Content-Type': 'application/json' })).status, 201);
    const parked = await eventually(async () => {
      const status = await adminGet<{ outbox: { destinations: Array<{ destination: string; parked?: { reason: string } }> } }>(server, '/api/admin/status');
      return status.outbox.destinations.find((d) => d.destination === 'whatsapp' && d.parked)?.parked;
    }, 10_000, 'the parked WhatsApp destination');
    assert.match(parked.reason, /WhatsApp refused our settings \(check .* the template not_approved\): \(#132001\) Template name does not exist in the translation — template name \(not_approved\) does not exist in tr \(code 132001\)/);
  } finally {
    await server.stop();
    removeDir(server.dataDir);
    await cloud.close();
  }
});
