// Every "not sent" sentence a destination stores is found again by name (with its days), so the
// owner's app can say it in his language; a platform's own error is not mistaken for one.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NOT_SENT, notSent, notSentReason } from '../../src/destinations/not-sent.ts';

test('each reason is found again from the stored answer, and the app has words for it', async () => {
  const { texts } = (await import('../../admin-pwa/texts-en.js' as string)) as { texts: { notSent: Record<string, unknown> } };
  assert.deepEqual(Object.keys(texts.notSent).sort(), [...NOT_SENT].sort(), 'the app has words for every reason');
  for (const code of NOT_SENT) {
    const days = code === 'pastClickWindow' ? 63 : undefined;
    assert.deepEqual(notSentReason(`not sent: ${notSent(code, days)}`), days === undefined ? { code } : { code, days }, code);
  }
  assert.match(notSent('pastClickWindow', 90), /more than 90 days/);
  assert.equal(notSentReason('Meta rejected this event: Invalid parameter (code 100)'), undefined);
  assert.equal(notSentReason('not sent: the event time is in the future'), undefined);
  assert.equal(notSentReason(null), undefined);
});
