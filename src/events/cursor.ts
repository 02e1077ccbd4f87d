// The journal's cursor (journal/cursor): the first byte ClickHouse has not confirmed, and the batch
// in flight. It is written in place, into two slots 4 KiB apart that take turns, each with a
// sequence number and a checksum. A write that a crash tears leaves the other slot whole, and
// that is the cursor as it was before the torn write, which is what replacing a file atomically
// gives too. A write is one pwrite and one fdatasync: replacing cursor.json (open, write, fsync,
// close, rename, and open, fsync, close of the directory) was eight jobs of libuv's pool, twice a
// batch, and each job's end may cost the event loop a wait (journal.ts, READ_BYTES).
// Versions before this one read and wrote cursor.json. A graceful stop still leaves one, so that
// a rollback to such a version starts where this one stopped; at start, a cursor.json is the
// newest word (an older version ran after us, or we stopped gracefully), and is taken over.
import { closeSync, existsSync, fdatasync, fsyncSync, openSync, readFileSync, readSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import type { Logger } from '../log.ts';
import { syncDirectory } from './durable.ts';

export interface Cursor {
  segment: number;
  offset: number;
  /** The batch being inserted when the cursor was written: replayed exactly as it was. */
  inFlight: { to: number } | null;
}

const MAGIC = 0x4c434331; // "LCC1"
/** Slots on separate pages (and disk sectors), so writing one never rewrites the other's bytes. */
const SLOT_SPACING = 4096;
/** magic u32 | crc32 of the rest u32 | sequence | segment | offset | in-flight end + 1 (0: none), each u48 in 8 bytes. */
const SLOT_BYTES = 40;

export class CursorFile {
  private fd = -1;
  private sequence = 0;
  /** The writes in flight, chained: one slot is only rewritten once the write to the other is durable. */
  private writes: Promise<unknown> = Promise.resolve();
  private readonly slot = Buffer.alloc(SLOT_BYTES);

  constructor(private readonly dir: string, private readonly durable: boolean, private readonly log: Logger) {}

  /** Opens the cursor (a cursor.json is taken over); a fresh journal starts at its first segment. */
  open(): Cursor {
    const path = join(this.dir, 'cursor');
    const legacy = join(this.dir, 'cursor.json');
    const handedOver = existsSync(legacy) ? readLegacy(legacy) : undefined;
    let cursor: Cursor | undefined;
    if (existsSync(path)) {
      this.fd = openSync(path, 'r+');
      cursor = this.readSlots();
    }
    cursor = handedOver ?? cursor;
    if (cursor === undefined && (this.fd >= 0 || existsSync(legacy))) {
      this.log.warn({ path }, 'journal cursor unreadable; replaying every segment');
      cursor = { segment: 0, offset: 0, inFlight: null };
    }
    cursor ??= { segment: 1, offset: 0, inFlight: null };
    if (this.fd < 0) {
      this.fd = openSync(path, 'w+');
      // Written, not truncated to size: both slots' blocks exist from now on, so moving the cursor
      // (which is what frees segments) never needs disk space, even on a full disk.
      writeSync(this.fd, Buffer.alloc(2 * SLOT_SPACING), 0, 2 * SLOT_SPACING, 0);
    }
    if (this.sequence === 0 || handedOver !== undefined) {
      // A new file, one with no whole slot, or a cursor handed over: it goes in durably, with the file's name, before cursor.json goes.
      this.writeSlot(cursor);
      if (this.durable) {
        fsyncSync(this.fd);
        syncDirectory(this.dir);
      }
    }
    for (const old of [legacy, legacy + '.tmp']) if (existsSync(old)) unlinkSync(old);
    return cursor;
  }

  /** Writes the cursor; resolves once it is durable. Writes land in call order. */
  write(cursor: Cursor): Promise<void> {
    const write = this.writes.then(() => {
      const before = this.sequence;
      this.writeSlot(cursor); // a few bytes into the page cache: no job for the pool
      if (!this.durable) return;
      return new Promise<void>((resolve, reject) =>
        fdatasync(this.fd, (err) => {
          if (err) this.sequence = before; // not durable: the next write goes into that slot again
          return err ? reject(err) : resolve();
        }),
      );
    });
    this.writes = write.catch((err) => this.log.error({ err }, 'journal cursor could not be written'));
    return write;
  }

  /** Closes the file and leaves `cursor` in cursor.json too, for a rollback to a version that knows only that (replaced atomically). */
  close(cursor: Cursor): void {
    if (this.fd < 0) return;
    closeSync(this.fd);
    this.fd = -1;
    const legacy = join(this.dir, 'cursor.json');
    const fd = openSync(legacy + '.tmp', 'w');
    try {
      writeSync(fd, JSON.stringify(cursor));
      if (this.durable) fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(legacy + '.tmp', legacy);
    if (this.durable) syncDirectory(this.dir);
  }

  private writeSlot(cursor: Cursor): void {
    const slot = this.slot;
    // The sequence moves on only once its slot is written: a write that fails is made again into
    // the same slot, never into the other, which holds the last whole cursor.
    const sequence = this.sequence + 1;
    slot.writeUInt32LE(MAGIC, 0);
    slot.writeUIntLE(sequence, 8, 6);
    slot.writeUIntLE(cursor.segment, 16, 6);
    slot.writeUIntLE(cursor.offset, 24, 6);
    slot.writeUIntLE(cursor.inFlight === null ? 0 : cursor.inFlight.to + 1, 32, 6);
    slot.writeUInt32LE(crc32(slot.subarray(8)), 4);
    let written = 0;
    const at = (sequence % 2) * SLOT_SPACING;
    while (written < SLOT_BYTES) written += writeSync(this.fd, slot, written, SLOT_BYTES - written, at + written);
    this.sequence = sequence;
  }

  /** The whole slot with the higher sequence, or undefined when neither is whole. */
  private readSlots(): Cursor | undefined {
    let best: Cursor | undefined;
    for (const at of [0, SLOT_SPACING]) {
      const slot = Buffer.alloc(SLOT_BYTES);
      if (readSync(this.fd, slot, 0, SLOT_BYTES, at) < SLOT_BYTES) continue;
      if (slot.readUInt32LE(0) !== MAGIC || slot.readUInt32LE(4) !== crc32(slot.subarray(8))) continue;
      const sequence = slot.readUIntLE(8, 6);
      if (sequence <= this.sequence) continue;
      this.sequence = sequence;
      const inFlightEnd = slot.readUIntLE(32, 6);
      best = { segment: slot.readUIntLE(16, 6), offset: slot.readUIntLE(24, 6), inFlight: inFlightEnd === 0 ? null : { to: inFlightEnd - 1 } };
    }
    return best;
  }
}

/** cursor.json, as versions before the in-place cursor wrote it (and a graceful stop leaves it). */
function readLegacy(path: string): Cursor | undefined {
  try {
    const c = JSON.parse(readFileSync(path, 'utf8')) as Cursor;
    if (Number.isInteger(c.segment) && Number.isInteger(c.offset)) return { segment: c.segment, offset: c.offset, inFlight: c.inFlight ?? null };
  } catch {
    // unreadable: replay everything; dedup tokens cover the last batch
  }
  return undefined;
}
