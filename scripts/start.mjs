// How the server runs (npm start, the Dockerfile's CMD, the systemd unit): src/ is bundled by
// esbuild (a fifth of a second) into a temporary directory and run in this process as plain
// JavaScript. A TypeScript loader at run time (tsx) costs ~40 MB of memory for the life of the
// process; this costs nothing after start. Plain JavaScript on purpose: it runs before anything
// can read TypeScript.
//   - Files the code finds next to itself (the PWA, the tracker's source, package.json) keep
//     their place: each file's import.meta.url stays its own.
//   - Packages stay outside the bundle, imported by their absolute paths, so the bundle may live
//     anywhere (/tmp; the systemd unit makes the app directory read-only).
//   - Lazy imports stay lazy (code splitting): a ClickHouse server install never loads chdb.
//   - Not minified, no source maps (they would cost ~25 MB): a stack trace names the functions
//     of src/ and lines of the bundle.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const src = join(root, 'src');
// One directory per process, removed at exit; those of processes that died without exiting
// (kill -9, a power cut) are removed by the next start.
for (const name of readdirSync(tmpdir())) {
  const pid = Number(/^lean-capture-(\d+)-/.exec(name)?.[1]);
  if (pid && !alive(pid)) rmSync(join(tmpdir(), name), { recursive: true, force: true });
}
const out = mkdtempSync(join(tmpdir(), `lean-capture-${process.pid}-`));
process.on('exit', () => rmSync(out, { recursive: true, force: true }));

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM'; // someone else's process
  }
}

// esbuild keeps a worker thread and a child process for its synchronous API (the tracker is
// built with it at start) unless told not to: the server needs neither after start.
process.env.ESBUILD_WORKER_THREADS ??= '0';
const { build, stop } = await import('esbuild');
await build({
  entryPoints: [join(src, 'main.ts')],
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  outdir: out,
  logLevel: 'error',
  plugins: [
    {
      name: 'lean-capture',
      setup(b) {
        b.onResolve({ filter: /^[^./]/ }, async (args) => {
          if (args.pluginData === 'resolving' || args.path.startsWith('node:')) return undefined;
          const found = await b.resolve(args.path, { kind: args.kind, resolveDir: args.resolveDir, pluginData: 'resolving' });
          return found.errors.length > 0 ? { errors: found.errors } : { path: found.path, external: true };
        });
        b.onLoad({ filter: /\.ts$/ }, async (args) => ({
          contents: (await readFile(args.path, 'utf8')).replaceAll('import.meta.url', JSON.stringify(pathToFileURL(args.path).href)),
          loader: 'ts',
        }));
      },
    },
  ],
});
stop(); // esbuild's build service (a child process) is not needed any more
await import(pathToFileURL(join(out, 'main.js')).href);
