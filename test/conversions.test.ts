// Sales back to Google Ads through the Data Manager API, end to end: the real server, Google's
// official client, a local OAuth token endpoint and Data Manager API that check every request.
import assert from 'node:assert/strict';
import { createHash, createHmac, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { test } from 'node:test';
import { googleEmail, googlePhone, metaEmail, metaPhone } from '../src/destinations/normalise.ts';
import { adminGet, eventually, removeDir, send, startServer, type RunningServer } from './support/harness.ts';
import { CLIENT, startGoogle, UNAVAILABLE } from './support/google.ts';
import { META, startMeta } from './support/meta.ts';
import { startTelegram } from './support/telegram.ts';

type Json = Record<string, any>;
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/** The META_* settings of a server that sends to this local Graph API. */
function metaEnv(metaApi: { url: string }): Record<string, string> {
  return { META_PIXEL_ID: META.pixelId, META_ACCESS_TOKEN: META.token, META_API_VERSION: META.version, META_GRAPH_URL: metaApi.url };
}

async function setup(google: Awaited<ReturnType<typeof startGoogle>>, dataDir?: string, extra: Record<string, string> = {}) {
  return startServer({
    TRUST_PROXY: '1',
    DEFAULT_COUNTRY: 'TR',
    CURRENCY: 'TRY',
    GOOGLE_CLIENT_ID: CLIENT.id,
    GOOGLE_CLIENT_SECRET: CLIENT.secret,
    GOOGLE_REFRESH_TOKEN: CLIENT.refreshToken,
    GOOGLE_ADS_CUSTOMER_ID: '123-456-7890',
    GOOGLE_ADS_LOGIN_CUSTOMER_ID: '999-888-7777',
    GOOGLE_CONVERSION_ACTION_ID: '55555',
    GOOGLE_DATAMANAGER_ENDPOINT: google.origin,
    GOOGLE_OAUTH_TOKEN_URL: google.tokenUrl,
    ...(dataDir ? { DATA_DIR: dataDir } : {}),
    ...extra,
  });
}

async function lead(server: RunningServer, body: Json): Promise<string> {
  const res = await send(`${server.url}/lead`, body, { 'Content-Type': 'application/json', 'X-Forwarded-For': '81.214.10.20' });
  assert.equal(res.status, 201);
  return ((await res.json()) as { id: string }).id;
}

function sell(server: RunningServer, id: string, value: number, at?: string) {
  return fetch(`${server.url}/api/admin/leads/${id}/sale`, {
    method: 'POST',
    headers: { Authorization: 'Bearer test-admin-token-0123456789', 'Content-Type': 'application/json' },
    body: JSON.stringify({ value, ...(at ? { at } : {}) }),
  });
}

async function googleDelivery(server: RunningServer, id: string, state: string): Promise<Json> {
  return eventually(async () => {
    const { deliveries } = await adminGet<Json>(server, `/api/admin/leads/${id}`);
    return deliveries.find((d: Json) => d.destination === 'google' && d.state === state);
  }, 20_000, `the Google delivery to be ${state}`);
}

test('hashes follow the normalisation examples in Google\'s and Meta\'s documentation', () => {
  assert.equal(googleEmail(' cloudy.sanfrancisco+shopping@gmail.com '), 'cloudysanfrancisco@gmail.com');
  assert.equal(googleEmail('user.name+NYC@Example.com'), 'user.name+nyc@example.com');
  assert.equal(googlePhone('+18005550100'), '+18005550100');
  assert.equal(metaEmail(' John_Smith@gmail.com '), 'john_smith@gmail.com');
  assert.equal(metaPhone('+16505551212'), '16505551212');
  assert.equal(sha256(metaEmail('John_Smith@gmail.com')), sha256('john_smith@gmail.com'));
});

test('a sold lead with gclid, email and phone becomes exactly one Google event with hashed user data', async () => {
  const google = await startGoogle();
  const server = await setup(google);
  try {
    const id = await lead(server, { phone: '0532 123 45 67', email: 'Ayse.Yilmaz+ads@Gmail.com', consent: { ads: true }, attribution: { gclid: 'Cj0KCQ-sale' } });
    const at = new Date(Date.now() - 30_000).toISOString();
    assert.equal((await sell(server, id, 1250.5, at)).status, 201);
    const done = await googleDelivery(server, id, 'done');
    assert.match(done.attemptLog.at(-1).response, /^accepted/);
    assert.equal(google.requests.length, 1);
    const body = google.requests[0]!.body;
    assert.deepEqual(body.destinations, [{ operatingAccount: { accountType: 'GOOGLE_ADS', accountId: '1234567890' }, loginAccount: { accountType: 'GOOGLE_ADS', accountId: '9998887777' }, productDestinationId: '55555' }]);
    const [event] = body.events;
    assert.equal(event.transactionId, id);
    assert.equal(Date.parse(event.eventTimestamp), Date.parse(at));
    assert.deepEqual([event.conversionValue, event.currency], [1250.5, 'TRY']);
    assert.equal(event.adIdentifiers.gclid, 'Cj0KCQ-sale');
    assert.deepEqual(event.adIdentifiers.landingPageDeviceInfo, { userAgent: event.adIdentifiers.landingPageDeviceInfo.userAgent, ipAddress: '81.214.10.20' });
    assert.deepEqual(event.userData.userIdentifiers, [{ emailAddress: sha256('ayseyilmaz@gmail.com') }, { phoneNumber: sha256('+905321234567') }]);
    assert.equal(event.consent.adUserData, 'CONSENT_GRANTED');
    assert.equal(event.consent.adPersonalization, undefined, 'personalization was never asked: unspecified, not assumed');
    assert.ok(!JSON.stringify(body).includes('5321234567') && !/yilmaz/i.test(JSON.stringify(body)), 'no plain email or phone');

    // A corrected value restates the same transaction.
    assert.equal((await sell(server, id, 1400, at)).status, 201);
    await eventually(async () => (google.requests.length === 2 ? true : undefined), 10_000, 'the restatement');
    assert.deepEqual([google.events()[1]!.transactionId, google.events()[1]!.conversionValue], [id, 1400]);
    const status = await adminGet<Json>(server, '/api/admin/status');
    assert.deepEqual(status.google, { configured: true, problems: [] });
  } finally {
    await server.stop();
    removeDir(server.dataDir);
    await google.close();
  }
});

test('503 twice: retried with backoff, then accepted once; an expired access token is refreshed', async () => {
  const google = await startGoogle({ tokenLifetimeSeconds: 1 });
  const server = await setup(google);
  try {
    google.script(UNAVAILABLE, UNAVAILABLE);
    const id = await lead(server, { phone: '+905320000011', consent: { ads: true }, attribution: { gbraid: 'GB-sale' } });
    assert.equal((await sell(server, id, 300)).status, 201);
    const done = await googleDelivery(server, id, 'done').catch(async (err) => {
      throw new Error(`${err.message}: ${JSON.stringify((await adminGet<Json>(server, `/api/admin/leads/${id}`)).deliveries)} rejected: ${JSON.stringify(google.rejected)}`);
    });
    assert.deepEqual(done.attemptLog.map((a: Json) => a.outcome), ['transient', 'transient', 'ok']);
    assert.equal(google.requests.length, 3, 'the client itself did not retry behind the outbox');
    assert.equal(google.events()[2]!.adIdentifiers.gbraid, 'GB-sale');
    assert.ok(google.tokenRequests.length >= 2, `the 1 s token was refreshed (${google.tokenRequests.length} token requests)`);
  } finally {
    await server.stop();
    removeDir(server.dataDir);
    await google.close();
  }
});

test('without ads consent no user data is sent; with neither click id nor user data nothing is sent, and the lead says why', async () => {
  const google = await startGoogle();
  const server = await setup(google);
  try {
    const withClick = await lead(server, { phone: '+905320000022', email: 'a@example.com', consent: { ads: false }, attribution: { wbraid: 'WB-1' } });
    assert.equal((await sell(server, withClick, 100)).status, 201);
    await googleDelivery(server, withClick, 'done');
    const [event] = google.events();
    assert.equal(event!.userData, undefined);
    assert.equal(event!.adIdentifiers.landingPageDeviceInfo, undefined, 'no IP or user agent without consent');
    assert.equal(event!.adIdentifiers.wbraid, 'WB-1', 'the click id alone, with consent denied');
    assert.deepEqual(event!.consent, { adUserData: 'CONSENT_DENIED', adPersonalization: 'CONSENT_DENIED' });

    const nothing = await lead(server, { phone: '+905320000033', consent: { ads: false } });
    assert.equal((await sell(server, nothing, 100)).status, 201);
    const skipped = await googleDelivery(server, nothing, 'skipped');
    assert.match(skipped.last_error, /not sent: no click id, and no ads consent/);
    assert.equal(skipped.status, 'skipped', 'not sent on purpose: its own status, not a failure');
    assert.ok(!server.output.some((l) => l.includes('"level":50') && l.includes('delivery is dead')), 'and not logged as an error');
    assert.equal(google.requests.length, 1, 'nothing went to Google');
  } finally {
    await server.stop();
    removeDir(server.dataDir);
    await google.close();
  }
});

test('a batch: one event Google refuses goes dead alone, one we can tell is bad is never sent, the rest arrive once; processing outcomes are shown', async () => {
  const google = await startGoogle();
  const server = await setup(google, undefined, { OUTBOX_STATUS_CHECK_MS: '200' });
  const deliveryOf = async (id: string) => (await adminGet<Json>(server, `/api/admin/leads/${id}`)).deliveries.find((d: Json) => d.destination === 'google');
  try {
    // The first sale's request is held, so the next ones queue up and leave as one batch.
    google.script('hold');
    const first = await lead(server, { phone: '+905320000101', consent: { ads: true }, attribution: { gclid: 'Gclid-first' } });
    assert.equal((await sell(server, first, 10)).status, 201);
    await eventually(async () => (google.requests.length === 1 ? true : undefined), 10_000, 'the held request');
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      ids.push(await lead(server, { phone: `+90532000020${i}`, consent: { ads: true }, attribution: { gclid: `Gclid-batch-${i}` } }));
      assert.equal((await sell(server, ids[i]!, 100 + i)).status, 201);
    }
    const mangled = await lead(server, { phone: '+905320000299', consent: { ads: true }, attribution: { gclid: 'Gclid copied with spaces' } });
    assert.equal((await sell(server, mangled, 50)).status, 201);
    const bad = ids[2]!;
    google.refuseEvents((e) => (e.transactionId === bad ? 'conversion_value exceeds the maximum for this conversion action' : undefined));
    // The request holding ids[3] and ids[4] is processed in part by Google.
    google.processWith((events) =>
      events.some((e) => e.transactionId === ids[4])
        ? { requestStatus: 'PARTIAL_SUCCESS', errorInfo: { errorCounts: [{ recordCount: '1', reason: 'PROCESSING_ERROR_REASON_INVALID_GCLID' }] } }
        : { requestStatus: 'SUCCESS' },
    );
    google.release();

    const dead = await eventually(async () => ((await deliveryOf(bad))?.state === 'dead' ? deliveryOf(bad) : undefined), 20_000, 'the refused event to be dead');
    assert.equal(dead.status, 'rejected');
    assert.match(dead.reason, /Google rejected this sale: .*conversion_value exceeds the maximum/);
    const notSent = await eventually(async () => ((await deliveryOf(mangled))?.state === 'dead' ? deliveryOf(mangled) : undefined), 10_000, 'the mangled gclid to be dead');
    assert.match(notSent.reason, /^not sent: the gclid is malformed/);
    assert.equal(notSent.attemptLog.length, 1);

    const good = ids.filter((id) => id !== bad);
    for (const id of good) await googleDelivery(server, id, 'done');
    // One batch of 5 refused, then halves until the bad event was alone: [0,1,2] refused, [3,4] sent, [0,1] sent, [2] refused.
    assert.deepEqual(google.refused.map((r) => r.events), [5, 3, 1]);
    assert.ok(google.refused.every((r) => r.transactionId === bad));
    const sent = google.events().map((e) => e.transactionId);
    for (const id of [first, ...good]) assert.equal(sent.filter((t) => t === id).length, 1, `${id} sent once`);
    assert.ok(!sent.includes(bad) && !sent.includes(mangled));
    assert.equal(google.requests.filter((r) => r.body.events.length > 1).length, 2, 'the good events went in batches');

    // Google's processing outcome, asked with the request id, shows on each delivery.
    const settled = await eventually(async () => {
      const all = await Promise.all([first, ...good].map(deliveryOf));
      return all.every((d) => d.status === 'accepted' || d.status === 'partial') ? all : undefined;
    }, 20_000, 'processing outcomes');
    const byId = new Map([first, ...good].map((id, i) => [id, settled[i]]));
    assert.equal(byId.get(ids[0]!).status, 'accepted');
    assert.equal(byId.get(ids[0]!).reason, 'processed by Google');
    assert.equal(byId.get(ids[4]!).status, 'partial');
    assert.match(byId.get(ids[4]!).reason, /1 × Google does not know this click id/);
    assert.ok(google.statusQueries.length >= 6, 'each request was asked about until it had an outcome');
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    assert.match(metrics, /lc_outbox_processed_total\{destination="google",status="partial"\} 2/);
    assert.match(metrics, /lc_outbox_deliveries_total\{destination="google",outcome="permanent"\} 2/);
  } finally {
    await server.stop();
    removeDir(server.dataDir);
    await google.close();
  }
});

test('refused credentials park every Google delivery with one clear status, without using attempts; fixed credentials resume them', async () => {
  const google = await startGoogle();
  const server = await setup(google, undefined, { OUTBOX_PARKED_PROBE_MS: '1000' });
  try {
    google.setRefreshTokenValid(false);
    const a = await lead(server, { phone: '+905320000301', consent: { ads: true }, attribution: { gclid: 'Gclid-parked-a' } });
    assert.equal((await sell(server, a, 10)).status, 201);
    const parked = await eventually(async () => {
      const status = await adminGet<Json>(server, '/api/admin/status');
      return status.outbox.destinations.find((d: Json) => d.destination === 'google' && d.parked);
    }, 10_000, 'Google to be parked');
    assert.match(parked.parked.reason, /Google refused our OAuth credentials \(invalid_grant\): check GOOGLE_CLIENT_ID, GOOGLE_CLIENT_SECRET and GOOGLE_REFRESH_TOKEN/);
    const b = await lead(server, { phone: '+905320000302', consent: { ads: true }, attribution: { gclid: 'Gclid-parked-b' } });
    assert.equal((await sell(server, b, 20)).status, 201);
    for (const id of [a, b]) {
      const { deliveries } = await adminGet<Json>(server, `/api/admin/leads/${id}`);
      const d = deliveries.find((x: Json) => x.destination === 'google');
      assert.deepEqual([d.state, d.status, d.attempts], ['pending', 'parked', 0], `${id} waits without using attempts`);
      assert.match(d.reason, /invalid_grant/);
    }
    // Probes keep failing (one job each time), then the owner fixes the credentials.
    await new Promise((r) => setTimeout(r, 2500));
    assert.equal(google.requests.length, 0);
    const { deliveries } = await adminGet<Json>(server, `/api/admin/leads/${a}`);
    assert.ok(deliveries[0].attemptLog.length >= 2 && deliveries[0].attemptLog.every((x: Json) => x.outcome === 'parked'), 'probed');
    assert.equal((await adminGet<Json>(server, `/api/admin/leads/${b}`)).deliveries[0].attemptLog.length, 0, 'only one job probes');
    google.setRefreshTokenValid(true);
    for (const id of [a, b]) await googleDelivery(server, id, 'done');
    const status = await adminGet<Json>(server, '/api/admin/status');
    assert.equal(status.outbox.destinations.find((d: Json) => d.destination === 'google').parked, undefined);
    assert.deepEqual(google.events().map((e) => e.transactionId).sort(), [a, b].sort());
  } finally {
    await server.stop();
    removeDir(server.dataDir);
    await google.close();
  }
});

test('a Google request that hangs does not hold back the owner\'s notification of a new lead', async () => {
  const google = await startGoogle();
  const telegram = await startTelegram('123:TEST');
  const server = await setup(google, undefined, { TELEGRAM_API_URL: telegram.url, TELEGRAM_BOT_TOKEN: '123:TEST', TELEGRAM_CHAT_ID: '42' });
  try {
    google.script('hold');
    const sold = await lead(server, { phone: '+905320000501', consent: { ads: true }, attribution: { gclid: 'Gclid-hang' } });
    assert.equal((await sell(server, sold, 10)).status, 201);
    await eventually(async () => (google.requests.length === 1 ? true : undefined), 10_000, 'the hanging Google request');
    const before = telegram.calls.length;
    const asked = Date.now();
    await lead(server, { phone: '+905320000502' });
    const call = await eventually(async () => telegram.calls[before], 5000, 'the new lead\'s notification');
    assert.ok(call.at - asked < 1000, `notified after ${call.at - asked} ms while Google hangs`);
    assert.equal(google.requests.length, 1, 'Google is still hanging');
  } finally {
    await server.stop();
    removeDir(server.dataDir);
    await google.close();
    await telegram.close();
  }
});

test('a crash after sending but before marking done re-sends the same transactionId', async () => {
  const google = await startGoogle();
  const first = await setup(google);
  const dataDir = first.dataDir;
  try {
    google.script('hold');
    const id = await lead(first, { phone: '+905320000044', consent: { ads: true }, attribution: { gclid: 'G-CRASH' } });
    assert.equal((await sell(first, id, 999)).status, 201);
    await eventually(async () => (google.requests.length === 1 ? true : undefined), 10_000, 'the held upload');
    first.stop('SIGKILL');
    await first.exited;
    const second = await setup(google, dataDir);
    try {
      await googleDelivery(second, id, 'done');
      assert.deepEqual(google.events().map((e) => e.transactionId), [id, id], 'the same transaction twice: Google keeps one');
    } finally {
      await second.stop();
    }
  } finally {
    removeDir(dataDir);
    await google.close();
  }
});

test('Meta: a new lead sends Lead with the form\'s eventId and a sale sends Purchase, hashed, with consent only', async () => {
  const metaApi = await startMeta();
  const server = await startServer({
    TRUST_PROXY: '1',
    DEFAULT_COUNTRY: 'TR',
    CURRENCY: 'TRY',
    ...metaEnv(metaApi),
  });
  try {
    const eventId = randomUUID();
    const id = await lead(server, {
      eventId,
      phone: '0532 765 43 21',
      email: ' Elif@Example.com ',
      consent: { ads: true },
      visitorId: 'v-meta',
      pageUrl: 'https://usta.example.com/iletisim',
      attribution: { fbc: 'fb.1.1700000000000.FBCLID', fbp: 'fb.1.1700000000000.42' },
    });
    const leadEvent = await eventually(async () => metaApi.events.find((e) => e.event_name === 'Lead'), 10_000, 'the Lead event');
    assert.equal(leadEvent.event_id, eventId, 'the same id a browser pixel would send');
    assert.equal(leadEvent.action_source, 'website');
    assert.equal(leadEvent.event_source_url, 'https://usta.example.com/iletisim');
    assert.deepEqual(leadEvent.user_data, {
      em: [sha256('elif@example.com')],
      ph: [sha256('905327654321')],
      external_id: [sha256('v-meta')],
      fbc: 'fb.1.1700000000000.FBCLID',
      fbp: 'fb.1.1700000000000.42',
      client_ip_address: '81.214.10.20',
      client_user_agent: leadEvent.user_data.client_user_agent,
    });
    assert.equal((await sell(server, id, 2000)).status, 201);
    const purchase = await eventually(async () => metaApi.events.find((e) => e.event_name === 'Purchase'), 10_000, 'the Purchase event');
    assert.deepEqual([purchase.event_id, purchase.action_source, purchase.custom_data], [`${id}:purchase`, 'system_generated', { value: 2000, currency: 'TRY' }]);

    const noConsent = await lead(server, { phone: '+905320000055', consent: { ads: false } });
    const skipped = await eventually(async () => {
      const { deliveries } = await adminGet<Json>(server, `/api/admin/leads/${noConsent}`);
      return deliveries.find((d: Json) => d.destination === 'meta' && d.state === 'skipped');
    }, 10_000, 'the skipped Lead');
    assert.match(skipped.last_error, /no ads consent/);
    assert.equal(metaApi.events.length, 2, 'nothing about the person without consent reached Meta');
    assert.deepEqual(metaApi.rejected, []);
  } finally {
    await server.stop();
    removeDir(server.dataDir);
    await metaApi.close();
  }
});

test('Meta: a refused access token parks Meta deliveries with one clear status', async () => {
  const metaApi = await startMeta();
  const server = await startServer({ META_PIXEL_ID: META.pixelId, META_ACCESS_TOKEN: 'EAAB-revoked', META_API_VERSION: META.version, META_GRAPH_URL: metaApi.url });
  try {
    const id = await lead(server, { phone: '+905320000066', consent: { ads: true }, pageUrl: 'https://usta.example.com/' });
    const parked = await eventually(async () => (await adminGet<Json>(server, '/api/admin/status')).outbox.destinations.find((d: Json) => d.destination === 'meta' && d.parked), 10_000, 'Meta to be parked');
    assert.match(parked.parked.reason, /Meta refused our access token \(check META_ACCESS_TOKEN and META_PIXEL_ID\): .*code 190/);
    assert.equal(parked.waiting, 1);
    const { deliveries } = await adminGet<Json>(server, `/api/admin/leads/${id}`);
    assert.deepEqual([deliveries[0].state, deliveries[0].status, deliveries[0].attempts], ['pending', 'parked', 0]);
    assert.equal(metaApi.events.length, 0);
  } finally {
    await server.stop();
    removeDir(server.dataDir);
    await metaApi.close();
  }
});

test('POST /api/admin/sales finds the lead by phone, email or WhatsApp code for CRMs and automations', async () => {
  const server = await startServer({ DEFAULT_COUNTRY: 'TR', CURRENCY: 'TRY' });
  const post = (body: unknown) =>
    fetch(`${server.url}/api/admin/sales`, { method: 'POST', headers: { Authorization: 'Bearer test-admin-token-0123456789', 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  try {
    const byPhone = await lead(server, { phone: '+905321110001' });
    const byEmail = await lead(server, { email: 'Crm@Example.com' });
    const sold = await post({ phone: '0532 111 00 01', value: 700 });
    assert.equal(sold.status, 201);
    assert.equal(((await sold.json()) as Json).lead.id, byPhone);
    assert.equal((await post({ email: 'crm@example.com', value: 80, currency: 'EUR' })).status, 201);
    const { lead: l } = await adminGet<Json>(server, `/api/admin/leads/${byEmail}`);
    assert.deepEqual([l.status, l.sale_value, l.sale_currency], ['SOLD', 80, 'EUR']);
    assert.equal((await adminGet<Json>(server, `/api/admin/leads/${byEmail}`)).history.at(-1).actor, 'api');
    assert.equal((await post({ phone: '+905329999999', value: 1 })).status, 404);
    assert.equal((await post({ value: 1 })).status, 422);
    assert.equal((await post({ leadId: byPhone, value: -1 })).status, 422);
    assert.equal((await fetch(`${server.url}/api/admin/sales`, { method: 'POST', body: '{}' })).status, 401);
  } finally {
    await server.stop();
    removeDir(server.dataDir);
  }
});

test('a Stripe payment, signed and fresh, becomes the sale of its lead once', async () => {
  const secret = 'whsec_test_secret';
  const server = await startServer({ DEFAULT_COUNTRY: 'TR', STRIPE_WEBHOOK_SECRET: secret });
  const post = (body: string, signature: string) => fetch(`${server.url}/hooks/stripe`, { method: 'POST', headers: { 'Content-Type': 'application/json', 'Stripe-Signature': signature }, body });
  const sign = (body: string, t = Math.floor(Date.now() / 1000)) => `t=${t},v1=${createHmac('sha256', secret).update(`${t}.${body}`).digest('hex')},v0=ignored`;
  try {
    const byReference = await lead(server, { phone: '+905321230001' });
    const byEmail = await lead(server, { email: 'payer@example.com' });
    const checkout = JSON.stringify({ id: 'evt_1', type: 'checkout.session.completed', created: Math.floor(Date.now() / 1000) - 60, data: { object: { id: 'cs_1', payment_status: 'paid', payment_intent: 'pi_1', amount_total: 125050, currency: 'try', client_reference_id: byReference } } });
    const first = await post(checkout, sign(checkout));
    assert.equal(first.status, 200);
    assert.deepEqual(await first.json(), { matched: true, leadId: byReference, matchedBy: 'lead', duplicate: false });
    assert.deepEqual(await (await post(checkout, sign(checkout))).json(), { matched: true, leadId: byReference, duplicate: true }, 'Stripe resending the event changes nothing');
    const l = (await adminGet<Json>(server, `/api/admin/leads/${byReference}`)).lead;
    assert.deepEqual([l.status, l.sale_value, l.sale_currency], ['SOLD', 1250.5, 'TRY']);

    const intent = JSON.stringify({ id: 'evt_2', type: 'payment_intent.succeeded', created: Math.floor(Date.now() / 1000), data: { object: { id: 'pi_2', amount_received: 5000, currency: 'jpy', receipt_email: 'Payer@Example.com' } } });
    assert.equal((await post(intent, sign(intent))).status, 200);
    const e = (await adminGet<Json>(server, `/api/admin/leads/${byEmail}`)).lead;
    assert.deepEqual([e.status, e.sale_value, e.sale_currency], ['SOLD', 5000, 'JPY'], 'JPY has no minor unit');

    assert.equal((await post(checkout, sign(checkout).replace(/v1=[0-9a-f]{64}/, `v1=${'0'.repeat(64)}`))).status, 400, 'a wrong signature');
    assert.equal((await post(checkout, sign(checkout, Math.floor(Date.now() / 1000) - 600))).status, 400, 'older than 300 s');
    const other = JSON.stringify({ id: 'evt_3', type: 'customer.created', data: { object: {} } });
    assert.deepEqual(await (await post(other, sign(other))).json(), { ignored: 'customer.created' });
  } finally {
    await server.stop();
    removeDir(server.dataDir);
  }
});

test('a sale is sent once: recorded again it changes nothing; a correction after Meta took the Purchase is not sent twice; a sale dated before its lead is not sent, with the reason; Meta\'s rate limit pauses Meta, then it goes on', async () => {
  const metaApi = await startMeta();
  const server = await startServer({
    OUTBOX_PARKED_PROBE_MS: '1000',
    DEFAULT_COUNTRY: 'TR',
    CURRENCY: 'TRY',
    ...metaEnv(metaApi),
  });
  try {
    metaApi.throttleNext(2); // the Lead meets Meta's rate limit twice, then goes through
    const id = await lead(server, { phone: '+905320000071', consent: { ads: true }, pageUrl: 'https://usta.example.com/', attribution: { fbc: 'fb.1.1700000000000.X' } });
    const paused = await eventually(async () => (await adminGet<Json>(server, '/api/admin/status')).outbox.destinations.find((d: Json) => d.destination === 'meta' && d.parked), 10_000, 'Meta paused');
    assert.match(paused.parked.reason, /rate limit/);
    await eventually(async () => metaApi.events.find((e) => e.event_name === 'Lead'), 20_000, 'the Lead after the pause');
    const leadJob = (await adminGet<Json>(server, `/api/admin/leads/${id}`)).deliveries.find((d: Json) => d.destination === 'meta');
    assert.equal(leadJob.attempts, 1, 'waiting out a rate limit used no attempts');
    assert.equal((await sell(server, id, 1500)).status, 201);
    const again = await sell(server, id, 1500); // a retried CRM call, no date
    assert.equal(again.status, 200, 'the same sale again is no change');
    const history = (await adminGet<Json>(server, `/api/admin/leads/${id}`)).history.filter((h: Json) => h.field === 'sale');
    assert.equal(history.length, 1);
    const purchase = await eventually(async () => metaApi.events.find((e) => e.event_name === 'Purchase'), 10_000, 'the Purchase');
    assert.equal(purchase.custom_data.value, 1500);
    assert.equal((await sell(server, id, 1800)).status, 201, 'a correction is recorded');
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(metaApi.events.filter((e) => e.event_name === 'Purchase').length, 1, 'Meta would count a second Purchase as another sale');
    const said = (await adminGet<Json>(server, `/api/admin/leads/${id}`)).history.find((h: Json) => h.field === 'meta');
    assert.match(said.new_value, /Meta keeps the first value it received; 1800 TRY goes to Google only/, 'the lead says so');
    const { deliveries } = await adminGet<Json>(server, `/api/admin/leads/${id}`);
    assert.equal(deliveries.filter((d: Json) => d.destination === 'meta').length, 2, 'one Lead and one Purchase job');
    // A sale dated before its lead: recorded, but no click of the lead can have earned it.
    const fresh = await lead(server, { phone: '+905320000072', consent: { ads: true }, pageUrl: 'https://usta.example.com/' });
    assert.equal((await sell(server, fresh, 500, new Date(Date.now() - 86_400_000).toISOString())).status, 201);
    const skipped = await eventually(async () => (await adminGet<Json>(server, `/api/admin/leads/${fresh}`)).deliveries.find((d: Json) => d.destination === 'meta' && d.state === 'skipped'), 10_000, 'the Purchase skipped');
    assert.match(skipped.last_error, /dated before the lead came in/);
    assert.deepEqual(metaApi.rejected, []);
  } finally {
    await server.stop();
    removeDir(server.dataDir);
    await metaApi.close();
  }
});

test('Stripe: one payment is one sale whatever events report it; a delayed method counts once paid; refunds restate the value to Google, Meta keeps its one Purchase', async () => {
  const secret = 'whsec_test_secret';
  const google = await startGoogle();
  const metaApi = await startMeta();
  const server = await setup(google, undefined, { STRIPE_WEBHOOK_SECRET: secret, ...metaEnv(metaApi) });
  const sign = (body: string, t = Math.floor(Date.now() / 1000)) => `t=${t},v1=${createHmac('sha256', secret).update(`${t}.${body}`).digest('hex')}`;
  let n = 0;
  const stripe = async (type: string, object: Json) => {
    const body = JSON.stringify({ id: `evt_${++n}`, type, created: Math.floor(Date.now() / 1000), data: { object } });
    const res = await fetch(`${server.url}/hooks/stripe`, { method: 'POST', headers: { 'Content-Type': 'application/json', 'Stripe-Signature': sign(body) }, body });
    assert.equal(res.status, 200, await res.clone().text());
    return (await res.json()) as Json;
  };
  const saleOf = async (id: string) => (await adminGet<Json>(server, `/api/admin/leads/${id}`)).lead;
  try {
    const card = await lead(server, { phone: '+905321230011', consent: { ads: true }, attribution: { gclid: 'Cj0KCQ-card' }, pageUrl: 'https://usta.example.com/' });
    // Checkout reports the payment twice: the session and its PaymentIntent.
    assert.equal((await stripe('checkout.session.completed', { id: 'cs_a', payment_status: 'paid', payment_intent: 'pi_a', amount_total: 200000, currency: 'try', client_reference_id: card })).duplicate, false);
    assert.equal((await stripe('payment_intent.succeeded', { id: 'pi_a', amount_received: 200000, currency: 'try', metadata: { lead_id: card } })).duplicate, true, 'the same payment');
    assert.equal((await saleOf(card)).sale_value, 2000);
    await eventually(async () => (google.events().some((e) => e.transactionId === card) ? true : undefined), 10_000, 'the sale to Google');
    await eventually(async () => metaApi.events.find((e) => e.event_name === 'Purchase'), 10_000, 'the Purchase to Meta');

    // A partial refund restates the sale; Google gets the new value under the same transactionId.
    await stripe('charge.refunded', { id: 'ch_a', payment_intent: 'pi_a', amount: 200000, amount_refunded: 50000, currency: 'try' });
    assert.equal((await saleOf(card)).sale_value, 1500);
    await eventually(async () => (google.events().some((e) => e.transactionId === card && e.conversionValue === 1500) ? true : undefined), 10_000, 'the restated value');
    // A full refund restates it to 0 (the Data Manager API restates values; it has no retraction).
    await stripe('charge.refunded', { id: 'ch_a', payment_intent: 'pi_a', amount: 200000, amount_refunded: 200000, currency: 'try' });
    assert.equal((await saleOf(card)).sale_value, 0);
    await eventually(async () => (google.events().some((e) => e.transactionId === card && e.conversionValue === 0) ? true : undefined), 10_000, 'the value restated to 0');
    assert.equal(new Set(google.events().filter((e) => e.transactionId === card).map((e) => e.transactionId)).size, 1, 'always the one transaction');
    assert.equal(metaApi.events.filter((e) => e.event_name === 'Purchase').length, 1, 'Meta takes no corrections: its one Purchase stands');

    // A bank debit: the session completes unpaid, the money arrives days later.
    const debit = await lead(server, { phone: '+905321230012' });
    assert.match((await stripe('checkout.session.completed', { id: 'cs_b', payment_status: 'unpaid', payment_intent: 'pi_b', amount_total: 90000, currency: 'try', client_reference_id: debit })).ignored, /not paid yet/);
    assert.equal((await saleOf(debit)).status, 'NEW', 'not a sale before the money arrives');
    await stripe('checkout.session.async_payment_succeeded', { id: 'cs_b', payment_status: 'paid', payment_intent: 'pi_b', amount_total: 90000, currency: 'try', client_reference_id: debit });
    assert.deepEqual([(await saleOf(debit)).status, (await saleOf(debit)).sale_value], ['SOLD', 900]);
    assert.deepEqual(google.refused, []);
    assert.deepEqual(metaApi.rejected, []);
  } finally {
    await server.stop();
    removeDir(server.dataDir);
    await google.close();
    await metaApi.close();
  }
});

test('LOST after SOLD restates the Google conversion to 0 under the same transactionId; a sale long after its lead\'s click is not sent, with the reason', async () => {
  const google = await startGoogle();
  const server = await setup(google, undefined, { GOOGLE_CLICK_WINDOW_DAYS: '30' });
  try {
    const id = await lead(server, { phone: '+905320000081', consent: { ads: true }, attribution: { gclid: 'Cj0-lost' } });
    assert.equal((await sell(server, id, 4000)).status, 201);
    await eventually(async () => (google.events().some((e) => e.transactionId === id && e.conversionValue === 4000) ? true : undefined), 10_000, 'the sale');
    const lost = await fetch(`${server.url}/api/admin/leads/${id}`, { method: 'PATCH', headers: { Authorization: 'Bearer test-admin-token-0123456789', 'Content-Type': 'application/json' }, body: JSON.stringify({ status: 'LOST' }) });
    assert.equal(lost.status, 200);
    await eventually(async () => (google.events().some((e) => e.transactionId === id && e.conversionValue === 0) ? true : undefined), 10_000, 'the value restated to 0');
    assert.deepEqual(google.events().filter((e) => e.transactionId === id).map((e) => e.conversionValue), [4000, 0]);

    // A lead that came in 40 days ago (its click is at least that old), sold today.
    const old = await lead(server, { phone: '+905320000082', consent: { ads: true }, attribution: { gclid: 'Cj0-old' } });
    const Database = (await import('better-sqlite3')).default;
    const db = new Database(join(server.dataDir, 'leads.db'));
    db.prepare('UPDATE leads SET created_at = ? WHERE id = ?').run(Date.now() - 40 * 86_400_000, old);
    db.close();
    assert.equal((await sell(server, old, 900)).status, 201);
    const skipped = await googleDelivery(server, old, 'skipped');
    assert.match(skipped.last_error, /more than 30 days after the lead's click \(GOOGLE_CLICK_WINDOW_DAYS\)/);
    assert.ok(!google.events().some((e) => e.transactionId === old));
    assert.deepEqual(google.rejected, []);
  } finally {
    await server.stop();
    removeDir(server.dataDir);
    await google.close();
  }
});

test('a test lead (Google\'s lead-form test) is checked by Google with validateOnly and never recorded as a conversion', async () => {
  const google = await startGoogle();
  const server = await setup(google, undefined, { GOOGLE_LEAD_FORM_KEY: 'google-lead-form-key-123' });
  try {
    const hook = await fetch(`${server.url}/hooks/google-lead-form`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ lead_id: 'TeSt-1', google_key: 'google-lead-form-key-123', is_test: true, gcl_id: 'Cj0-test', user_column_data: [{ column_id: 'PHONE_NUMBER', string_value: '+905320000091' }] }),
    });
    const { id } = (await hook.json()) as { id: string };
    assert.equal((await sell(server, id, 100)).status, 201);
    const done = await eventually(async () => (await adminGet<Json>(server, `/api/admin/leads/${id}`)).deliveries.find((d: Json) => d.destination === 'google-test' && d.state === 'done'), 10_000, 'the validated delivery');
    assert.match(done.attemptLog.at(-1).response, /validated by Google: a test lead, no conversion recorded/);
    assert.equal(google.validated.length, 1);
    assert.equal(google.validated[0]!.transactionId, id);
    assert.ok(!google.events().some((e) => e.transactionId === id), 'nothing reached the live conversion action');
    assert.deepEqual(google.rejected, []);
  } finally {
    await server.stop();
    removeDir(server.dataDir);
    await google.close();
  }
});
