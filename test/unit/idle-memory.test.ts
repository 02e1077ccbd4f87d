// The collection at rest: when it runs (the decision, driven by hand) and what it gives back (a
// real V8 heap in a child process, started with the flag the server ships with).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { IdleCollector, type Heap } from '../../src/idle-memory.ts';
import { SERVER_NODE_FLAGS } from '../support/harness.ts';

const MB = 2 ** 20;
const silent = pino({ level: 'silent' });

function fakeHeap(bytes: number) {
  const heap = { bytes, busy: 0, collections: 0, afterCollect: 0 };
  const api: Heap = {
    bytes: () => heap.bytes,
    busy: () => heap.busy,
    collect: () => {
      heap.collections++;
      heap.bytes = heap.afterCollect;
    },
  };
  return { heap, collector: new IdleCollector(api, silent) };
}

test('a full collection runs once the loop comes to rest after a burst, and not again until another burst grew the heap', () => {
  const { heap, collector } = fakeHeap(40 * MB);
  heap.busy = 0.4; // a burst: never collect under load
  heap.bytes = 70 * MB;
  assert.equal(collector.check(), false);
  heap.busy = 0.015; // the loop-delay monitor's own share at rest
  heap.bytes = 46 * MB; // the burst grew it less than 8 MB
  assert.equal(collector.check(), false);
  heap.bytes = 70 * MB;
  heap.afterCollect = 45 * MB;
  assert.equal(collector.check(), true);
  assert.equal(heap.collections, 1);
  assert.equal(collector.check(), false, 'nothing grew since: a second collection would give nothing back');
  heap.bytes = 60 * MB;
  heap.busy = 0.025; // a steady trickle: V8's own collections are enough
  for (let i = 0; i < 5; i++) assert.equal(collector.check(), false);
  heap.busy = 0.2; // the next burst
  assert.equal(collector.check(), false);
  heap.busy = 0.01;
  heap.bytes = 52 * MB; // 7 MB above what the collection left
  assert.equal(collector.check(), false);
  heap.bytes = 54 * MB;
  assert.equal(collector.check(), true);
  assert.equal(heap.collections, 2);
});

test('in a real process, a heap grown by a burst is given back once the loop is at rest', async () => {
  assert.ok(SERVER_NODE_FLAGS.includes('--expose-gc'), 'the server ships with the flag this needs');
  // A burst's worth of short-lived objects, some surviving into the old generation, then rest.
  const script = `
    import { collectWhenIdle } from ${JSON.stringify(new URL('../../src/idle-memory.ts', import.meta.url).href)};
    import { pino } from 'pino';
    const lines = [];
    const log = pino({ level: 'debug' }, { write: (l) => lines.push(JSON.parse(l)) });
    collectWhenIdle(log);
    const burstEnds = performance.now() + 6000; // a whole check of it
    let keep = [];
    while (performance.now() < burstEnds) {
      keep.push(Array.from({ length: 20000 }, (_, i) => ({ i, text: 'beacon ' + i })));
      if (keep.length > 8) keep.shift();
      await new Promise((r) => setImmediate(r)); // the checks' timer runs between turns
    }
    keep = [];
    const grown = process.memoryUsage().heapTotal;
    setTimeout(() => {
      console.log(JSON.stringify({ grown, rested: process.memoryUsage().heapTotal, lines }));
    }, 12000);
  `;
  const { stdout } = await promisify(execFile)(process.execPath, [...SERVER_NODE_FLAGS, '--import', 'tsx', '--input-type=module', '-e', script]);
  const { grown, rested, lines } = JSON.parse(stdout) as { grown: number; rested: number; lines: { msg: string; beforeMb: number; afterMb: number }[] };
  const collected = lines.filter((l) => l.msg === 'event loop at rest: heap collected');
  assert.equal(collected.length, 1, JSON.stringify(lines));
  assert.ok(collected[0]!.afterMb < collected[0]!.beforeMb);
  assert.ok(rested < grown - 16 * MB, `heap ${Math.round(grown / MB)} MB after the burst, ${Math.round(rested / MB)} MB at rest`);
});
