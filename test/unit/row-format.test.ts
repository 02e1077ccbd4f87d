// Rows written as TabSeparated come out of ClickHouse exactly as they went in, whatever the text:
// tabs, newlines, backslashes, quotes and NUL in every string column and in props' keys and values.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import fc from 'fast-check';
import type { ClickHouse } from '../../src/events/clickhouse.ts';
import { openEmbedded } from '../../src/events/embedded.ts';
import { SCHED_IDLE, v8Threads, yieldOtherThreads } from '../../src/events/engine-priority.ts';
import { encodeRows, EVENT_COLUMNS } from '../../src/events/row-format.ts';
import { migrate, type EventRow } from '../../src/events/schema.ts';
import { removeDir, tempDir } from '../support/harness.ts';

/** Text the edge lets through (well-formed), rich in what TabSeparated and Map literals must escape. */
const text = fc
  .array(fc.oneof(fc.constantFrom('\t', '\n', '\r', '\\', "'", '\0', '{', '}', ':', ',', '"', "\\'", '\\t', 'é', '😀'), fc.string({ unit: 'binary', maxLength: 6 })), { maxLength: 8 })
  .map((parts) => parts.join('').toWellFormed());
const ms = fc.integer({ min: Date.UTC(2001, 0, 1), max: Date.UTC(2099, 0, 1) });
const row: fc.Arbitrary<EventRow> = fc.record({
  event_id: fc.uuid(), event_time: ms, received_at: ms, type: text, name: text, visitor_id: text, session_id: text, url: text, path: text, hostname: text,
  referrer: text, referrer_host: text, utm_source: text, utm_medium: text, utm_campaign: text, utm_term: text, utm_content: text, gclid: text, gbraid: text,
  wbraid: text, fbclid: text, msclkid: text, country: text, region: text, city: text, browser: text, os: text, device: text,
  screen_width: fc.integer({ min: 0, max: 65535 }), screen_height: fc.integer({ min: 0, max: 65535 }), language: text,
  props: fc.array(fc.tuple(text, text), { maxLength: 4 }).map((pairs) => Object.fromEntries(pairs)),
});

/** An embedded ClickHouse with our schema in a fresh directory, for `work`. */
async function withEngine(work: (clickhouse: ClickHouse) => Promise<void>): Promise<void> {
  const dir = tempDir('row-format');
  const clickhouse = await openEmbedded(`${dir}/clickhouse`, 'lean_capture');
  try {
    await migrate(clickhouse);
    await work(clickhouse);
  } finally {
    await clickhouse.close();
    removeDir(dir);
  }
}

test('TabSeparated rows round-trip through ClickHouse, every column and every character', () =>
  withEngine(async (clickhouse) => {
    let batch = 0;
    await fc.assert(
      fc.asyncProperty(fc.uniqueArray(row, { selector: (r) => r.event_id, minLength: 1, maxLength: 200 }), async (rows) => {
        await clickhouse.exec('TRUNCATE TABLE events'); // fast-check may draw an id an earlier run used
        await clickhouse.insert('events', Buffer.from(encodeRows(rows)), `round-trip-${++batch}`, 'TabSeparated', EVENT_COLUMNS);
        const ids = rows.map((r) => `'${r.event_id}'`).join(',');
        const stored = await clickhouse.query<Record<string, unknown>>(
          `SELECT ${EVENT_COLUMNS.map((c) => (c === 'event_time' || c === 'received_at' ? `toUnixTimestamp64Milli(${c}) AS ${c}` : c)).join(', ')} FROM events WHERE event_id IN (${ids})`,
        );
        const byId = new Map(stored.map((r) => [r.event_id, { ...r, event_time: Number(r.event_time), received_at: Number(r.received_at) }]));
        for (const r of rows) assert.deepEqual(byId.get(r.event_id), { ...r, props: { ...r.props } });
      }),
      { numRuns: 25 },
    );
  }));

test('rows journaled before a migration that adds a column still insert after it (the insert names its columns)', () =>
  withEngine(async (clickhouse) => {
    const [event] = fc.sample(row, { numRuns: 1, seed: 7 });
    await clickhouse.exec("ALTER TABLE events ADD COLUMN added_later String DEFAULT 'default'");
    await clickhouse.insert('events', Buffer.from(encodeRows([event!])), 'before-migration', 'TabSeparated', EVENT_COLUMNS);
    const [stored] = await clickhouse.query<{ event_id: string; added_later: string }>('SELECT event_id, added_later FROM events');
    assert.deepEqual(stored, { event_id: event!.event_id, added_later: 'default' });
  }));

test('a batch of several MiB is staged in pieces, and a smaller batch after it leaves nothing of the larger one behind', () =>
  withEngine(async (clickhouse) => {
    const [template] = fc.sample(row, { numRuns: 1, seed: 11 });
    const batch = (n: number, width: number) =>
      Array.from({ length: n }, (_, i) => ({ ...template!, event_id: crypto.randomUUID(), url: `https://usta.example.com/${'x'.repeat(1000)}?n=${i}`, screen_width: width }));
    const large = Buffer.from(encodeRows(batch(4000, 1)));
    assert.ok(large.length > 3.5 * 1024 * 1024, `${large.length} bytes: more than three pieces`);
    await clickhouse.insert('events', large, 'large', 'TabSeparated', EVENT_COLUMNS);
    await clickhouse.insert('events', Buffer.from(encodeRows(batch(10, 2))), 'small', 'TabSeparated', EVENT_COLUMNS);
    const counts = await clickhouse.query<{ screen_width: number; rows: string; urls: string }>(
      'SELECT screen_width, count() AS rows, uniqExact(url) AS urls FROM events GROUP BY screen_width ORDER BY screen_width',
    );
    assert.deepEqual(counts.map((c) => [c.screen_width, Number(c.rows), Number(c.urls)]), [[1, 4000, 4000], [2, 10, 10]]);
  }));

test('the embedded engine\'s threads give way to the event loop (SCHED_IDLE), V8\'s compiler threads stay above them', () =>
  withEngine(async () => {
    // the engine's pools are running now; the server looks again every few seconds
    const policy = (tid: string) => (existsSync(`/proc/self/task/${tid}`) ? Number(readFileSync(`/proc/self/task/${tid}/stat`, 'utf8').split(') ')[1]!.split(' ')[38]) : SCHED_IDLE);
    await yieldOtherThreads();
    const others = readdirSync('/proc/self/task').filter((t) => t !== String(process.pid));
    const v8 = v8Threads(others.map(Number));
    const engine = others.filter((t) => !v8.has(Number(t)));
    assert.ok(engine.length > 3 && engine.every((t) => policy(t) === SCHED_IDLE), `every engine thread under SCHED_IDLE: ${engine.map(policy).join(' ')}`);
    assert.deepEqual([...v8].map((t) => policy(String(t))), [0, 0, 0, 0, 0], "V8's delayed-task thread and 4 workers stay out of SCHED_IDLE (at nice 19)");
    assert.equal(policy(String(process.pid)), 0, 'the event loop keeps its policy');
  }));
