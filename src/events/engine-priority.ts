// On one core, the embedded engine's threads (inserts, merges) and the event loop take turns.
// Requests come first: every thread but the main one and V8's (v8Threads) runs under SCHED_IDLE,
// the Linux policy of work that only runs when nothing else wants the core. The loop mostly pre-empts such a
// thread when it wakes (not inside a system call, nor always: docs/performance.md); a nice-19
// thread kept the core until a scheduler tick took it back (every 4 ms on this kernel): `perf` of
// scheduler switches at half peak showed merge and insert threads holding core 0 4–6 ms past the
// event loop's wake-up in most of the stalls of 6 ms and more.
// Under a burst the journal holds what ClickHouse has not taken yet; it catches up as soon as the
// loop is idle, or at once on a second core.
// Node has no call for a thread's policy: `chrt` (util-linux, in every Debian and its Docker
// images) sets it, run once for the threads that do not have it yet. Where chrt is missing or
// refused, the threads get nice 19 instead. Threads appear as the engine needs them (and inherit
// the policy of the thread that starts them), so they are looked at again every few seconds.
// libuv's pool is among them on purpose: chdb runs its queries there (at nice 0 or 19 those threads
// took the core from the loop hundreds of times in 8 s, up to 10 ms). The price is a short wait on
// the pool's lock now and then (journal.ts, READ_BYTES), kept small by giving the pool few jobs.
// V8's own threads are not: see v8Threads.
// Linux only (a thread's priority is set by its id); elsewhere this does nothing.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { availableParallelism, setPriority } from 'node:os';

export const ENGINE_NICE = 19;
export const SCHED_IDLE = 5;
const RECHECK_MS = 5000;

/** Moves this process's other threads out of the event loop's way now and as they appear; returns the function that stops it. */
export function yieldEngineThreads(): () => void {
  if (!existsSync('/proc/self/task')) return () => undefined;
  const state = newYieldState();
  const run = () => void yieldOtherThreads(state).catch(() => undefined);
  run();
  const timer = setInterval(run, RECHECK_MS);
  timer.unref();
  return () => clearInterval(timer);
}

export interface YieldState {
  /** chrt works here (else: nice 19). */
  chrt: boolean;
  /**
   * Threads already moved: each pass looks only at the others. Reading every thread's stat every
   * few seconds was ~30 files, ~120 jobs at once for libuv's pool (see journal.ts on what each
   * costs the event loop).
   */
  moved: Set<number>;
  /** V8's platform threads, found on the first pass (v8Threads). */
  v8?: Set<number>;
}

export const newYieldState = (): YieldState => ({ chrt: true, moved: new Set() });

/**
 * V8's platform threads: its delayed-task thread and its workers (`--v8-pool-size`, 4 by default),
 * the first threads Node starts, before any JavaScript runs, so the lowest ids after the main
 * thread's. They compile hot functions for the event loop, which hands them each job under a lock
 * and a condition variable; under SCHED_IDLE the loop could wait there for one of them to get the
 * core behind the engine's threads (perf at half peak: the loop 8.9 ms in pthread_cond_signal
 * queueing a compile job while two other jobs took turns on the core, an 11 ms stall). They get
 * nice 19: above the engine, far below the loop, which they seldom have work for once it is warm.
 */
export function v8Threads(tids: Iterable<number>, pid = process.pid, execArgv = process.execArgv): Set<number> {
  const size = Number([...execArgv.join(' ').matchAll(/--v8-pool-size[= ](\d+)/g)].at(-1)?.[1] ?? 4); // the last one counts
  const workers = size > 0 ? size : Math.max(1, availableParallelism() - 1); // 0: Node sizes it by the cores
  return new Set([...tids].filter((tid) => tid > pid).sort((a, b) => a - b).slice(0, 1 + workers));
}

/** One pass: every thread but the main one and V8's to SCHED_IDLE (nice 19 where that cannot be done); V8's to nice 19. */
export async function yieldOtherThreads(state = newYieldState()): Promise<void> {
  const tids = new Set((await readdir('/proc/self/task')).map(Number));
  for (const tid of state.moved) if (!tids.has(tid)) state.moved.delete(tid); // ended: its id may come back
  // On the first pass only: later, a thread with a low id may be a new one (ids wrap around).
  state.v8 ??= v8Threads(tids);
  const others: number[] = [];
  for (const tid of tids) {
    if (tid === process.pid || state.moved.has(tid)) continue;
    const v8 = state.v8.has(tid);
    if (!v8 && (await policyOf(tid)) === SCHED_IDLE) {
      state.moved.add(tid);
      continue;
    }
    try {
      setPriority(tid, ENGINE_NICE);
    } catch {
      continue; // the thread ended meanwhile
    }
    if (v8) state.moved.add(tid); // nice 19 is as far as V8's go
    else others.push(tid);
  }
  if (others.length === 0) return;
  const idled = state.chrt ? await idle(others) : undefined;
  // Not one thread moved: chrt is missing or not allowed here; nice 19 it is, without asking again.
  if (idled === undefined) state.chrt = false;
  for (const tid of idled ?? others) state.moved.add(tid);
}

/** Runs chrt for each thread; resolves to those under SCHED_IDLE afterwards, undefined when it did not work (none of them, though some are alive). */
function idle(tids: number[]): Promise<number[] | undefined> {
  return new Promise((resolve) => {
    const child = spawn('sh', ['-c', 'for t do chrt --idle -p 0 "$t"; done', 'sh', ...tids.map(String)], { stdio: 'ignore' });
    child.once('error', () => resolve(undefined));
    child.once('exit', () => {
      void Promise.all(tids.map(policyOf)).then((policies) => {
        const idled = tids.filter((_, i) => policies[i] === SCHED_IDLE);
        resolve(idled.length > 0 || policies.every((p) => p === undefined) ? idled : undefined);
      });
    });
  });
}

/** A thread's scheduling policy (field 41 of /proc/<pid>/task/<tid>/stat), or undefined once it ended. */
export async function policyOf(tid: number): Promise<number | undefined> {
  try {
    const stat = await readFile(`/proc/self/task/${tid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may hold anything: the state is field 3.
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[41 - 3]);
  } catch {
    return undefined;
  }
}
