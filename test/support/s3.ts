// A local S3 for backup tests: s3rver (npm) speaks the S3 REST protocol (SigV4 checked against
// its default S3RVER/S3RVER credentials), stores objects in a temporary directory.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import S3rver from 's3rver';
import { DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { removeDir, tempDir } from './harness.ts';

export const S3_BUCKET = 'lc-backups';
const CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

export async function startS3() {
  const directory = tempDir('s3');
  const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory, configureBuckets: [{ name: S3_BUCKET }] });
  const { port } = (await server.run()) as { port: number };
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new S3Client({ region: 'us-east-1', endpoint, forcePathStyle: true, credentials: CREDENTIALS });
  const prefix = 'shop/';
  return {
    endpoint,
    /** The S3_* settings for a server or script using this store. */
    env: { S3_ENDPOINT: endpoint, S3_REGION: 'us-east-1', S3_BUCKET, S3_PREFIX: prefix, S3_ACCESS_KEY_ID: CREDENTIALS.accessKeyId, S3_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey, S3_FORCE_PATH_STYLE: 'true' },
    async keys(under = ''): Promise<string[]> {
      const res = await client.send(new ListObjectsV2Command({ Bucket: S3_BUCKET, Prefix: prefix + under }));
      return (res.Contents ?? []).map((o) => o.Key!.slice(prefix.length)).sort();
    },
    async get(key: string): Promise<Buffer> {
      const res = await client.send(new GetObjectCommand({ Bucket: S3_BUCKET, Key: prefix + key }));
      return Buffer.from(await res.Body!.transformToByteArray());
    },
    async put(key: string, body: Buffer | string): Promise<void> {
      await client.send(new PutObjectCommand({ Bucket: S3_BUCKET, Key: prefix + key, Body: body }));
    },
    async remove(key: string): Promise<void> {
      await client.send(new DeleteObjectCommand({ Bucket: S3_BUCKET, Key: prefix + key }));
    },
    async close(): Promise<void> {
      await server.close();
      removeDir(directory);
    },
  };
}

/** s3rver in a child process (test/support/s3-child.ts): `freeze()` stops it with SIGSTOP, `thaw()` resumes it. */
export async function startS3Process() {
  const directory = tempDir('s3p');
  const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), fileURLToPath(new URL('./s3-child.ts', import.meta.url)), directory], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const m = /^listening (\d+)$/.exec(line);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`s3rver exited with ${code}`)));
  });
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    env: { S3_ENDPOINT: endpoint, S3_REGION: 'us-east-1', S3_BUCKET, S3_PREFIX: 'shop/', S3_ACCESS_KEY_ID: CREDENTIALS.accessKeyId, S3_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey, S3_FORCE_PATH_STYLE: 'true' },
    freeze: () => child.kill('SIGSTOP'),
    thaw: () => child.kill('SIGCONT'),
    async close(): Promise<void> {
      child.kill('SIGCONT');
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
      removeDir(directory);
    },
  };
}
