// Loads uWebSockets.js. npm has no package under upstream's name, so we try two republished
// builds: upstream v20.57 (needs glibc >= 2.38: Debian 13, Ubuntu 24.04, node:24-trixie images)
// and, where that cannot load, v20.30 (Node 20 only, glibc >= 2.34). See ../shared/design/environment.md.
import { createRequire } from 'node:module';
import type * as UWS from '@btc-vision/uwebsockets.js';

export type Uws = typeof UWS;
export type { HttpRequest, HttpResponse, TemplatedApp, us_listen_socket } from '@btc-vision/uwebsockets.js';

export interface LoadedUws {
  uws: Uws;
  build: string;
  /** Why each preferred build did not load, for the log. */
  skipped: string[];
}

const BUILDS = [
  { pkg: '@btc-vision/uwebsockets.js', build: 'uWebSockets.js v20.57.0 (upstream build)' },
  // This package silently swaps in a slow pure-JS fallback when its binary fails; we require the
  // binary itself so that "loaded" always means the native server.
  {
    pkg: '@trufflesuite/uws-js-unofficial',
    build: 'uWebSockets.js v20.30.0 (trufflesuite build)',
    entry: `@trufflesuite/uws-js-unofficial/binaries/uws_${process.platform}_${process.arch}_${process.versions.modules}.node`,
  },
];

export class UwsLoadError extends Error {}

export function loadUws(only?: string): LoadedUws {
  const require = createRequire(import.meta.url);
  const skipped: string[] = [];
  for (const { pkg, build, entry } of BUILDS) {
    if (only !== undefined && only !== pkg) continue;
    try {
      const uws = require(entry ?? pkg) as Uws;
      if (typeof uws.App !== 'function') throw new Error('module has no App()');
      return { uws, build, skipped };
    } catch (err) {
      skipped.push(`${pkg}: ${firstLine(err)}`);
    }
  }
  throw new UwsLoadError(
    `no uWebSockets.js build loads on this machine (Node ${process.version}, ${process.platform}-${process.arch}).\n` +
      `  ${skipped.join('\n  ')}\n` +
      'Use Node 20 on glibc >= 2.34, or Node 20/22/24/25 on glibc >= 2.38 (Debian 13, Ubuntu 24.04, the node:24-trixie image), then npm install again.',
  );
}

function firstLine(err: unknown): string {
  // uWS puts the real cause (e.g. "GLIBC_2.38' not found") after a long preamble: prefer that line.
  const lines = (err instanceof Error ? err.message : String(err)).split('\n').map((l) => l.trim()).filter(Boolean);
  const cause = lines.find((l) => /GLIBC|not found|cannot open|invalid ELF/i.test(l)) ?? lines[0] ?? 'unknown error';
  return cause.slice(0, 300);
}
