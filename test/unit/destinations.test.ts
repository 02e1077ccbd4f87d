// The parts of the ad-platform destinations that decide what is sent and what an answer means:
// batching with isolation of a bad event, checks before batching, error classes, processing outcomes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { postInBatches, type DeliveryResult } from '../../src/outbox/destination.ts';
import { classify, googleProblem, processingOutcome } from '../../src/destinations/google.ts';
import { metaProblem, type MetaEvent } from '../../src/destinations/meta.ts';

test('postInBatches: requests of at most the batch size; a refused request is split until the bad event is alone', async () => {
  const requests: number[][] = [];
  const events = Array.from({ length: 2500 }, (_, i) => i);
  const results = await postInBatches(events, 1000, async (part): Promise<DeliveryResult> => {
    requests.push(part);
    return part.includes(1234) ? { outcome: 'permanent', response: 'bad 1234' } : { outcome: 'ok' };
  });
  assert.deepEqual(results.map((r, i) => (r.outcome === 'ok' ? null : i)).filter((i) => i !== null), [1234]);
  assert.deepEqual(requests.slice(0, 1).map((r) => r.length), [1000]);
  const delivered = requests.filter((r) => !r.includes(1234)).flat().sort((a, b) => a - b);
  assert.deepEqual(delivered, events.filter((e) => e !== 1234), 'every other event delivered exactly once');
  assert.ok(requests.length <= 3 + 2 * Math.ceil(Math.log2(1000)), `${requests.length} requests`);
});

test('postInBatches: a transient failure keeps the batch together; refused credentials stop sending the rest', async () => {
  let calls = 0;
  const transient = await postInBatches([1, 2, 3], 2, async () => (calls++, { outcome: 'transient' as const }));
  assert.deepEqual([transient.map((r) => r.outcome), calls], [['transient', 'transient', 'transient'], 2]);
  calls = 0;
  const parked = await postInBatches([1, 2, 3, 4, 5], 2, async () => (calls++, { outcome: 'parked' as const, response: 'token refused' }));
  assert.deepEqual([parked.map((r) => r.outcome), calls], [['parked', 'parked', 'parked', 'parked', 'parked'], 1]);
});

test('Google errors: quota and 5xx retry, credentials and settings park, an event-specific refusal is permanent', () => {
  assert.equal(classify({ code: 429, message: 'quota' }).outcome, 'transient');
  assert.equal(classify({ code: 503, message: 'unavailable' }).outcome, 'transient');
  assert.equal(classify({ code: 14, message: 'UNAVAILABLE' }).outcome, 'transient');
  assert.equal(classify(new Error('socket hang up')).outcome, 'transient');
  assert.equal(classify({ code: 401, message: 'UNAUTHENTICATED' }).outcome, 'parked');
  assert.equal(classify({ code: 403, message: 'The caller does not have permission' }).outcome, 'parked');
  assert.equal(classify({ message: 'invalid_grant', response: { data: { error: 'invalid_grant' } } }).outcome, 'parked');
  assert.equal(classify({ code: 400, message: 'destinations[0].product_destination_id: conversion action not found' }).outcome, 'parked');
  const refused = classify({ code: 400, message: 'events[3].conversion_value: too large' });
  assert.equal(refused.outcome, 'permanent');
  assert.match(refused.response!, /^Google rejected this sale: events\[3\]/);
});

test('Google events are checked before they join a batch', () => {
  const now = Date.parse('2026-11-22T12:00:00Z');
  const event = { transactionId: 't1', conversionValue: 10, currency: 'EUR', eventTimestamp: { seconds: now / 1000 - 60 }, adIdentifiers: { gclid: 'Cj0KCQiA_abc-123', landingPageDeviceInfo: { ipAddress: '81.214.10.20' } } };
  assert.equal(googleProblem(event, now), undefined);
  assert.match(googleProblem({ ...event, currency: 'eur' }, now)!, /ISO 4217/);
  assert.match(googleProblem({ ...event, conversionValue: Number.NaN }, now)!, /value/);
  assert.match(googleProblem({ ...event, eventTimestamp: { seconds: now / 1000 + 3600 } }, now)!, /future/);
  assert.match(googleProblem({ ...event, adIdentifiers: { gclid: 'Cj0 KCQ' } }, now)!, /gclid is malformed/);
  assert.match(googleProblem({ ...event, adIdentifiers: { gclid: 'abc', landingPageDeviceInfo: { ipAddress: '81.214.10' } } }, now)!, /IP address/);
});

test('Google processing outcomes in plain words, with enums as names or numbers', () => {
  assert.deepEqual(processingOutcome({ requestStatus: 'SUCCESS' }), { status: 'accepted', detail: 'processed by Google' });
  assert.deepEqual(processingOutcome({ requestStatus: 2 }), { status: 'processing' });
  assert.deepEqual(processingOutcome(undefined), { status: 'processing' });
  const failed = processingOutcome({ requestStatus: 3, errorInfo: { errorCounts: [{ recordCount: '1', reason: 3 }, { recordCount: 2, reason: 'PROCESSING_ERROR_REASON_DUPLICATE_GCLID' }] } });
  assert.equal(failed.status, 'rejected');
  assert.equal(failed.detail, 'Google could not process it: 1 × the sale is older than the conversion action accepts; 2 × a conversion with this click id was already imported');
  assert.equal(processingOutcome({ requestStatus: 'PARTIAL_SUCCESS' }).status, 'partial');
});

test('Meta events are checked before they join a batch', () => {
  const now = Date.parse('2026-11-22T12:00:00Z');
  const event: MetaEvent = { event_name: 'Purchase', event_time: now / 1000 - 60, event_id: 'x:purchase', action_source: 'system_generated', user_data: {}, custom_data: { value: 10, currency: 'EUR' } };
  assert.equal(metaProblem(event, now), undefined);
  assert.match(metaProblem({ ...event, event_time: now / 1000 - 8 * 86400 }, now)!, /older than the 7 days/);
  assert.match(metaProblem({ ...event, event_time: now / 1000 + 3600 }, now)!, /future/);
  assert.match(metaProblem({ ...event, action_source: 'website' }, now)!, /page URL/);
  assert.match(metaProblem({ ...event, custom_data: { value: 10, currency: 'euro' } }, now)!, /currency/);
});
