// The one interface backups have to object storage, on @aws-sdk/client-s3 (any S3-compatible
// store: AWS, Backblaze B2, Cloudflare R2, Hetzner, MinIO). Large files go up in multipart
// uploads (@aws-sdk/lib-storage) with progress; keys are relative to S3_PREFIX.
import { createReadStream, createWriteStream, statSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { Transform, type Readable } from 'node:stream';
import { DeleteObjectsCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { BackupConfig } from '../config.ts';

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
  const client = new S3Client({
    region: config.region,
    endpoint: config.endpoint,
    forcePathStyle: config.forcePathStyle,
    credentials: config.accessKeyId && config.secretAccessKey ? { accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey } : undefined,
    maxAttempts: 5, // the SDK's standard retry: throttling, 5xx and network errors, with backoff
  });
  const full = (key: string) => config.prefix + key;

  return {
    location: `s3://${config.bucket}/${config.prefix}`,
    async putFile(key, path, onBytes) {
      const size = statSync(path).size;
      const upload = new Upload({ client, params: { Bucket: config.bucket, Key: full(key), Body: createReadStream(path), ContentLength: size }, partSize: PART_SIZE, queueSize: 2 });
      upload.on('httpUploadProgress', (p) => onBytes?.(p.loaded ?? 0));
      await upload.done();
    },
    async putText(key, text) {
      await client.send(new PutObjectCommand({ Bucket: config.bucket, Key: full(key), Body: text, ContentType: 'application/json' }));
    },
    async getToFile(key, path, onBytes) {
      const res = await client.send(new GetObjectCommand({ Bucket: config.bucket, Key: full(key) }));
      let loaded = 0;
      const count = new Transform({
        transform(chunk: Buffer, _enc, done) {
          loaded += chunk.length;
          onBytes?.(loaded);
          done(null, chunk);
        },
      });
      await pipeline(res.Body as Readable, count, createWriteStream(path));
    },
    async getText(key) {
      try {
        const res = await client.send(new GetObjectCommand({ Bucket: config.bucket, Key: full(key) }));
        return await res.Body!.transformToString('utf8');
      } catch (err) {
        if ((err as { name?: string }).name === 'NoSuchKey') return undefined;
        throw err;
      }
    },
    async list(prefix) {
      const objects: StoredObject[] = [];
      let token: string | undefined;
      do {
        const res = await client.send(new ListObjectsV2Command({ Bucket: config.bucket, Prefix: full(prefix), ContinuationToken: token }));
        for (const o of res.Contents ?? []) objects.push({ key: o.Key!.slice(config.prefix.length), size: o.Size ?? 0 });
        token = res.IsTruncated ? res.NextContinuationToken : undefined;
      } while (token);
      return objects;
    },
    async remove(keys) {
      for (let i = 0; i < keys.length; i += 1000) {
        const res = await client.send(new DeleteObjectsCommand({ Bucket: config.bucket, Delete: { Objects: keys.slice(i, i + 1000).map((k) => ({ Key: full(k) })), Quiet: true } }));
        if (res.Errors?.length) throw new Error(`could not delete ${res.Errors.length} object(s): ${res.Errors[0]!.Key} ${res.Errors[0]!.Message ?? ''}`);
      }
    },
  };
}
