// `npm start` in a terminal: readable log lines (not JSON) and, on a first start, a short block
// with the data directory, the one-time setup link, the website tag and what to do next. Run
// under a pseudo-terminal (util-linux's script), as a person would see it.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { removeDir, SERVER_NODE_FLAGS, tempDir } from './support/harness.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

test('a first start in a terminal prints readable lines and the block of next steps', { timeout: 90_000 }, async () => {
  const dataDir = tempDir('tty');
  const command = `exec ${process.execPath} ${SERVER_NODE_FLAGS.join(' ')} ${join(ROOT, 'scripts/start.mjs')}`; // what npm start runs
  const child = spawn('script', ['-qefc', command, '/dev/null'], {
    cwd: tempDir('tty-cwd'),
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', TERM: 'dumb', PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, CONNECTIONS_CHECK_DELAY_MS: '0', SPEND_SYNC_MINUTES: '0', PUBLIC_ORIGIN: 'https://track.example.com' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (c) => (out += c));
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no first-start block in 60 s:\n${out}`)), 60_000);
      child.stdout!.on('data', () => {
        if (/Next: /.test(out)) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    const plain = out.replace(/\x1b\[[0-9;]*m/g, '');
    assert.doesNotMatch(plain, /\{"level":/, 'no JSON lines in a terminal');
    assert.match(plain, /\d\d:\d\d:\d\d\] INFO: listening/);
    assert.match(plain, new RegExp(`Data: +${dataDir.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}`));
    assert.match(plain, /Owner's app: https:\/\/track\.example\.com\/admin\/#\/setup\/[A-Za-z0-9_-]+/);
    assert.match(plain, /Website tag: <script defer src="https:\/\/track\.example\.com\/t\.js"><\/script>/);
    assert.match(plain, /npm run doctor/);
  } finally {
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
    removeDir(dataDir);
  }
});
