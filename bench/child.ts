// Processes a benchmark starts: pinned to a core, in a work directory, killed when the bench
// exits; resolved once a line of their output says they are ready.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SERVER_NODE_FLAGS } from '../test/support/harness.ts';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
const children: ChildProcess[] = [];
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

/**
 * Runs `script` (a path under the repository, then its arguments) on `core`: the server as it
 * ships (scripts/start.mjs, plain JavaScript, with the node options and MALLOC_ARENA_MAX=2 that npm
 * start, the Dockerfile and the systemd unit give it), anything else through tsx. `ready`'s first group is the port.
 */
export function startPinned(core: string, script: string, args: string[], env: Record<string, string>, ready: RegExp, cwd: string): Promise<{ child: ChildProcess; port: number; output: string[] }> {
  const loader = script.endsWith('.mjs') ? SERVER_NODE_FLAGS : ['--import', import.meta.resolve('tsx')];
  const child = spawn('taskset', ['-c', core, process.execPath, ...loader, join(ROOT, script), ...args], {
    cwd,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', MALLOC_ARENA_MAX: process.env.MALLOC_ARENA_MAX ?? '2', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  const output: string[] = [];
  return new Promise((resolve, reject) => {
    for (const stream of [child.stdout!, child.stderr!]) {
      createInterface({ input: stream }).on('line', (line) => {
        output.push(line);
        const m = ready.exec(line);
        if (m) resolve({ child, port: Number(m[1]), output });
      });
    }
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code}:\n${output.join('\n')}`)));
  });
}
