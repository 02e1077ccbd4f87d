// The one interface backups have to object storage, on @aws-sdk/client-s3 (any S3-compatible
// store: AWS, Backblaze B2, Cloudflare R2, Hetzner, MinIO). Large files go up in multipart
// uploads (@aws-sdk/lib-storage) with progress; keys are relative to S3_PREFIX. Every request has
// a connect and an idle timeout (S3_TIMEOUT_MS), so a frozen endpoint fails the operation instead
// of hanging it; failures say which store, which operation and why, in words. The SDK (about
// 12 MB of memory) is loaded at the first operation, so a server that never backs up never loads it.
import { createReadStream, createWriteStream, statSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { Transform, type Readable } from 'node:stream';
import type { S3Client } from '@aws-sdk/client-s3';
import type { BackupConfig } from '../config.ts';

/** An S3 operation that failed; `missing` when the object (or bucket) does not exist. */
export class S3Failure extends Error {
  constructor(message: string, readonly missing: boolean, options: { cause: unknown }) {
    super(message, options);
  }
}

export interface StoredObject {
  key: string;
  size: number;
}

export interface ObjectStore {
  /** Where backups go, for messages: s3://bucket/prefix. */
  readonly location: string;
  putFile(key: string, path: string, onBytes?: (bytes: number) => void): Promise<void>;
  putText(key: string, text: string): Promise<void>;
  getToFile(key: string, path: string, onBytes?: (bytes: number) => void): Promise<void>;
  /** The object's text, or undefined when there is no such object. */
  getText(key: string): Promise<string | undefined>;
  list(prefix: string): Promise<StoredObject[]>;
  remove(keys: string[]): Promise<void>;
}

const PART_SIZE = 8 * 1024 * 1024;

export function s3Store(config: BackupConfig['s3']): ObjectStore {
  let sdk: Promise<{ client: S3Client; s3: typeof import('@aws-sdk/client-s3'); Upload: typeof import('@aws-sdk/lib-storage').Upload }> | undefined;
  const load = () =>
    (sdk ??= Promise.all([import('@aws-sdk/client-s3'), import('@aws-sdk/lib-storage')]).then(([s3, storage]) => ({
      s3,
      Upload: storage.Upload,
      client: new s3.S3Client({
        region: config.region,
        endpoint: config.endpoint,
        forcePathStyle: config.forcePathStyle,
        credentials: config.accessKeyId && config.secretAccessKey ? { accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey } : undefined,
        maxAttempts: 3, // the SDK's standard retry: throttling, 5xx and network errors, with backoff
        requestHandler: { connectionTimeout: Math.min(config.timeoutMs, 10_000), requestTimeout: config.timeoutMs },
      }),
    })));
  const full = (key: string) => config.prefix + key;
  const location = `s3://${config.bucket}/${config.prefix}`;
  const where = `${location}${config.endpoint ? ` at ${config.endpoint}` : ''}`;
  /** Runs one operation; a failure names the store and the cause in words. */
  const op = async <T>(what: string, run: (sdk: Awaited<ReturnType<typeof load>>) => Promise<T>): Promise<T> => {
    try {
      return await run(await load());
    } catch (err) {
      const { reason, missing } = s3Reason(err, config.bucket, config.timeoutMs);
      throw new S3Failure(`S3 ${what} (${where}): ${reason}`, missing, { cause: err });
    }
  };

  return {
    location,
    putFile: (key, path, onBytes) => op(`upload of ${key}`, async ({ client, Upload }) => {
      const size = statSync(path).size;
      const upload = new Upload({ client, params: { Bucket: config.bucket, Key: full(key), Body: createReadStream(path), ContentLength: size }, partSize: PART_SIZE, queueSize: 2 });
      upload.on('httpUploadProgress', (p) => onBytes?.(p.loaded ?? 0));
      await upload.done();
    }),
    putText: (key, text) => op(`upload of ${key}`, async ({ client, s3 }) => {
      await client.send(new s3.PutObjectCommand({ Bucket: config.bucket, Key: full(key), Body: text, ContentType: 'application/json' }));
    }),
    getToFile: (key, path, onBytes) => op(`download of ${key}`, async ({ client, s3 }) => {
      const res = await client.send(new s3.GetObjectCommand({ Bucket: config.bucket, Key: full(key) }));
      let loaded = 0;
      const count = new Transform({
        transform(chunk: Buffer, _enc, done) {
          loaded += chunk.length;
          onBytes?.(loaded);
          done(null, chunk);
        },
      });
      await pipeline(res.Body as Readable, count, createWriteStream(path));
    }),
    getText: (key) => op(`download of ${key}`, async ({ client, s3 }) => {
      try {
        const res = await client.send(new s3.GetObjectCommand({ Bucket: config.bucket, Key: full(key) }));
        return await res.Body!.transformToString('utf8');
      } catch (err) {
        if ((err as { name?: string }).name === 'NoSuchKey') return undefined;
        throw err;
      }
    }),
    list: (prefix) => op(`listing of ${prefix || 'the prefix'}`, async ({ client, s3 }) => {
      const objects: StoredObject[] = [];
      let token: string | undefined;
      do {
        const res = await client.send(new s3.ListObjectsV2Command({ Bucket: config.bucket, Prefix: full(prefix), ContinuationToken: token }));
        for (const o of res.Contents ?? []) objects.push({ key: o.Key!.slice(config.prefix.length), size: o.Size ?? 0 });
        token = res.IsTruncated ? res.NextContinuationToken : undefined;
      } while (token);
      return objects;
    }),
    remove: (keys) => op(`deletion of ${keys.length} objects`, async ({ client, s3 }) => {
      for (let i = 0; i < keys.length; i += 1000) {
        const res = await client.send(new s3.DeleteObjectsCommand({ Bucket: config.bucket, Delete: { Objects: keys.slice(i, i + 1000).map((k) => ({ Key: full(k) })), Quiet: true } }));
        if (res.Errors?.length) throw new Error(`could not delete ${res.Errors.length} object(s): ${res.Errors[0]!.Key} ${res.Errors[0]!.Message ?? ''}`);
      }
    }),
  };
}

/** What went wrong with an S3 request, in words an admin can act on. */
function s3Reason(err: unknown, bucket: string, timeoutMs: number): { reason: string; missing: boolean } {
  const e = err as { name?: string; code?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  const code = e.code ?? e.name ?? '';
  if (code === 'NoSuchKey' || code === 'NotFound') return { reason: 'the object is missing', missing: true };
  if (code === 'NoSuchBucket') return { reason: `the bucket ${bucket} does not exist (check S3_BUCKET and S3_REGION)`, missing: true };
  if (['InvalidAccessKeyId', 'SignatureDoesNotMatch', 'AccessDenied', 'Forbidden'].includes(code) || e.$metadata?.httpStatusCode === 403) return { reason: `access refused (${code || 403}): check S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY and the key's rights on the bucket`, missing: false };
  if (code === 'ENOSPC') return { reason: 'the local disk is full', missing: false };
  if (code === 'ECONNREFUSED') return { reason: 'connection refused: is S3_ENDPOINT right, and the store up?', missing: false };
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return { reason: 'the endpoint\'s host name does not resolve (check S3_ENDPOINT)', missing: false };
  if (code === 'TimeoutError' || code === 'RequestTimeout' || code === 'ETIMEDOUT' || /timed? ?out/i.test(e.message ?? '')) return { reason: `no answer within ${Math.round(timeoutMs / 1000)} s (S3_TIMEOUT_MS): the store is unreachable or stalled`, missing: false };
  return { reason: (e.message ?? String(err)).split('\n', 1)[0]!, missing: false };
}
