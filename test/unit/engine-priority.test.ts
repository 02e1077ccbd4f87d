import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { ENGINE_NICE, newYieldState, SCHED_IDLE, yieldOtherThreads } from '../../src/events/engine-priority.ts';

// This file runs in a process of its own: no thread here has been moved before.
const stat = (tid: string) => readFileSync(`/proc/self/task/${tid}/stat`, 'utf8').split(') ')[1]!.split(' ');
const nice = (tid: string) => Number(stat(tid)[16]);
const policy = (tid: string) => Number(stat(tid)[38]);
const main = String(process.pid);
const others = () => readdirSync('/proc/self/task').filter((t) => t !== main);

test('threads other than the event loop go to nice 19 where chrt cannot run, then to SCHED_IDLE; the event loop keeps its place', async () => {
  const workers = [0, 1].map(() => new Worker('setInterval(() => {}, 1000)', { eval: true }));
  await Promise.all(workers.map((w) => new Promise((resolve) => w.once('online', resolve))));
  try {
    await yieldOtherThreads({ chrt: false, moved: new Set() });
    assert.ok(others().length >= 2 && others().every((t) => nice(t) === ENGINE_NICE && policy(t) === 0), `nice 19: ${others().map(nice).join(' ')}`);
    const state = newYieldState();
    await yieldOtherThreads(state);
    assert.ok(state.chrt, 'chrt worked');
    assert.ok(others().every((t) => policy(t) === SCHED_IDLE), `SCHED_IDLE: ${others().map(policy).join(' ')}`);
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
