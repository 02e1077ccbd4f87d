// A local Web Push service for tests, over HTTPS as web-push requires. It checks each push the way
// a real push service and browser would: the VAPID JWT (RFC 8292: ES256, `aud` = the endpoint's
// origin, `exp` at most 24 h ahead, `sub` a mailto: or https: URL, `k` the signing key), and the
// payload decrypted with the subscription's private key (RFC 8291, aes128gcm content coding of
// RFC 8188), written here with Node's crypto rather than the library under test.
import { createECDH, createDecipheriv, createPublicKey, hkdfSync, randomBytes, verify, type ECDH } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import { join } from 'node:path';

export interface ReceivedPush {
  at: number;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** A browser's side of a subscription: its ECDH key pair and auth secret. */
export interface BrowserKeys {
  ecdh: ECDH;
  auth: Buffer;
  p256dh: string;
  authText: string;
}

export function browserKeys(): BrowserKeys {
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  const auth = randomBytes(16);
  return { ecdh, auth, p256dh: ecdh.getPublicKey().toString('base64url'), authText: auth.toString('base64url') };
}

/** A self-signed certificate for 127.0.0.1; the server process trusts it through NODE_EXTRA_CA_CERTS. */
export function selfSignedCert(dir: string): { cert: string; key: string } {
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  return { cert, key };
}

export async function startPushService(tls: { cert: string; key: string }) {
  const received: ReceivedPush[] = [];
  const statusFor = new Map<string, number>();
  const server = createServer({ cert: readFileSync(tls.cert), key: readFileSync(tls.key) }, async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    received.push({ at: Date.now(), path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) });
    const status = statusFor.get(req.url ?? '') ?? 201;
    res.writeHead(status, status === 201 ? { Location: `${req.url}/message/${received.length}` } : {});
    res.end(status === 410 ? 'push subscription has unsubscribed or expired.' : '');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const origin = `https://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  return {
    origin,
    received,
    /** Makes pushes to this path answer with `status` (e.g. 410 Gone). */
    answer(path: string, status: number) {
      statusFor.set(path, status);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface VapidClaims {
  aud: string;
  exp: number;
  sub: string;
}

/** Checks the Authorization header of a push (RFC 8292 "vapid" scheme); returns the claims and key. */
export function verifyVapid(push: ReceivedPush): { claims: VapidClaims; publicKey: string } {
  const header = String(push.headers.authorization ?? '');
  const m = /^vapid t=([^,\s]+),\s*k=([A-Za-z0-9_-]+)$/.exec(header);
  if (!m) throw new Error(`not a vapid Authorization header: ${header}`);
  const [token, k] = [m[1]!, m[2]!];
  const [h, p, s] = token.split('.') as [string, string, string];
  const jose = JSON.parse(Buffer.from(h, 'base64url').toString()) as { alg: string; typ: string };
  if (jose.alg !== 'ES256') throw new Error(`JWT alg ${jose.alg}, expected ES256`);
  const point = Buffer.from(k, 'base64url');
  if (point.length !== 65 || point[0] !== 4) throw new Error('k is not an uncompressed P-256 point');
  const key = createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: point.subarray(1, 33).toString('base64url'), y: point.subarray(33).toString('base64url') }, format: 'jwk' });
  const valid = verify('sha256', Buffer.from(`${h}.${p}`), { key, dsaEncoding: 'ieee-p1363' }, Buffer.from(s, 'base64url'));
  if (!valid) throw new Error('JWT signature does not verify with k');
  return { claims: JSON.parse(Buffer.from(p, 'base64url').toString()) as VapidClaims, publicKey: k };
}

/** Decrypts an aes128gcm push body (RFC 8291 §3.4, RFC 8188 §2) as the browser would. */
export function decryptPush(body: Buffer, browser: BrowserKeys): string {
  const salt = body.subarray(0, 16);
  const recordSize = body.readUInt32BE(16);
  const idLength = body[20]!;
  const serverPublic = body.subarray(21, 21 + idLength);
  const ciphertext = body.subarray(21 + idLength);
  if (ciphertext.length > recordSize) throw new Error('more than one record: not what a push payload should be');
  const ecdhSecret = browser.ecdh.computeSecret(serverPublic);
  const keyInfo = Buffer.concat([Buffer.from('WebPush: info\0'), browser.ecdh.getPublicKey(), serverPublic]);
  const ikm = Buffer.from(hkdfSync('sha256', ecdhSecret, browser.auth, keyInfo, 32));
  const cek = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: aes128gcm\0'), 16));
  const nonce = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: nonce\0'), 12));
  const decipher = createDecipheriv('aes-128-gcm', cek, nonce);
  decipher.setAuthTag(ciphertext.subarray(ciphertext.length - 16));
  const padded = Buffer.concat([decipher.update(ciphertext.subarray(0, ciphertext.length - 16)), decipher.final()]);
  let end = padded.length - 1;
  while (end >= 0 && padded[end] === 0) end--;
  if (padded[end] !== 2) throw new Error('missing the last-record delimiter (0x02)');
  return padded.subarray(0, end).toString('utf8');
}
