// Serves the owner's PWA (admin-pwa/, plain files, no build step) under /admin/: read once at
// start, compressed, with ETags; index.html gets the locale and currency, sw.js a version that
// changes with the files (so phones pick up an upgrade). PNG icons are drawn here, at start.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, crc32, deflateSync, gzipSync } from 'node:zlib';
import type { Reply } from '../http/reply.ts';
import type { Route } from '../http/server.ts';

const DIR = fileURLToPath(new URL('../../admin-pwa/', import.meta.url));
const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.webmanifest': 'application/manifest+json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};
/** No inline script, no third party, no framing. The config block is JSON, not script. */
const SECURITY_HEADERS = {
  'Content-Security-Policy': "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; worker-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
};

interface Asset {
  type: string;
  body: Buffer;
  gzip: Buffer;
  brotli: Buffer;
  etag: string;
}

export interface PwaConfig {
  locale: string;
  currency: string;
  timeZone: string;
}

export function loadPwa(config: PwaConfig): Map<string, Asset> {
  const raw = new Map<string, Buffer>();
  for (const name of readdirSync(DIR)) raw.set(`/admin/${name}`, readFileSync(join(DIR, name)));
  raw.set('/admin/icon-192.png', iconPng(192));
  raw.set('/admin/icon-512.png', iconPng(512));
  const version = createHash('sha256');
  for (const [path, body] of [...raw].sort()) version.update(path).update(body);
  const json = JSON.stringify({ locale: config.locale, currency: config.currency, timeZone: config.timeZone }).replace(/</g, '\\u003c');
  raw.set('/admin/index.html', Buffer.from(raw.get('/admin/index.html')!.toString().replace('__CONFIG__', json).replace('lang="en"', `lang="${config.locale.split('-')[0]}"`)));
  raw.set('/admin/sw.js', Buffer.from(raw.get('/admin/sw.js')!.toString().replace('__VERSION__', version.digest('hex').slice(0, 12))));
  const assets = new Map<string, Asset>();
  for (const [path, body] of raw) {
    assets.set(path, {
      type: TYPES[extname(path)] ?? 'application/octet-stream',
      body,
      gzip: gzipSync(body, { level: 9 }),
      brotli: brotliCompressSync(body),
      etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 16)}"`,
    });
  }
  assets.set('/admin/', assets.get('/admin/index.html')!);
  return assets;
}

export function pwaRoutes(assets: Map<string, Asset>): Route[] {
  return [
    { method: 'get', path: '/admin', handler: () => ({ status: 301, headers: { Location: '/admin/' } }) },
    {
      method: 'get',
      path: '/admin/*',
      handler(req): Reply {
        const asset = assets.get(req.path);
        if (!asset) return { status: 404, headers: { 'Content-Type': 'text/plain; charset=utf-8', ...SECURITY_HEADERS }, body: 'Not found' };
        const headers: Record<string, string> = { 'Content-Type': asset.type, 'Cache-Control': 'no-cache', ETag: asset.etag, Vary: 'Accept-Encoding', ...SECURITY_HEADERS };
        if (req.path.endsWith('/sw.js')) headers['Service-Worker-Allowed'] = '/admin/';
        if (req.headers['if-none-match'] === asset.etag) return { status: 304, headers };
        if (asset.type.startsWith('image/png')) return { status: 200, headers, body: asset.body };
        if (/\bbr\b/.test(req.headers['accept-encoding'])) return { status: 200, headers: { ...headers, 'Content-Encoding': 'br' }, body: asset.brotli };
        if (/\bgzip\b/.test(req.headers['accept-encoding'])) return { status: 200, headers: { ...headers, 'Content-Encoding': 'gzip' }, body: asset.gzip };
        return { status: 200, headers, body: asset.body };
      },
    },
  ];
}

/** The app icon (a ring on the brand blue) as an RGBA PNG of `size` pixels. */
export function iconPng(size: number): Buffer {
  const rows: Buffer[] = [];
  const c = size / 2;
  for (let y = 0; y < size; y++) {
    const row = Buffer.alloc(1 + size * 4); // filter byte 0, then RGBA
    for (let x = 0; x < size; x++) {
      const r = Math.hypot(x + 0.5 - c, y + 0.5 - c) / size;
      const white = r < 0.293 && r > 0.137;
      row.set(white ? [255, 255, 255, 255] : [11, 61, 145, 255], 1 + x * 4);
    }
    rows.push(row);
  }
  const chunk = (type: string, data: Buffer) => {
    const head = Buffer.alloc(8);
    head.writeUInt32BE(data.length, 0);
    head.write(type, 4, 'ascii');
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])));
    return Buffer.concat([head, data, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr.set([8, 6, 0, 0, 0], 8); // 8-bit RGBA, no interlace
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(Buffer.concat(rows))), chunk('IEND', Buffer.alloc(0))]);
}
