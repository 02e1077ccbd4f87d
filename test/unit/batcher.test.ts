import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import type { ClickHouse } from '../../src/events/clickhouse.ts';
import { Batcher } from '../../src/events/batcher.ts';
import { createMetrics } from '../../src/metrics.ts';

/** A ClickHouse double made of function fields: records each insert, fails on demand. */
function recordingClickHouse(failFirst: number) {
  const inserts: string[][] = [];
  let calls = 0;
  let inFlight = 0;
  let maxInFlight = 0;
  const db: ClickHouse = {
    mode: 'embedded',
    exec: async () => undefined,
    query: async () => [],
    close: async () => undefined,
    async insert(_table, rows) {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise((r) => setTimeout(r, 20));
      inFlight--;
      if (calls++ < failFirst) throw new Error('Code: 241. DB::Exception: Memory limit exceeded');
      inserts.push(rows.toString().trimEnd().split('\n'));
    },
  };
  return { db, inserts, maxInFlight: () => maxInFlight };
}

test('a failed insert is retried with its rows, and rows arriving meanwhile join the next batch', async () => {
  const ch = recordingClickHouse(2);
  const batcher = new Batcher(ch.db, { table: 'events', flushIntervalMs: 50, flushMaxRows: 3 }, pino({ level: 'silent' }), createMetrics());
  for (let i = 0; i < 3; i++) batcher.add({ n: i });
  for (let i = 3; i < 5; i++) batcher.add({ n: i });
  await batcher.flush();
  assert.equal(ch.maxInFlight(), 1, 'one insert at a time');
  assert.deepEqual(ch.inserts, [['{"n":0}', '{"n":1}', '{"n":2}'], ['{"n":3}', '{"n":4}']]);
  const stats = batcher.snapshot();
  assert.equal(stats.confirmedRows, 5);
  assert.equal(stats.pendingRows, 0);
  assert.equal(stats.failedInserts, 2);
  await batcher.close(1000);
});

test('rows larger than a slab and many slabs make one well-formed insert', async () => {
  const ch = recordingClickHouse(0);
  const batcher = new Batcher(ch.db, { table: 'events', flushIntervalMs: 60_000, flushMaxRows: 1_000_000 }, pino({ level: 'silent' }), createMetrics());
  const big = 'é'.repeat(300_000); // 600 kB in UTF-8: larger than one slab
  for (let i = 0; i < 2000; i++) batcher.add({ n: i, pad: 'x'.repeat(300) });
  batcher.add({ n: 'big', big });
  await batcher.flush();
  assert.equal(ch.inserts.length, 1);
  const lines = ch.inserts[0]!;
  assert.equal(lines.length, 2001);
  assert.deepEqual(lines.map((l) => JSON.parse(l).n).slice(0, 3), [0, 1, 2]);
  assert.equal(JSON.parse(lines[2000]!).big, big);
  await batcher.close(1000);
});

test('close() gives up after its deadline when ClickHouse never answers, and says how many rows remain', async () => {
  const ch = recordingClickHouse(Infinity);
  const batcher = new Batcher(ch.db, { table: 'events', flushIntervalMs: 60_000, flushMaxRows: 100 }, pino({ level: 'silent' }), createMetrics());
  batcher.add({ n: 1 });
  batcher.add({ n: 2 });
  assert.equal(await batcher.close(300), 2);
});
