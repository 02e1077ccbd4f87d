// The journal's record: magic | payload bytes u32 | rows u32 | crc32(bytes, rows, payload) u32 |
// payload (rows, one per line). The magic names the rows' format: "LCJ1" JSONEachRow (journals
// written before TabSeparated), "LCJ2" TabSeparated. A torn or damaged record is found by its
// checksum and skipped.
import { crc32 } from 'node:zlib';
import type { RowFormat } from './clickhouse.ts';

const MAGICS: Record<RowFormat, number> = { JSONEachRow: 0x4c434a31, TabSeparated: 0x4c434a32 }; // "LCJ1", "LCJ2"
const FORMAT_OF = new Map(Object.entries(MAGICS).map(([format, magic]) => [magic, format as RowFormat]));
/** "LCJ": what every magic starts with, to find the next record after damage. */
const MAGIC_PREFIX = Buffer.from('LCJ');
export const HEADER = 16;
/** A turn's record is cut at this size, so any record fits in one read. */
export const MAX_RECORD_BYTES = 1024 * 1024;

export function segmentName(id: number): string {
  return `${String(id).padStart(10, '0')}.lcj`;
}

/**
 * A record of `rows` rows in `format` (JSONEachRow unless said: the format of journals before
 * TabSeparated). `payload`: the rows as bytes or as text (encoded as UTF-8 into the record).
 */
export function encodeRecord(payload: Buffer | string, rows: number, format: RowFormat = 'JSONEachRow'): Buffer {
  const length = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;
  const record = Buffer.allocUnsafe(HEADER + length);
  if (typeof payload === 'string') record.write(payload, HEADER, 'utf8');
  else payload.copy(record, HEADER);
  return sealRecord(record, length, rows, format);
}

/**
 * The record whose `length` payload bytes already sit in `buffer` after HEADER: its header is
 * written in front of them and a view of the record returned. The journal writes each turn's rows
 * straight into one buffer it reuses, and seals it once per turn.
 */
export function sealRecord(buffer: Buffer, length: number, rows: number, format: RowFormat): Buffer {
  const record = buffer.subarray(0, HEADER + length);
  record.writeUInt32BE(MAGICS[format], 0);
  record.writeUInt32BE(length, 4);
  record.writeUInt32BE(rows, 8);
  record.writeUInt32BE(checksum(record, length), 12);
  return record;
}

function checksum(record: Buffer, length: number): number {
  return crc32(record.subarray(HEADER, HEADER + length), crc32(record.subarray(4, 12)));
}

interface Parsed {
  /** The format of every record parsed (undefined when none was). */
  format: RowFormat | undefined;
  /** Stopped at a whole record that did not fit (maxRows, or another format): the batch is complete. */
  full: boolean;
  payloads: Buffer[];
  rows: number;
  consumed: number;
  damaged: number;
  /** The bytes ended inside damage: the next bytes' damage, if they start with more, is the same run. */
  inDamage: boolean;
}

/**
 * Splits bytes into records. Stops before `maxRows` would be exceeded (never before the first
 * record of a batch: `rowsBefore` says how many rows earlier reads of it took), and before a
 * record of another format than `format` or the first one read (one insert, one format). A
 * record that fails its checksum or magic is skipped by scanning to the next valid one, and a run
 * of damage counts once (across calls too: `inDamage` is the last call's `inDamage`); an
 * incomplete record at the end is a torn write when `complete` says nothing follows.
 */
export function parseRecords(bytes: Buffer, maxRows: number, complete: boolean, rowsBefore = 0, format?: RowFormat, inDamage = false): Parsed {
  const out: Parsed = { format, full: false, payloads: [], rows: 0, consumed: 0, damaged: 0, inDamage: false };
  let at = 0;
  let damagedRun = inDamage;
  while (at < bytes.length) {
    const rest = bytes.length - at;
    const recordFormat = rest >= 4 ? FORMAT_OF.get(bytes.readUInt32BE(at)) : undefined;
    const magic = recordFormat !== undefined;
    const length = rest >= HEADER ? bytes.readUInt32BE(at + 4) : 0;
    const plausible = magic && length <= MAX_RECORD_BYTES;
    if (!complete && (rest < HEADER || (plausible && HEADER + length > rest))) break; // the rest comes with the next read
    const valid = plausible && rest >= HEADER && HEADER + length <= rest && checksum(bytes.subarray(at), length) === bytes.readUInt32BE(at + 12);
    if (!valid) {
      // A torn tail or a damaged record: count it once and resume at the next intact one.
      if (!damagedRun) out.damaged++;
      damagedRun = true;
      const next = nextMagic(bytes, at + 1);
      // With more to read, keep the last bytes: a record's magic may straddle the two reads.
      at = next >= 0 ? next : complete ? bytes.length : Math.max(at + 1, bytes.length - 3);
      if (next < 0 && !complete) break;
      continue;
    }
    damagedRun = false;
    const rows = bytes.readUInt32BE(at + 8);
    const taken = rowsBefore + out.rows;
    if (taken > 0 && (taken + rows > maxRows || recordFormat !== out.format)) {
      out.full = true;
      break;
    }
    out.format = recordFormat;
    out.payloads.push(bytes.subarray(at + HEADER, at + HEADER + length));
    out.rows += rows;
    at += HEADER + length;
  }
  out.consumed = at;
  out.inDamage = damagedRun;
  return out;
}

/** Where the next record's magic starts, or -1. */
function nextMagic(bytes: Buffer, from: number): number {
  for (let at = bytes.indexOf(MAGIC_PREFIX, from); at >= 0; at = bytes.indexOf(MAGIC_PREFIX, at + 1)) {
    if (at + 4 > bytes.length || FORMAT_OF.has(bytes.readUInt32BE(at))) return at; // a magic cut by the read's end counts
  }
  return -1;
}
