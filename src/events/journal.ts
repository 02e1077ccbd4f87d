// The write-ahead journal between /collect and ClickHouse (DATA_DIR/journal/). Every accepted
// row is appended here before its 204 goes out; the batcher reads batches back from it and
// ClickHouse inserts them; a segment is deleted only once every row in it is confirmed. So a
// beacon we acknowledged survives kill -9, restarts and ClickHouse outages, bounded by disk.
//
// Layout: numbered segment files (0000000001.lcj …) of records, and the cursor (cursor.ts), the
// position of the first unconfirmed byte plus the batch being inserted (its range and dedup token),
// so a batch replayed after a crash is byte-identical and ClickHouse drops it if it already has it.
// One record (record.ts) per event-loop turn: the writes of that turn share one append. One
// process owns a journal at a time (owner-lock.ts).
import {
  close, closeSync, fstatSync, fsync, fsyncSync, ftruncateSync, mkdirSync, open as openCallback, openSync, read, readdirSync, statSync,
  unlinkSync, writeFileSync, writeSync,
} from 'node:fs';
import { unlink } from 'node:fs/promises';
import { promisify } from 'node:util';
import { join } from 'node:path';
import type { FsyncPolicy } from '../config.ts';
import type { Logger } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import { releaseOwnership, takeOwnership } from './owner-lock.ts';
import { HEADER, MAX_RECORD_BYTES, parseRecords, sealRecord, segmentName } from './record.ts';
import type { RowFormat } from './clickhouse.ts';
import { CursorFile, type Cursor } from './cursor.ts';
import { syncDirectory, syncDirectoryAsync } from './durable.ts';
import { ROW_FORMAT } from './row-format.ts';

export interface JournalOptions {
  dir: string;
  fsync: FsyncPolicy;
  maxBytes: number;
}

/** Rows read back for one insert, with a token that names exactly these bytes. */
export interface JournalBatch {
  segment: number;
  from: number;
  to: number;
  rows: number;
  /** The rows, without the records' headers. Valid until the next readBatch: its memory is reused. */
  payload: Buffer;
  /** The rows' format, as their records say (every record of a batch has the same). */
  format: RowFormat;
  token: string;
  /** From a segment an earlier process wrote (replay after a restart). */
  replayed: boolean;
}

interface Position {
  segment: number;
  offset: number;
}

interface Segment {
  id: number;
  size: number;
  /** Written to by this process and not rotated yet. */
  live: boolean;
}

const MAX_SEGMENT_BYTES = 16 * 1024 * 1024;
/** A caught-up live segment at least this big is rotated so that its space can be freed. */
const ROTATE_CAUGHT_UP_BYTES = 1024 * 1024;
/**
 * A batch is checked in slices of this size, each in its own turn of the event loop: a slice costs
 * ~0.3 ms to checksum and gather here (2 MB held the loop ~2 ms, twice a second under load). A
 * record larger than a slice is checked whole.
 */
const CHECK_SLICE_BYTES = 256 * 1024;
/**
 * And read from the segment in reads of this size. Each read is a job for libuv's thread pool, and
 * each job's end may cost the event loop a wait: the pool's thread holds the pool's lock while it
 * wakes the loop, and under SCHED_IDLE (engine-priority.ts) loses the core right there; the loop
 * then waits on that lock until the engine's threads let the pool's thread run (perf at half peak:
 * ~65 such waits a second, up to 3.5–8 ms). A read per slice made most of the pool's jobs.
 */
const READ_BYTES = 2 * 1024 * 1024;
/**
 * A batch's rows end at the first record past this many bytes, whatever maxRows allows, so the
 * buffer that gathers them grows to ~9 MiB at most (a replay of a larger batch in flight excepted),
 * whatever the rows' size: 20 000 rows of the tracker's beacons are ~5 MiB, but rows with long URLs
 * made batches, and the buffer, grow with them. The buffer is kept for the next batch, caught up
 * or not: one let go at each catch-up (every batch at a steady rate, each ≥ 2 MiB with the read
 * ahead) lived long enough to reach V8's old generation, where only a full collection frees it,
 * and an idle server does not run one for a while: ~25 MB of them 5 s after a half-rate phase.
 */
const MAX_BATCH_BYTES = 6 * 1024 * 1024;
/** The rows gathered, the largest slice checked past them, and one read ahead. */
const BATCH_BUFFER_MOST = MAX_BATCH_BYTES + HEADER + MAX_RECORD_BYTES + READ_BYTES;

export class JournalFullError extends Error {}
/** The rows of one write do not fit in a journal record (far beyond what one /collect body makes). */
export class RecordTooLargeError extends Error {}

export class Journal {
  private readonly segments: Segment[] = [];
  private fd = -1;
  /** Where the cursor is; it moves at once, the file follows (cursorFile.write). */
  private cursor: Cursor;
  private readonly cursorFile: CursorFile;
  private totalBytes = 0;
  /** This turn's rows so far: bytes written into recordBuffer after its header, and how many rows. */
  private pendingBytes = 0;
  private pendingRows = 0;
  private turn: { promise: Promise<void>; resolve: () => void; reject: (err: Error) => void } | undefined;
  private dirty = false;
  private fsyncTimer: NodeJS.Timeout | undefined;
  private readonly segmentBytes: number;
  private firstOwnSegment = 0;
  private wasFull = false;
  /** Since when appends fail (disk full or failing), or 0 while they succeed. */
  private failingSince = 0;
  private failedWrites = 0;
  /** Every turn's rows are written here as they come and the record written at once: no string or buffer per turn for the GC. */
  private readonly recordBuffer = Buffer.allocUnsafe(HEADER + MAX_RECORD_BYTES);
  /** The segment batches are read from, open until the cursor leaves it (an open and a close a batch were two jobs for libuv's pool). */
  private reader: { segment: number; fd: number } | undefined;
  /** Where batches are read and their rows gathered; reused by each batch (a batch's payload lives until the next is read). */
  private batchBuffer: Buffer | undefined;
  /** Rows appended by this process, for the backlog figures. */
  appendedRows = 0;
  damagedRecords = 0;

  constructor(private readonly options: JournalOptions, private readonly log: Logger, private readonly metrics: Metrics) {
    this.segmentBytes = Math.max(64 * 1024, Math.min(MAX_SEGMENT_BYTES, Math.floor(options.maxBytes / 4)));
    mkdirSync(options.dir, { recursive: true });
    this.lock();
    this.cursorFile = new CursorFile(options.dir, options.fsync !== 'off', log);
    this.cursor = this.cursorFile.open();
    for (const name of readdirSync(options.dir).sort()) {
      const m = /^(\d{10})\.lcj$/.exec(name);
      if (!m) continue;
      const id = Number(m[1]);
      if (id < this.cursor.segment) {
        unlinkSync(join(options.dir, name)); // confirmed before a crash, not yet removed
        continue;
      }
      const size = statSync(join(options.dir, name)).size;
      this.segments.push({ id, size, live: false });
      this.totalBytes += size;
    }
    if (this.segments.length === 0 || this.segments[0]!.id > this.cursor.segment) {
      this.cursor = { segment: this.segments[0]?.id ?? this.cursor.segment, offset: 0, inFlight: null };
    }
    this.firstOwnSegment = Math.max(this.cursor.segment, (this.segments.at(-1)?.id ?? 0) + 1);
    this.openSegment(this.firstOwnSegment);
    if (typeof options.fsync === 'number') {
      this.fsyncTimer = setInterval(() => this.syncInBackground(), options.fsync);
      this.fsyncTimer.unref();
    }
    metrics.gauge('lc_journal_bytes', 'Bytes of journal segments on disk', () => this.totalBytes);
    metrics.gauge('lc_journal_backlog_bytes', 'Journal bytes not yet confirmed by ClickHouse', () => this.backlogBytes());
  }

  /** True while the journal holds JOURNAL_MAX_BYTES: /collect then answers 503. */
  full(): boolean {
    const full = this.totalBytes >= this.options.maxBytes;
    if (full !== this.wasFull) {
      this.wasFull = full;
      if (full) this.log.error({ bytes: this.totalBytes, maxBytes: this.options.maxBytes }, 'journal full (JOURNAL_MAX_BYTES): /collect answers 503 until ClickHouse catches up');
      else this.log.info({ bytes: this.totalBytes }, 'journal has room again: /collect accepts beacons');
    }
    return full;
  }

  /**
   * Adds serialised rows (lines in the journal's format, each ending in "\n") to this event-loop turn's
   * record. Resolves once the record is written (and fsynced, with JOURNAL_FSYNC=always).
   */
  append(lines: string, rows: number): Promise<void> {
    if (this.full()) return Promise.reject(new JournalFullError('journal is full'));
    // UTF-8 takes at most 3 bytes per UTF-16 unit: only text that may not fit is measured exactly.
    const most = 3 * lines.length <= MAX_RECORD_BYTES ? 3 * lines.length : Buffer.byteLength(lines);
    if (most > MAX_RECORD_BYTES) return Promise.reject(new RecordTooLargeError(`${most} bytes of rows exceed a journal record (${MAX_RECORD_BYTES} bytes)`));
    if (this.turn !== undefined && this.pendingBytes + most > MAX_RECORD_BYTES) this.commit();
    this.pendingBytes += this.recordBuffer.write(lines, HEADER + this.pendingBytes, 'utf8');
    this.pendingRows += rows;
    if (this.turn === undefined) {
      let resolve!: () => void;
      let reject!: (err: Error) => void;
      const promise = new Promise<void>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      const turn = { promise, resolve, reject };
      this.turn = turn;
      setImmediate(() => {
        if (this.turn === turn) this.commit();
      });
    }
    return this.turn.promise;
  }

  /** Writes the turn's record with one write (and one fsync if the policy says always). */
  private commit(): void {
    const turn = this.turn!;
    const rows = this.pendingRows;
    const record = sealRecord(this.recordBuffer, this.pendingBytes, rows, ROW_FORMAT);
    this.turn = undefined;
    this.pendingBytes = 0;
    this.pendingRows = 0;
    const live = this.segments.at(-1)!;
    try {
      writeAll(this.fd, record);
      if (this.options.fsync === 'always') fsyncSync(this.fd);
    } catch (err) {
      // Take back a partial write so no torn record sits in the middle of the segment.
      try {
        ftruncateSync(this.fd, live.size);
      } catch {
        try {
          this.rotate();
        } catch {
          // Neither mended nor replaced: the next appends fail too, and are refused the same way.
        }
      }
      // A full disk fails every request: say it once, then once a minute with the count.
      const now = Date.now();
      this.failedWrites++;
      if (this.failingSince === 0 || now - this.failingSince >= 60_000) {
        this.log.error({ code: (err as NodeJS.ErrnoException).code, reason: (err as Error).message, rows, failedWrites: this.failedWrites }, 'journal write failed (disk full or failing?): beacons are refused with 503 until writes succeed again');
        this.failingSince = now;
        this.failedWrites = 0;
      }
      turn.reject(err as Error);
      return;
    }
    if (this.failingSince !== 0) {
      this.log.info('journal writes succeed again: beacons are accepted');
      this.failingSince = 0;
      this.failedWrites = 0;
    }
    live.size += record.length;
    this.totalBytes += record.length;
    this.appendedRows += rows;
    this.dirty = true;
    if (live.size >= this.segmentBytes) this.rotate();
    turn.resolve();
  }

  /** False while appends fail (disk full or failing): /readyz says so. */
  writable(): boolean {
    return this.failingSince === 0;
  }

  /** Bytes from the cursor to the end of the journal. */
  backlogBytes(): number {
    let bytes = 0;
    for (const s of this.segments) if (s.id >= this.cursor.segment) bytes += s.size - (s.id === this.cursor.segment ? this.cursor.offset : 0);
    return bytes;
  }

  /** The cursor is still in segments an earlier process wrote. */
  replaying(): boolean {
    return this.cursor.segment < this.firstOwnSegment && this.segments.some((s) => s.id < this.firstOwnSegment);
  }

  status() {
    return {
      path: this.options.dir,
      fsync: this.options.fsync,
      bytes: this.totalBytes,
      maxBytes: this.options.maxBytes,
      backlogBytes: this.backlogBytes(),
      segments: this.segments.length,
      full: this.full(),
      replaying: this.replaying(),
      damagedRecords: this.damagedRecords,
    };
  }

  /**
   * Reads the next batch at the cursor: after a crash, exactly the batch that was in flight;
   * otherwise whole records up to `maxRows` rows (at least one record) within one segment.
   * Returns undefined when nothing is waiting. Damaged records are skipped and counted.
   */
  async readBatch(maxRows: number): Promise<JournalBatch | undefined> {
    for (;;) {
      const segment = this.segments.find((s) => s.id === this.cursor.segment);
      if (segment === undefined) return undefined;
      if (this.cursor.offset >= segment.size) {
        if (segment.live) {
          if (segment.size >= Math.min(ROTATE_CAUGHT_UP_BYTES, this.segmentBytes / 4)) this.rotate();
          else return undefined;
        }
        await this.advanceTo({ segment: this.nextSegmentId(segment.id), offset: 0 });
        continue;
      }
      const inFlightTo = this.cursor.inFlight?.to;
      const from = this.cursor.offset;
      const limit = inFlightTo ?? segment.size;
      // Check in slices, so no single turn of the event loop checksums a whole batch, read in
      // larger pieces. The rows of each slice are moved down over the records' headers: the batch's
      // rows end up side by side at the start of one buffer, with no copy more. The bytes read and
      // not yet checked sit after them.
      let gathered = 0;
      let rows = 0;
      let format: RowFormat | undefined;
      let at = from;
      let unchecked = 0; // where in the buffer the bytes from `at` on are
      let held = 0; // how many of them were read
      let end = false; // a read came back short: the file holds no more for now
      let slice = CHECK_SLICE_BYTES;
      let checkedThisTurn = false;
      let inDamage = false; // the last slice ended inside damage: a run across slices counts once
      const fd = await this.readerFor(segment.id);
      while (at < limit) {
        const want = Math.min(slice, limit - at);
        if (held < want && !end) {
          // Move what is left of the last read down to the rows first, so damage skipped never grows the buffer.
          if (unchecked > gathered) this.batchBuffer!.copyWithin(gathered, unchecked, unchecked + held);
          unchecked = gathered;
          const readTo = Math.min(limit, at + Math.max(want, READ_BYTES));
          const space = this.batchSpace(unchecked + (readTo - at)).subarray(unchecked + held, unchecked + (readTo - at));
          const read = await readRange(fd, at + held, space);
          if (read.length < space.length) end = true;
          held += read.length;
        } else if (checkedThisTurn) {
          await new Promise((resolve) => setImmediate(resolve));
        }
        checkedThisTurn = true;
        const buffer = this.batchBuffer!;
        const bytes = buffer.subarray(unchecked, unchecked + Math.min(want, held));
        // Nothing follows these bytes only at the end of a closed segment, or of a batch range
        // that was cut at record boundaries before.
        const complete = at + bytes.length === limit && (inFlightTo !== undefined || !segment.live);
        const parsed = parseRecords(bytes, inFlightTo === undefined ? maxRows : Infinity, complete, rows, format, inDamage);
        if (parsed.consumed === 0 && at + bytes.length < limit && slice < HEADER + MAX_RECORD_BYTES && !(end && held === bytes.length)) {
          slice = HEADER + MAX_RECORD_BYTES; // the next record goes past this slice: check it whole
          continue;
        }
        slice = CHECK_SLICE_BYTES;
        if (parsed.damaged > 0) {
          this.damagedRecords += parsed.damaged;
          this.metrics.journalDamaged.inc(parsed.damaged);
          this.log.warn({ segment: segment.id, offset: at, damaged: parsed.damaged }, 'damaged journal records skipped');
        }
        for (const payload of parsed.payloads) {
          buffer.set(payload, gathered); // never past the payload itself: headers only shrink the rows
          gathered += payload.length;
        }
        rows += parsed.rows;
        format = parsed.format;
        inDamage = parsed.inDamage;
        at += parsed.consumed;
        unchecked += parsed.consumed;
        held -= parsed.consumed;
        if (parsed.full || parsed.consumed === 0 || (end && held === 0)) break; // a full batch, a record still being written, or the end
        if (inFlightTo === undefined && gathered >= MAX_BATCH_BYTES) break; // a replay is the range it was, whatever its size
      }
      const to = inFlightTo ?? at;
      if (rows === 0) {
        if (to === from) return undefined; // an incomplete record: wait for the rest
        await this.advanceTo({ segment: segment.id, offset: to }); // only damage in that range
        continue;
      }
      await this.writeCursor({ ...this.cursor, inFlight: { to } });
      return {
        segment: segment.id,
        from,
        to,
        rows,
        payload: this.batchBuffer!.subarray(0, gathered),
        format: format!,
        token: `lc:${segment.id}:${from}-${to}`,
        replayed: segment.id < this.firstOwnSegment,
      };
    }
  }

  private async readerFor(segment: number): Promise<number> {
    if (this.reader?.segment === segment) return this.reader.fd;
    this.closeReader();
    const fd = await openAsync(join(this.options.dir, segmentName(segment)), 'r');
    this.reader = { segment, fd };
    return fd;
  }

  private closeReader(): void {
    if (this.reader === undefined) return;
    close(this.reader.fd, () => undefined);
    this.reader = undefined;
  }

  /** The batch buffer, grown to hold at least `bytes` (what it holds so far is kept). */
  private batchSpace(bytes: number): Buffer {
    const current = this.batchBuffer;
    if (current !== undefined && current.length >= bytes) return current;
    const grown = Buffer.allocUnsafe(Math.max(bytes, Math.min(2 * (current?.length ?? 0), BATCH_BUFFER_MOST)));
    current?.copy(grown);
    this.batchBuffer = grown;
    return grown;
  }

  /** Keeps rows of a batch that ClickHouse refused as invalid in journal/rejected/ (never deleted by us); returns its path. */
  park(batch: JournalBatch, rows: Buffer): string {
    const dir = join(this.options.dir, 'rejected');
    mkdirSync(dir, { recursive: true });
    const path = join(dir, `${segmentName(batch.segment)}-${batch.from}-${batch.to}.${batch.format === 'JSONEachRow' ? 'jsonl' : 'tsv'}`);
    writeFileSync(path, rows);
    if (this.options.fsync !== 'off') {
      const fd = openSync(path, 'r');
      fsyncSync(fd);
      closeSync(fd);
    }
    return path;
  }

  /** ClickHouse confirmed the batch: move the cursor past it and free what is behind it. */
  confirm(batch: JournalBatch): Promise<void> {
    return this.advanceTo({ segment: batch.segment, offset: batch.to });
  }

  /** Writes out what this turn holds and fsyncs; for shutdown. */
  close(): void {
    if (this.turn !== undefined) this.commit();
    if (this.fsyncTimer) clearInterval(this.fsyncTimer);
    if (this.options.fsync !== 'off') fsyncSync(this.fd);
    closeSync(this.fd);
    this.fd = -1;
    this.closeReader();
    this.cursorFile.close(this.cursor);
    releaseOwnership(this.options.dir);
  }

  private async advanceTo(position: Position): Promise<void> {
    const written = this.writeCursor({ ...position, inFlight: null });
    const gone: Segment[] = [];
    while (this.segments.length > 0 && this.segments[0]!.id < position.segment && !this.segments[0]!.live) gone.push(this.segments.shift()!);
    for (const segment of gone) this.totalBytes -= segment.size;
    if (gone.some((segment) => segment.id === this.reader?.segment)) this.closeReader(); // its space is freed at the close
    await written;
    // Behind the durable cursor: a crash before the unlink only leaves files the next start removes.
    // unlink, not rm: rm looks at the file twice first, each look a job for libuv's pool.
    await Promise.all(gone.map((segment) => unlink(join(this.options.dir, segmentName(segment.id))).catch(ignoreMissing)));
  }

  private nextSegmentId(id: number): number {
    return this.segments.find((s) => s.id > id)?.id ?? id + 1;
  }

  private rotate(): void {
    const live = this.segments.at(-1)!;
    const fd = this.fd;
    if (this.options.fsync === 'always') {
      fsyncSync(fd);
      closeSync(fd);
    } else if (this.options.fsync === 'off') closeSync(fd);
    // The interval policy syncs the finished segment off the event loop, as it does the live one.
    else fsync(fd, (err) => {
      if (err) this.log.error({ err }, 'journal fsync failed');
      close(fd, () => undefined);
    });
    live.live = false;
    this.openSegment(live.id + 1);
  }

  private openSegment(id: number): void {
    this.fd = openSync(join(this.options.dir, segmentName(id)), 'a');
    // The new file's name must survive a power loss too: at once with JOURNAL_FSYNC=always, else off the loop.
    if (this.options.fsync === 'always') syncDirectory(this.options.dir);
    else if (this.options.fsync !== 'off') syncDirectoryAsync(this.options.dir).catch((err) => this.log.error({ err }, 'journal directory fsync failed'));
    const size = fstatSync(this.fd).size;
    this.segments.push({ id, size, live: true });
    this.totalBytes += size;
  }

  private syncInBackground(): void {
    if (!this.dirty || this.fd < 0) return;
    this.dirty = false;
    fsync(this.fd, (err) => {
      if (err && this.fd >= 0) this.log.error({ err }, 'journal fsync failed');
    });
  }

  /**
   * One writer per journal: a second server on the same DATA_DIR would interleave segments. The
   * owner is recorded as "pid start-time", so a pid reused by another process after a crash or a
   * reboot is not mistaken for a live owner.
   */
  private lock(): void {
    const owner = takeOwnership(this.options.dir);
    if (owner !== undefined) throw new Error(`journal ${this.options.dir} is in use by process ${owner} (another Lean Capture process using this DATA_DIR?)`);
  }

  private writeCursor(cursor: Cursor): Promise<void> {
    this.cursor = cursor;
    return this.cursorFile.write(cursor);
  }
}

function writeAll(fd: number, buffer: Buffer): void {
  let written = 0;
  while (written < buffer.length) written += writeSync(fd, buffer, written);
}

/** Reads into `buffer` from `from` on; returns the part filled (shorter at the end of the file). */
async function readRange(fd: number, from: number, buffer: Buffer): Promise<Buffer> {
  let read = 0;
  while (read < buffer.length) {
    const { bytesRead } = await readAsync(fd, buffer, read, buffer.length - read, from + read);
    if (bytesRead === 0) break;
    read += bytesRead;
  }
  return buffer.subarray(0, read);
}

function ignoreMissing(err: NodeJS.ErrnoException): void {
  if (err.code !== 'ENOENT') throw err;
}

const openAsync = promisify(openCallback);
const readAsync = promisify(read);
