import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { pbkdf2 } from 'node:crypto';
import { ENGINE_NICE, newYieldState, SCHED_IDLE, v8Threads, yieldOtherThreads } from '../../src/events/engine-priority.ts';

// This file runs in a process of its own: no thread here has been moved before.
const stat = (tid: string) => readFileSync(`/proc/self/task/${tid}/stat`, 'utf8').split(') ')[1]!.split(' ');
const nice = (tid: string) => Number(stat(tid)[16]);
const policy = (tid: string) => Number(stat(tid)[38]);
const main = String(process.pid);
const others = () => readdirSync('/proc/self/task').filter((t) => t !== main);
/** CPU ticks each thread has used so far. */
const cpu = () => new Map(readdirSync('/proc/self/task').map((t) => [Number(t), Number(stat(t)[11]) + Number(stat(t)[12])]));
/** The threads that used the CPU while `work` ran (two ticks or more). */
async function busyDuring(work: () => unknown): Promise<number[]> {
  const before = cpu();
  await work();
  return [...cpu()].filter(([t, ticks]) => t !== process.pid && ticks - (before.get(t) ?? 0) >= 2).map(([t]) => t);
}

test("V8's platform threads are told from libuv's pool (where chdb runs its queries) by what each does", async () => {
  const v8 = v8Threads(others().map(Number));
  assert.equal(v8.size, 5, 'its delayed-task thread and 4 workers');
  // libuv's pool hashes; V8's workers help the collector.
  const pool = await busyDuring(() => Promise.all([0, 1, 2, 3].map(() => new Promise((resolve) => pbkdf2('pw', 'salt', 200_000, 32, 'sha512', resolve)))));
  const gc = await busyDuring(() => {
    const kept: object[] = [];
    for (let i = 0; i < 3_000_000; i++) {
      kept.push({ i, list: [i] });
      if (kept.length > 1_000_000) kept.length = 0;
    }
  });
  assert.ok(pool.length >= 2 && pool.every((t) => !v8.has(t)), `pool ${pool} vs V8 ${[...v8]}`);
  assert.ok(gc.length >= 1 && gc.every((t) => v8.has(t)), `collector's helpers ${gc} vs V8 ${[...v8]}`);
  assert.deepEqual(v8Threads([10, 11, 12, 13], 10, ['--v8-pool-size=1', '--v8-pool-size=2']), new Set([11, 12, 13]), 'the last --v8-pool-size counts');
});

test("threads other than the event loop go to nice 19 where chrt cannot run, then to SCHED_IDLE but for V8's (nice 19); the event loop keeps its place", async () => {
  const workers = [0, 1].map(() => new Worker('setInterval(() => {}, 1000)', { eval: true }));
  await Promise.all(workers.map((w) => new Promise((resolve) => w.once('online', resolve))));
  try {
    await yieldOtherThreads({ chrt: false, moved: new Set() });
    assert.ok(others().length >= 2 && others().every((t) => nice(t) === ENGINE_NICE && policy(t) === 0), `nice 19: ${others().map(nice).join(' ')}`);
    const state = newYieldState();
    await yieldOtherThreads(state);
    assert.ok(state.chrt, 'chrt worked');
    const v8 = v8Threads(others().map(Number));
    const engine = others().filter((t) => !v8.has(Number(t)));
    assert.ok(engine.every((t) => policy(t) === SCHED_IDLE), `SCHED_IDLE: ${engine.map(policy).join(' ')}`);
    assert.ok([...v8].every((t) => policy(String(t)) === 0 && nice(String(t)) === ENGINE_NICE), `V8's threads at nice 19: ${[...v8].map((t) => `${policy(String(t))}/${nice(String(t))}`).join(' ')}`);
    assert.deepEqual([nice(main), policy(main)], [0, 0]);
    // The next pass looks at new threads only.
    assert.deepEqual([...state.moved].sort(), others().map(Number).sort());
    workers.push(new Worker('setInterval(() => {}, 1000)', { eval: true }));
    await new Promise((resolve) => workers.at(-1)!.once('online', resolve));
    const fresh = others().filter((t) => !state.moved.has(Number(t)));
    assert.ok(fresh.length >= 1);
    await yieldOtherThreads(state);
    assert.ok(fresh.every((t) => policy(t) === SCHED_IDLE && state.moved.has(Number(t))), `the new thread: ${fresh.map(policy).join(' ')}`);
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
});
