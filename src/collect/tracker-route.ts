// GET /t.js (the tracker every page loads) and GET /t-lead.js (what pages with a lead form, a
// tel: or a WhatsApp link load besides): minified by esbuild once at start, served with gzip or
// brotli when the client accepts them, a short max-age and an ETag (304 when unchanged). Browsers
// get fresh code within minutes of an upgrade, and revalidation costs a few bytes.
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { buildSync } from 'esbuild';
import type { Route } from '../http/server.ts';

const MAX_AGE_SECONDS = 300;

export interface Tracker {
  code: string;
  gzip: Buffer;
  brotli: Buffer;
  etag: string;
}

/** `part`: t (the core) or lead (forms, calls, WhatsApp). */
export function buildTracker(part: 't' | 'lead' = 't'): Tracker {
  const result = buildSync({
    entryPoints: [fileURLToPath(new URL(`../tracker/${part}.ts`, import.meta.url))],
    bundle: true,
    minify: true,
    // One expression statement with no top-level names: valid as a classic <script>.
    format: 'esm',
    target: 'es2020',
    write: false,
    legalComments: 'none',
    logLevel: 'silent',
  });
  const code = result.outputFiles[0]!.text;
  return {
    code,
    gzip: gzipSync(code, { level: 9 }),
    brotli: brotliCompressSync(code, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }),
    etag: `"${createHash('sha256').update(code).digest('base64url').slice(0, 16)}"`,
  };
}

export function trackerRoutes(core: Tracker, lead: Tracker): Route[] {
  return [trackerRoute('/t.js', core), trackerRoute('/t-lead.js', lead)];
}

function trackerRoute(path: string, tracker: Tracker): Route {
  const headers = {
    'Content-Type': 'text/javascript; charset=utf-8',
    'Cache-Control': `public, max-age=${MAX_AGE_SECONDS}`,
    ETag: tracker.etag,
    Vary: 'Accept-Encoding',
  };
  return {
    method: 'get',
    path,
    handler(req) {
      if (req.headers['if-none-match'] === tracker.etag) return { status: 304, headers };
      const accepts = req.headers['accept-encoding'];
      if (/\bbr\b/.test(accepts)) return { status: 200, headers: { ...headers, 'Content-Encoding': 'br' }, body: tracker.brotli };
      if (/\bgzip\b/.test(accepts)) return { status: 200, headers: { ...headers, 'Content-Encoding': 'gzip' }, body: tracker.gzip };
      return { status: 200, headers, body: tracker.code };
    },
  };
}
