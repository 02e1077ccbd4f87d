// The journal's record: magic "LCJ1" | payload bytes u32 | rows u32 | crc32(bytes, rows, payload) u32
// | payload (JSONEachRow lines). A torn or damaged record is found by its checksum and skipped.
import { crc32 } from 'node:zlib';

const MAGIC = 0x4c434a31; // "LCJ1"
const MAGIC_BYTES = Buffer.from([0x4c, 0x43, 0x4a, 0x31]);
export const HEADER = 16;
/** A turn's record is cut at this size, so any record fits in one read. */
export const MAX_RECORD_BYTES = 1024 * 1024;

export function segmentName(id: number): string {
  return `${String(id).padStart(10, '0')}.lcj`;
}

export function encodeRecord(payload: Buffer, rows: number): Buffer {
  const record = Buffer.allocUnsafe(HEADER + payload.length);
  record.writeUInt32BE(MAGIC, 0);
  record.writeUInt32BE(payload.length, 4);
  record.writeUInt32BE(rows, 8);
  payload.copy(record, HEADER);
  record.writeUInt32BE(checksum(record, payload.length), 12);
  return record;
}

function checksum(record: Buffer, length: number): number {
  return crc32(record.subarray(HEADER, HEADER + length), crc32(record.subarray(4, 12)));
}

interface Parsed {
  payloads: Buffer[];
  rows: number;
  consumed: number;
  damaged: number;
}

/**
 * Splits bytes into records. Stops before `maxRows` would be exceeded (never before the first
 * record). A record that fails its checksum or magic is skipped by scanning to the next valid
 * one; an incomplete record at the end is a torn write when `complete` says nothing follows.
 */
export function parseRecords(bytes: Buffer, maxRows: number, complete: boolean): Parsed {
  const out: Parsed = { payloads: [], rows: 0, consumed: 0, damaged: 0 };
  let at = 0;
  let damagedRun = false;
  while (at < bytes.length) {
    const rest = bytes.length - at;
    const magic = rest >= 4 && bytes.readUInt32BE(at) === MAGIC;
    const length = rest >= HEADER ? bytes.readUInt32BE(at + 4) : 0;
    const plausible = magic && length <= MAX_RECORD_BYTES;
    if (!complete && (rest < HEADER || (plausible && HEADER + length > rest))) break; // the rest comes with the next read
    const valid = plausible && rest >= HEADER && HEADER + length <= rest && checksum(bytes.subarray(at), length) === bytes.readUInt32BE(at + 12);
    if (!valid) {
      // A torn tail or a damaged record: count it once and resume at the next intact one.
      if (!damagedRun) out.damaged++;
      damagedRun = true;
      const next = bytes.indexOf(MAGIC_BYTES, at + 1);
      // With more to read, keep the last bytes: a record's magic may straddle the two reads.
      at = next >= 0 ? next : complete ? bytes.length : Math.max(at + 1, bytes.length - 3);
      if (next < 0 && !complete) break;
      continue;
    }
    damagedRun = false;
    const rows = bytes.readUInt32BE(at + 8);
    if (out.rows > 0 && out.rows + rows > maxRows) break;
    out.payloads.push(bytes.subarray(at + HEADER, at + HEADER + length));
    out.rows += rows;
    at += HEADER + length;
  }
  out.consumed = at;
  return out;
}
