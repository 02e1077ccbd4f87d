import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { pino } from 'pino';
import { Journal, JournalFullError, RecordTooLargeError } from '../../src/events/journal.ts';
import { encodeRecord, MAX_RECORD_BYTES, parseRecords, segmentName } from '../../src/events/record.ts';
import { createMetrics } from '../../src/metrics.ts';
import { removeDir, tempDir } from '../support/harness.ts';

const silent = pino({ level: 'silent' });
const lines = (...ns: number[]) => ns.map((n) => `{"n":${n}}\n`).join('');
const open = (dir: string, maxBytes = 1024 ** 3) => new Journal({ dir, fsync: 'off', maxBytes }, silent, createMetrics());

test('records round-trip, and a flipped byte or a torn tail costs only the damaged record', () => {
  const records = [1, 2, 3, 4].map((n) => encodeRecord(Buffer.from(lines(n)), 1));
  const flipped = Buffer.from(records[1]!);
  flipped[20] = flipped[20]! ^ 0xff;
  const torn = records[3]!.subarray(0, 10);
  const parsed = parseRecords(Buffer.concat([records[0]!, flipped, records[2]!, torn]), Infinity, true);
  assert.deepEqual(parsed.payloads.map(String), [lines(1), lines(3)]);
  assert.equal(parsed.rows, 2);
  assert.equal(parsed.damaged, 2);
});

test('records say their format: a batch never mixes a JSONEachRow journal from before with TabSeparated rows', () => {
  const tsv = (n: number) => `${n}\tx\n`;
  const bytes = Buffer.concat([
    encodeRecord(Buffer.from(lines(1)), 1), encodeRecord(Buffer.from(lines(2)), 1),
    encodeRecord(Buffer.from(tsv(3)), 1, 'TabSeparated'), encodeRecord(Buffer.from(tsv(4)), 1, 'TabSeparated'),
  ]);
  const old = parseRecords(bytes, Infinity, true);
  assert.deepEqual([old.format, old.payloads.map(String), old.damaged], ['JSONEachRow', [lines(1), lines(2)], 0]);
  const rest = parseRecords(bytes.subarray(old.consumed), Infinity, true);
  assert.deepEqual([rest.format, rest.payloads.map(String), rest.consumed], ['TabSeparated', [tsv(3), tsv(4)], bytes.length - old.consumed]);
});

test('an incomplete record at the end of a read waits for the next read instead of counting as damage', () => {
  const whole = Buffer.concat([encodeRecord(Buffer.from(lines(1)), 1), encodeRecord(Buffer.from(lines(2)), 1)]);
  const parsed = parseRecords(whole.subarray(0, whole.length - 5), Infinity, false);
  assert.equal(parsed.rows, 1);
  assert.equal(parsed.damaged, 0);
  assert.equal(parsed.consumed, encodeRecord(Buffer.from(lines(1)), 1).length);
});

test('the writes of one event-loop turn become one record', async () => {
  const dir = tempDir('journal');
  const journal = open(dir);
  await Promise.all([journal.append(lines(1), 1), journal.append(lines(2), 1), journal.append(lines(3), 1)]);
  journal.close();
  const bytes = readFileSync(join(dir, segmentName(1)));
  const parsed = parseRecords(bytes, Infinity, true);
  assert.equal(parsed.payloads.length, 1);
  assert.equal(parsed.payloads[0]!.toString(), lines(1, 2, 3));
  removeDir(dir);
});

test('a turn past a record\'s size is cut into whole records, non-ASCII rows included; rows too large for any record are refused and nothing is written', async () => {
  const dir = tempDir('journal');
  const journal = open(dir);
  // 2.5 MiB in one turn: 3-byte characters, so the cut must count bytes, not characters.
  const row = (n: number) => `${n}\t${'ş€'.repeat(20_000)}\n`;
  const appends = Array.from({ length: 25 }, (_, n) => journal.append(row(n), 1));
  const tooLarge = 'x'.repeat(MAX_RECORD_BYTES + 1);
  await assert.rejects(journal.append(tooLarge, 1), RecordTooLargeError);
  await Promise.all(appends);
  journal.close();
  const parsed = parseRecords(readFileSync(join(dir, segmentName(1))), Infinity, true);
  assert.equal(parsed.damaged, 0);
  assert.ok(parsed.payloads.length >= 3, `${parsed.payloads.length} records`);
  assert.ok(parsed.payloads.every((p) => p.length <= MAX_RECORD_BYTES));
  assert.equal(Buffer.concat(parsed.payloads).toString(), Array.from({ length: 25 }, (_, n) => row(n)).join(''));
  assert.equal(parsed.rows, 25);
  removeDir(dir);
});

test('after a crash the batch in flight is read back byte for byte with the same token, then the rest', async () => {
  const dir = tempDir('journal');
  const first = open(dir);
  await first.append(lines(1, 2), 2);
  await first.append(lines(3), 1);
  const inFlight = (await first.readBatch(2))!;
  assert.equal(inFlight.payload.toString(), lines(1, 2));
  await first.append(lines(4), 1);
  // crash: no confirm, no close

  const second = open(dir);
  const replayed = (await second.readBatch(1000))!;
  assert.deepEqual([replayed.payload.toString(), replayed.token, replayed.replayed], [lines(1, 2), inFlight.token, true]);
  second.confirm(replayed);
  const rest = (await second.readBatch(1000))!;
  assert.equal(rest.payload.toString(), lines(3, 4));
  second.confirm(rest);
  assert.equal(await second.readBatch(1000), undefined);
  assert.equal(second.backlogBytes(), 0);
  second.close();
  removeDir(dir);
});

test('a cursor write torn by a crash leaves the one before it: the confirmed batch is replayed with its token, nothing is skipped', async () => {
  const dir = tempDir('journal');
  const first = open(dir);
  await first.append(lines(1, 2), 2);
  const inFlight = (await first.readBatch(1000))!;
  await first.confirm(inFlight);
  // crash while the confirmation was being written: its slot is torn (the newest of the two)
  const file = readFileSync(join(dir, 'cursor'));
  const slots = [0, 4096].map((at) => ({ at, sequence: file.readUIntLE(at + 8, 6) }));
  const newest = slots.sort((a, b) => b.sequence - a.sequence)[0]!;
  file[newest.at + 20] = file[newest.at + 20]! ^ 0xff;
  writeFileSync(join(dir, 'cursor'), file);

  const second = open(dir);
  const replayed = (await second.readBatch(1000))!;
  assert.deepEqual([replayed.payload.toString(), replayed.token], [lines(1, 2), inFlight.token], 'the batch goes again under the same dedup token');
  await second.confirm(replayed);
  // crash again (no close: a graceful stop would leave cursor.json, which wins)
  const third = open(dir);
  assert.equal(await third.readBatch(1000), undefined, 'the confirmation after the tear holds');
  await third.append(lines(3), 1);
  await third.confirm((await third.readBatch(1000))!);
  await third.append(lines(4), 1);
  // crash; both slots damaged: every segment left is replayed (dedup tokens cover the last batch), with a warning
  writeFileSync(join(dir, 'cursor'), Buffer.alloc(8192, 7));
  const logged: string[] = [];
  const fourth = new Journal({ dir, fsync: 'off', maxBytes: 1024 ** 3 }, pino({ level: 'warn' }, { write: (l: string) => void logged.push(l) }), createMetrics());
  assert.equal((await fourth.readBatch(1000))!.payload.toString(), lines(3, 4));
  assert.ok(logged.some((l) => l.includes('journal cursor unreadable')));
  fourth.close();
  removeDir(dir);
});

test('the cursor needs no disk space to move (both slots allocated), and a write that fails is made again into the same slot, never over the last whole cursor', async () => {
  const dir = tempDir('journal');
  const journal = open(dir);
  assert.ok(statSync(join(dir, 'cursor')).blocks * 512 >= 8192, 'both slots have their blocks: moving the cursor needs no disk space');
  await journal.append(lines(1), 1);
  const batch = (await journal.readBatch(1000))!;
  const sequences = () => {
    const file = readFileSync(join(dir, 'cursor'));
    return [file.readUIntLE(8, 6), file.readUIntLE(4096 + 8, 6)];
  };
  const [slot0, slot1] = sequences();
  const cursorFile = (journal as unknown as { cursorFile: { fd: number } }).cursorFile;
  const fd = cursorFile.fd;
  cursorFile.fd = 987_654; // the write fails, as on a failing disk
  await assert.rejects(journal.confirm(batch));
  cursorFile.fd = fd;
  await journal.confirm(batch);
  const newest = Math.max(slot0!, slot1!);
  const kept = newest % 2 === 0 ? [newest, newest + 1] : [newest + 1, newest];
  assert.deepEqual(sequences(), kept, 'the slot with the last whole cursor was not written over');
  journal.close();
  removeDir(dir);
});

test('a graceful stop leaves cursor.json for a rollback; what an older version then wrote there wins over the slots at the next start', async () => {
  const dir = tempDir('journal');
  const first = open(dir);
  await first.append(lines(1), 1);
  const one = (await first.readBatch(1000))!;
  await first.confirm(one);
  await first.append(lines(2), 1);
  await first.append(lines(3), 1);
  first.close();
  const handedOver = JSON.parse(readFileSync(join(dir, 'cursor.json'), 'utf8'));
  assert.deepEqual(handedOver, { segment: one.segment, offset: one.to, inFlight: null }, 'where this version stopped');
  // the older version runs: it confirms the next record and writes its cursor.json
  const next = encodeRecord(Buffer.from(lines(2)), 1).length;
  writeFileSync(join(dir, 'cursor.json'), JSON.stringify({ segment: one.segment, offset: one.to + next, inFlight: null }));
  const second = open(dir);
  assert.ok(!readdirSync(dir).includes('cursor.json'));
  const rest = (await second.readBatch(1000))!;
  assert.equal(rest.payload.toString(), lines(3), 'nothing the older version confirmed comes again');
  await second.confirm(rest);
  second.close();
  removeDir(dir);
});

test('a journal written before the in-place cursor (cursor.json) replays its batch in flight byte for byte after the upgrade', async () => {
  const dir = tempDir('journal');
  const records = [lines(1, 2), lines(3), lines(4)].map((rows, i) => encodeRecord(Buffer.from(rows), i === 0 ? 2 : 1));
  writeFileSync(join(dir, segmentName(3)), Buffer.concat(records));
  // the first record confirmed, the next one in flight, as the old version wrote it
  const from = records[0]!.length;
  const to = from + records[1]!.length;
  writeFileSync(join(dir, 'cursor.json'), JSON.stringify({ segment: 3, offset: from, inFlight: { to } }));
  const journal = open(dir);
  assert.ok(!readdirSync(dir).includes('cursor.json'), 'the old cursor is replaced');
  const replayed = (await journal.readBatch(1000))!;
  assert.deepEqual([replayed.payload.toString(), replayed.token], [lines(3), `lc:3:${from}-${to}`]);
  await journal.confirm(replayed);
  const last = (await journal.readBatch(1000))!;
  assert.equal(last.payload.toString(), lines(4));
  await journal.confirm(last);
  // crash (a graceful stop would leave cursor.json, which would be read instead of the slots)
  const reopened = open(dir);
  assert.equal(await reopened.readBatch(1000), undefined, 'the newer of the two slots is the cursor');
  reopened.close();
  removeDir(dir);
});

test('confirmed segments are deleted; at JOURNAL_MAX_BYTES appends are refused until space frees', async () => {
  const dir = tempDir('journal');
  const journal = open(dir, 64 * 1024);
  const row = lines(1).replace('}', `,"pad":"${'x'.repeat(1000)}"}`);
  let refused = 0;
  for (let i = 0; i < 100; i++) {
    await journal.append(row, 1).catch((err) => {
      assert.ok(err instanceof JournalFullError);
      refused++;
    });
  }
  assert.ok(refused > 0, 'the budget was reached');
  assert.ok(journal.full());
  for (let batch = await journal.readBatch(1000); batch; batch = await journal.readBatch(1000)) journal.confirm(batch);
  assert.equal(journal.full(), false, 'confirmed segments were deleted');
  assert.ok(readdirSync(dir).filter((f) => f.endsWith('.lcj')).length <= 2);
  await journal.append(row, 1);
  journal.close();
  removeDir(dir);
});

test('a damaged segment is replayed around the damage and the damage is counted', async () => {
  const dir = tempDir('journal');
  const good = (n: number) => encodeRecord(Buffer.from(lines(n)), 1);
  const flipped = good(2);
  flipped[20] = flipped[20]! ^ 0x01; // a bit flip inside the payload
  writeFileSync(join(dir, segmentName(1)), Buffer.concat([good(1), flipped, good(3), good(4).subarray(0, 7)]));
  const journal = open(dir);
  const batch = (await journal.readBatch(1000))!;
  assert.equal(batch.payload.toString(), lines(1, 3));
  assert.equal(journal.damagedRecords, 2);
  journal.confirm(batch);
  assert.equal(await journal.readBatch(1000), undefined);
  journal.close();
  removeDir(dir);
});

test('batches larger than one read (256 KiB) come back whole and in order, around damage at any offset, up to 6 MiB of rows; a replay spanning reads is byte-identical, however large', async () => {
  const dir = tempDir('journal');
  // Rows of uneven sizes (so record boundaries fall anywhere across the reads), ~7.5 MiB in all, one record damaged.
  const row = (n: number) => `{"n":${n},"pad":"${'x'.repeat((n * 7919) % 3000)}"}\n`;
  const records = Array.from({ length: 5000 }, (_, n) => encodeRecord(Buffer.from(row(n)), 1));
  records[1700]![20] = records[1700]![20]! ^ 0x01;
  writeFileSync(join(dir, segmentName(1)), Buffer.concat(records));
  const expected = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i).filter((n) => n !== 1700).map(row).join('');

  const first = open(dir);
  const inFlight = (await first.readBatch(4900))!;
  const cap = 6 * 1024 * 1024;
  assert.ok(inFlight.rows < 4900 && inFlight.payload.length >= cap && inFlight.payload.length < cap + 256 * 1024, `the batch ends past 6 MiB of rows (${inFlight.rows} rows, ${inFlight.payload.length} bytes)`);
  assert.equal(inFlight.payload.toString(), expected(0, inFlight.rows + 1), 'the rows up to there but the damaged one');
  assert.equal(first.damagedRecords, 1);
  const buffer = (first as unknown as { batchBuffer: Buffer }).batchBuffer;
  assert.ok(buffer.length <= 9 * 1024 * 1024 + 64, `the buffer that gathered them: ${buffer.length} bytes (at most 6 MiB of rows, a record and a read)`);
  // crash before the insert was confirmed

  const second = open(dir);
  const replayed = (await second.readBatch(10));
  assert.deepEqual([replayed!.token, replayed!.rows, replayed!.payload.toString() === inFlight.payload.toString()], [inFlight.token, inFlight.rows, true], 'the whole batch in flight, not 10 rows');
  await second.confirm(replayed!);
  const rest = (await second.readBatch(100_000))!;
  assert.equal(rest.payload.toString(), expected(inFlight.rows + 1, 5000));
  await second.confirm(rest);
  assert.equal(await second.readBatch(1000), undefined);
  second.close();

  // A batch in flight larger than that (an older version read up to 20 000 rows) is replayed whole.
  const again = tempDir('journal');
  writeFileSync(join(again, segmentName(1)), Buffer.concat(records));
  const all = records.reduce((n, r) => n + r.length, 0);
  writeFileSync(join(again, 'cursor.json'), JSON.stringify({ segment: 1, offset: 0, inFlight: { to: all } }));
  const third = open(again);
  const whole = (await third.readBatch(20_000))!;
  assert.deepEqual([whole.token, whole.rows, whole.payload.toString() === expected(0, 5000)], [`lc:1:0-${all}`, 4999, true]);
  third.close();
  removeDir(dir);
  removeDir(again);
});

test('a long run of damage is skipped in one batch without the batch\'s memory growing with it', async () => {
  const dir = tempDir('journal');
  const good = (n: number) => encodeRecord(Buffer.from(lines(n)), 1);
  const garbage = Buffer.alloc(6 * 1024 * 1024, 0xaa); // three reads' worth of bytes that are no record
  writeFileSync(join(dir, segmentName(1)), Buffer.concat([good(1), good(2), garbage, good(3), good(4)]));
  const journal = open(dir);
  const batch = (await journal.readBatch(1000))!;
  assert.equal(batch.payload.toString(), lines(1, 2, 3, 4));
  assert.equal(journal.damagedRecords, 1);
  // What is left of a read is moved down to the rows before the next: the buffer holds a read, not the damage.
  const buffer = (journal as unknown as { batchBuffer: Buffer }).batchBuffer;
  assert.ok(buffer.length <= 4 * 1024 * 1024, `batch buffer ${buffer.length} bytes (a read is 2 MiB; the damage 6)`);
  await journal.confirm(batch);
  assert.equal(await journal.readBatch(1000), undefined);
  journal.close();
  removeDir(dir);
});

test('the batch buffer is reused after the journal catches up: no new buffer per batch at a steady rate (each would be old-generation garbage)', async () => {
  const dir = tempDir('journal');
  const journal = open(dir);
  // Batches of a steady rate's size, ~60 and ~30 KiB (buffers this large are not cut from Node's shared pool).
  const rows = (from: number, count: number) => Array.from({ length: count }, (_, i) => `{"n":${from + i},"pad":"${'x'.repeat(90)}"}\n`).join('');
  await journal.append(rows(0, 600), 600);
  const first = (await journal.readBatch(1000))!;
  const memory = first.payload.buffer;
  await journal.confirm(first);
  assert.equal(await journal.readBatch(1000), undefined, 'caught up');
  await journal.append(rows(600, 300), 300);
  const next = (await journal.readBatch(1000))!;
  assert.equal(next.payload.toString(), rows(600, 300));
  assert.ok(next.payload.buffer === memory, 'the same memory as the batch before the catch-up');
  await journal.confirm(next);
  journal.close();
  removeDir(dir);
});

test('records larger than one read (up to the 1 MiB a record may hold) are read whole, from a closed segment and from the live one', async () => {
  const dir = tempDir('journal');
  const sizes = [10, 700_000, 20, MAX_RECORD_BYTES - 1, 30, 300_000, 40];
  const row = (n: number) => `${n}\t${'y'.repeat(sizes[n]! - String(n).length - 2)}\n`;
  writeFileSync(join(dir, segmentName(1)), Buffer.concat(sizes.map((_, n) => encodeRecord(Buffer.from(row(n)), 1))));
  const journal = open(dir); // segment 1 is closed (an earlier process's); this one writes segment 2
  for (let n = 0; n < sizes.length; n++) await journal.append(row(n), 1); // one record per turn
  const all = sizes.map((_, n) => row(n)).join('');
  const closed = (await journal.readBatch(1000))!;
  assert.equal(closed.rows, sizes.length);
  assert.equal(closed.payload.toString(), all);
  await journal.confirm(closed);
  const live = (await journal.readBatch(1000))!;
  assert.equal(live.rows, sizes.length);
  assert.equal(live.payload.toString(), all);
  await journal.confirm(live);
  assert.equal(await journal.readBatch(1000), undefined);
  assert.equal(journal.damagedRecords, 0);
  journal.close();
  removeDir(dir);
});

test('a second writer on the same journal is refused while the first lives, and a dead one is taken over', () => {
  const dir = tempDir('journal');
  const first = open(dir);
  assert.throws(() => {
    // Simulate another live process owning the journal: our parent is alive and is not us.
    writeFileSync(join(dir, 'owner.pid'), String(process.ppid));
    open(dir);
  }, /in use by process/);
  writeFileSync(join(dir, 'owner.pid'), '999999999'); // no such process: a crash left it
  const second = open(dir);
  second.close();
  writeFileSync(join(dir, 'owner.pid'), `${process.ppid} 1`); // that pid now belongs to a process started at another time
  const third = open(dir);
  third.close();
  first.close();
  removeDir(dir);
});

test('a journal that cannot write (disk full) refuses, says so once a minute rather than per request, and recovers by itself', async () => {
  const dir = tempDir('journal');
  const logged: string[] = [];
  const log = pino({ level: 'info' }, { write: (l: string) => void logged.push(l) });
  const journal = new Journal({ dir, fsync: 'off', maxBytes: 1024 ** 3 }, log, createMetrics());
  const internals = journal as unknown as { fd: number };
  const fd = internals.fd;
  internals.fd = 987_654; // every write now fails, as on a full disk
  for (let i = 0; i < 20; i++) await assert.rejects(journal.append(lines(i), 1));
  assert.equal(journal.writable(), false, '/readyz reports it');
  assert.equal(logged.filter((l) => l.includes('journal write failed')).length, 1, 'twenty refusals, one log line');
  assert.ok(!logged.some((l) => l.includes('"stack"')), 'no stack trace');
  internals.fd = fd;
  await journal.append(lines(99), 1);
  assert.equal(journal.writable(), true);
  assert.ok(logged.some((l) => l.includes('journal writes succeed again')));
  journal.close();
  removeDir(dir);
});
