// Web push end to end: a local HTTPS push service receives the new-lead push, verifies its VAPID
// JWT, and decrypts the payload with the browser's private key; a 410 removes the subscription.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ADMIN_TOKEN, adminGet, eventually, removeDir, send, startServer, tempDir } from './support/harness.ts';
import { browserKeys, decryptPush, selfSignedCert, startPushService, verifyVapid } from './support/push-service.ts';

type Json = Record<string, any>;

test('a new lead is pushed to every subscribed device, signed with VAPID and readable only by that device', async () => {
  const dir = tempDir('push');
  const tls = selfSignedCert(dir);
  const push = await startPushService(tls);
  const env = { NODE_EXTRA_CA_CERTS: tls.cert, PUSH_ALLOW_HOSTS: '127.0.0.1', VAPID_SUBJECT: 'mailto:owner@plumber.example.com', DEFAULT_COUNTRY: 'TR' };
  const server = await startServer(env);
  const api = (path: string, method = 'GET', body?: unknown) =>
    fetch(server.url + path, { method, headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, 'Content-Type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  try {
    const { publicKey } = await adminGet<{ publicKey: string }>(server, '/api/admin/push-subscriptions/vapid-public-key');
    const phone = browserKeys();
    const oldTablet = browserKeys();
    push.answer('/push/old-tablet', 410);
    const subscribe = (path: string, keys: ReturnType<typeof browserKeys>) => api('/api/admin/push-subscriptions', 'POST', { endpoint: `${push.origin}${path}`, expirationTime: null, keys: { p256dh: keys.p256dh, auth: keys.authText } });
    const added = await subscribe('/push/phone', phone);
    assert.equal(added.status, 201);
    const phoneId = ((await added.json()) as { id: number }).id;
    assert.equal((await subscribe('/push/phone', phone)).status, 200, 'subscribing the same device again is idempotent');
    assert.equal((await subscribe('/push/old-tablet', oldTablet)).status, 201);
    assert.equal((await api('/api/admin/push-subscriptions', 'POST', { endpoint: 'http://insecure.example/x', keys: { p256dh: 'a', auth: 'b' } })).status, 422);

    const res = await send(`${server.url}/lead`, { name: 'Secret Name', phone: '+905321234567', attribution: { utm_campaign: 'boilers' } }, { 'Content-Type': 'application/json' });
    assert.equal(res.status, 201);
    const answeredAt = Date.now();
    const { id: leadId } = (await res.json()) as { id: string };

    await eventually(async () => (push.received.length === 2 ? true : undefined), 5000, 'two pushes');
    const toPhone = push.received.find((p) => p.path === '/push/phone')!;
    assert.ok(toPhone.at - answeredAt < 1000, `pushed ${toPhone.at - answeredAt} ms after the 201`);
    assert.equal(toPhone.headers['content-encoding'], 'aes128gcm');
    assert.equal(toPhone.headers['urgency'], 'high');
    assert.equal(toPhone.headers['ttl'], '86400');
    const { claims, publicKey: k } = verifyVapid(toPhone);
    assert.equal(k, publicKey, 'signed with the key the PWA subscribed with');
    assert.equal(claims.aud, push.origin);
    assert.equal(claims.sub, 'mailto:owner@plumber.example.com');
    const now = Date.now() / 1000;
    assert.ok(claims.exp > now && claims.exp <= now + 24 * 3600, `exp ${claims.exp} within 24 h`);

    const payload = JSON.parse(decryptPush(toPhone.body, phone)) as Json;
    assert.deepEqual(Object.keys(payload).sort(), ['body', 'leadId', 'title', 'url']);
    assert.equal(payload.leadId, leadId);
    assert.equal(payload.title, 'New lead (form)');
    assert.match(payload.body, /campaign boilers/);
    assert.ok(!JSON.stringify(payload).includes('Secret Name'), 'no name unless NOTIFY_INCLUDE_NAME=true');
    assert.throws(() => decryptPush(toPhone.body, oldTablet), 'another device cannot read it');

    // The push service said 410 Gone for the old tablet: its subscription is removed.
    const { subscriptions } = await eventually(async () => {
      const list = await adminGet<{ subscriptions: Json[] }>(server, '/api/admin/push-subscriptions');
      return list.subscriptions.length === 1 ? list : undefined;
    }, 5000, 'the expired subscription to be removed');
    assert.deepEqual(subscriptions.map((s) => s.id), [phoneId]);
    const { deliveries } = await adminGet<{ deliveries: Json[] }>(server, '/api/admin/deliveries');
    const gone = deliveries.find((d) => d.attemptLog.some((a: Json) => a.http_status === 410))!;
    assert.equal(gone.state, 'dead');
    assert.match(gone.last_error, /removed/);

    assert.equal((await api(`/api/admin/push-subscriptions/${phoneId}`, 'DELETE')).status, 204);
    assert.equal((await api(`/api/admin/push-subscriptions/${phoneId}`, 'DELETE')).status, 404);

    // Generated VAPID keys are kept: a restart must not break existing subscriptions.
    await server.stop();
    const again = await startServer({ ...env, DATA_DIR: server.dataDir });
    try {
      assert.equal((await adminGet<{ publicKey: string }>(again, '/api/admin/push-subscriptions/vapid-public-key')).publicKey, publicKey);
    } finally {
      await again.stop();
    }
  } finally {
    await server.stop();
    removeDir(server.dataDir);
    await push.close();
    removeDir(dir);
  }
});
