import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isBadData, type ClickHouse } from '../../src/events/clickhouse.ts';
import { Batcher } from '../../src/events/batcher.ts';
import { Journal } from '../../src/events/journal.ts';
import { createMetrics } from '../../src/metrics.ts';
import { removeDir, tempDir } from '../support/harness.ts';

const silent = pino({ level: 'silent' });

/** A ClickHouse double made of function fields: records each insert and its token, fails on demand. */
function recordingClickHouse(failFirst: number) {
  const inserts: Array<{ rows: string[]; token: string | undefined }> = [];
  let calls = 0;
  let inFlight = 0;
  let maxInFlight = 0;
  const db: ClickHouse = {
    mode: 'embedded',
    exec: async () => undefined,
    query: async () => [],
    queryText: async () => '',
    close: async () => undefined,
    async insert(_table, rows, token) {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise((r) => setTimeout(r, 20));
      inFlight--;
      if (calls++ < failFirst) throw new Error('Code: 241. DB::Exception: Memory limit exceeded');
      inserts.push({ rows: rows.toString().trimEnd().split('\n'), token });
    },
  };
  return { db, inserts, maxInFlight: () => maxInFlight };
}

async function setup(failFirst: number, flushMaxRows: number, flushIntervalMs = 60_000) {
  const dir = tempDir('journal');
  const metrics = createMetrics();
  const journal = new Journal({ dir, fsync: 'off', maxBytes: 1024 ** 3 }, silent, metrics);
  const ch = recordingClickHouse(failFirst);
  const batcher = new Batcher(ch.db, journal, { table: 'events', flushIntervalMs, flushMaxRows }, silent, metrics);
  const add = async (...ns: number[]) => {
    await journal.append(ns.map((n) => JSON.stringify({ n }) + '\n').join(''), ns.length);
    batcher.added();
  };
  return { dir, journal, batcher, ch, add, metrics };
}

test('a failed insert is retried with the same rows and dedup token; rows arriving meanwhile go in the next batch', async () => {
  const { dir, journal, batcher, ch, add } = await setup(2, 3);
  await add(0, 1, 2); // a full batch: the insert starts at once and fails twice
  await add(3);
  await add(4);
  await batcher.flush();
  assert.equal(ch.maxInFlight(), 1, 'one insert at a time');
  assert.deepEqual(ch.inserts.map((i) => i.rows), [['{"n":0}', '{"n":1}', '{"n":2}'], ['{"n":3}', '{"n":4}']]);
  assert.match(ch.inserts[0]!.token!, /^lc:1:0-\d+$/);
  assert.notEqual(ch.inserts[0]!.token, ch.inserts[1]!.token);
  const stats = batcher.snapshot();
  assert.deepEqual([stats.confirmedRows, stats.pendingRows, stats.failedInserts], [5, 0, 2]);
  assert.equal(journal.backlogBytes(), 0);
  await batcher.close(1000);
  journal.close();
  removeDir(dir);
});

test('below FLUSH_MAX_ROWS rows wait for the interval tick', async () => {
  const { dir, journal, batcher, ch, add } = await setup(0, 100, 300);
  await add(1, 2);
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(ch.inserts.length, 0, 'not yet: the tick has not come');
  await new Promise((r) => setTimeout(r, 500));
  assert.deepEqual(ch.inserts.map((i) => i.rows.length), [2]);
  await batcher.close(1000);
  journal.close();
  removeDir(dir);
});

test('close() gives up after its deadline when ClickHouse never answers, and says how many rows stay journaled', async () => {
  const { dir, journal, batcher, add } = await setup(Infinity, 100);
  await add(1, 2);
  assert.equal(await batcher.close(300), 2);
  journal.close();
  removeDir(dir);
});

test('a batch ClickHouse refuses as bad data is halved until the bad rows stand alone: only they are parked, the rest go in', async () => {
  const { dir, journal, batcher, ch, add, metrics } = await setup(0, 1000);
  const insert = ch.db.insert;
  const tokens: string[] = [];
  // Like ClickHouse: one row it cannot parse fails the whole insert (code 25, a lone surrogate).
  ch.db.insert = async (table, rows, token) => {
    tokens.push(token!);
    if (/"n":(13|77)\b/.test(rows.toString())) throw Object.assign(new Error('Code: 25. DB::Exception: Cannot parse escape sequence'), { clickhouseCode: 25 });
    return insert(table, rows, token);
  };
  await add(...Array.from({ length: 100 }, (_, n) => n));
  await add(100, 101);
  await batcher.flush();
  const inserted = ch.inserts.flatMap((i) => i.rows.map((r) => (JSON.parse(r) as { n: number }).n)).sort((a, b) => a - b);
  assert.deepEqual(inserted, Array.from({ length: 102 }, (_, n) => n).filter((n) => n !== 13 && n !== 77), 'every good row once');
  const parked = readdirSync(join(dir, 'rejected'));
  assert.equal(parked.length, 1);
  assert.equal(readFileSync(join(dir, 'rejected', parked[0]!), 'utf8'), '{"n":13}\n{"n":77}\n');
  assert.equal(batcher.snapshot().parkedRows, 2);
  assert.match(await metrics.registry.getSingleMetricAsString('lc_clickhouse_rows_parked_total'), /lc_clickhouse_rows_parked_total 2/);
  assert.ok(tokens.length < 40, `halving costs about 2·log2(n) inserts per bad row, took ${tokens.length}`);
  assert.equal(new Set(tokens).size, tokens.length, 'each part has its own dedup token');
  assert.ok(tokens.every((t) => t.startsWith('lc:1:')), 'derived from the batch token, so a replay dedups too');
  assert.equal(batcher.snapshot().failingSince, undefined, 'bad data is not an outage');
  await batcher.close(1000);
  journal.close();
  removeDir(dir);
});

test('while inserts fail the batcher says since when, and logs the failure once a minute, not per retry', async () => {
  const lines: string[] = [];
  const log = pino({ level: 'info' }, { write: (l: string) => void lines.push(l) });
  const dir = tempDir('journal');
  const metrics = createMetrics();
  const journal = new Journal({ dir, fsync: 'off', maxBytes: 1024 ** 3 }, silent, metrics);
  const ch = recordingClickHouse(4);
  const batcher = new Batcher(ch.db, journal, { table: 'events', flushIntervalMs: 60_000, flushMaxRows: 1 }, log, metrics);
  await journal.append('{"n":1}\n', 1);
  batcher.added();
  await new Promise((r) => setTimeout(r, 300));
  assert.notEqual(batcher.snapshot().failingSince, undefined);
  await batcher.flush();
  assert.equal(batcher.snapshot().failingSince, undefined);
  const retries = lines.filter((l) => l.includes('failed; retrying'));
  assert.equal(retries.length, 1, 'four failures, one log line');
  assert.ok(lines.some((l) => l.includes('work again') && l.includes('"failedAttempts":3')));
  await batcher.close(1000);
  journal.close();
  removeDir(dir);
});

test('only bad-data errors are parked; outages and limits are retried', () => {
  assert.equal(isBadData(Object.assign(new Error('x'), { clickhouseCode: 27 })), true);
  assert.equal(isBadData(Object.assign(new Error('Code: 6. DB::Exception: Cannot parse text'), { code: '6' })), true);
  assert.equal(isBadData(new Error('Code: 25. DB::Exception: Cannot parse escape sequence: while parsing name')), true);
  assert.equal(isBadData(new Error('Code: 321. DB::Exception: Value is out of range')), true);
  assert.equal(isBadData(new Error('Code: 241. DB::Exception: Memory limit exceeded')), false);
  assert.equal(isBadData(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })), false);
});
