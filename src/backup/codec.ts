// How a backup object is stored: gzip, then — with BACKUP_ENCRYPTION_KEY — AES-256-GCM, because
// leads hold phone numbers. Encrypted layout: "LCB1" · 12-byte random IV · ciphertext · 16-byte
// tag, with the object's key as additional authenticated data (an object cannot be swapped for
// another). Unencrypted objects are plain gzip files. Checksums: SHA-256 of the stored bytes (to
// check a download before touching anything) and of the content (to check the decoded data).
import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { createReadStream, createWriteStream, openSync, readSync, closeSync, statSync } from 'node:fs';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';

const MAGIC = Buffer.from('LCB1');
const IV_BYTES = 12;
const TAG_BYTES = 16;

export interface Sealed {
  /** Bytes stored (compressed, encrypted). */
  bytes: number;
  sha256: string;
  /** Bytes and SHA-256 of the content before compression. */
  contentBytes: number;
  contentSha256: string;
}

/** A value derived from the key, kept in the manifest, to tell a wrong key before decrypting anything. */
export function keyCheck(key: Buffer): string {
  return createHmac('sha256', key).update('lean-capture backup key check v1').digest('hex').slice(0, 32);
}

export function keyMatches(key: Buffer, check: string): boolean {
  const mine = Buffer.from(keyCheck(key));
  const theirs = Buffer.from(check);
  return mine.length === theirs.length && timingSafeEqual(mine, theirs);
}

/** Passes bytes through, hashing and counting them. */
function meter(): Transform & { sha256: () => string; bytes: () => number } {
  const hash = createHash('sha256');
  let bytes = 0;
  const t = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      bytes += chunk.length;
      done(null, chunk);
    },
  }) as Transform & { sha256: () => string; bytes: () => number };
  let digest: string | undefined;
  t.sha256 = () => (digest ??= hash.digest('hex'));
  t.bytes = () => bytes;
  return t;
}

/** Compresses (and encrypts) `source` into the file `path`. */
export async function seal(input: Readable | Iterable<Buffer | string> | AsyncIterable<Buffer | string>, path: string, objectKey: string, key: Buffer | undefined): Promise<Sealed> {
  const source = input instanceof Readable ? input : Readable.from(input);
  const content = meter();
  const stored = meter();
  const out = createWriteStream(path);
  if (key === undefined) {
    await pipeline(source, content, createGzip({ level: 6 }), stored, out);
  } else {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    cipher.setAAD(Buffer.from(objectKey));
    const header = Buffer.concat([MAGIC, iv]);
    // Header first; the tag is known only at the end, so it follows the ciphertext.
    let headerSent = false;
    const frame = new Transform({
      transform(chunk: Buffer, _enc, done) {
        if (!headerSent) this.push(header);
        headerSent = true;
        done(null, chunk);
      },
      flush(done) {
        if (!headerSent) this.push(header);
        done(null, cipher.getAuthTag());
      },
    });
    await pipeline(source, content, createGzip({ level: 6 }), cipher, frame, stored, out);
  }
  return { bytes: stored.bytes(), sha256: stored.sha256(), contentBytes: content.bytes(), contentSha256: content.sha256() };
}

/** SHA-256 of a file's bytes. */
export async function fileSha256(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * Decodes a stored object into `dest` (a path); checks the GCM tag and the content checksum.
 * Throws with a clear reason on a wrong key, a damaged object or a checksum mismatch.
 */
export async function unseal(path: string, dest: string, objectKey: string, key: Buffer | undefined, contentSha256: string): Promise<void> {
  const size = statSync(path).size;
  const head = Buffer.alloc(Math.min(size, MAGIC.length + IV_BYTES));
  const fd = openSync(path, 'r');
  const tag = Buffer.alloc(TAG_BYTES);
  try {
    readSync(fd, head, 0, head.length, 0);
    if (size >= TAG_BYTES) readSync(fd, tag, 0, TAG_BYTES, size - TAG_BYTES);
  } finally {
    closeSync(fd);
  }
  const encrypted = head.subarray(0, MAGIC.length).equals(MAGIC);
  if (encrypted && key === undefined) throw new Error(`${objectKey} is encrypted: set BACKUP_ENCRYPTION_KEY to the key the backup was made with`);
  if (!encrypted && key !== undefined) throw new Error(`${objectKey} is not encrypted, but BACKUP_ENCRYPTION_KEY is set: it was not made by this installation`);
  const content = meter();
  try {
    if (encrypted) {
      if (size < MAGIC.length + IV_BYTES + TAG_BYTES) throw new Error('too short');
      const decipher = createDecipheriv('aes-256-gcm', key!, head.subarray(MAGIC.length, MAGIC.length + IV_BYTES));
      decipher.setAAD(Buffer.from(objectKey));
      decipher.setAuthTag(tag);
      await pipeline(createReadStream(path, { start: MAGIC.length + IV_BYTES, end: size - TAG_BYTES - 1 }), decipher, createGunzip(), content, createWriteStream(dest));
    } else {
      await pipeline(createReadStream(path), createGunzip(), content, createWriteStream(dest));
    }
  } catch (err) {
    const reason = (err as Error).message;
    if (/unable to authenticate|auth/i.test(reason)) throw new Error(`${objectKey} does not decrypt with this key (wrong BACKUP_ENCRYPTION_KEY, or the object was altered)`);
    if ((err as NodeJS.ErrnoException).code === 'ENOSPC') throw err; // the disk is full, the object may be fine
    throw new Error(`${objectKey} is damaged: ${reason}`);
  }
  if (content.sha256() !== contentSha256) throw new Error(`${objectKey} decoded to different content than was backed up (checksum mismatch)`);
}
