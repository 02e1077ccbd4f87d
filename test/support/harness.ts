// Test harness: runs the real server (and the stand-in ClickHouse server) as child processes on
// free ports with temporary data directories, and reads results back over HTTP or from ClickHouse.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** The node options the server runs with, as `npm start` gives them (the Dockerfile and the systemd unit repeat them; test/deploy.test.ts checks). */
export const SERVER_NODE_FLAGS: string[] = /exec node (.*?) ?scripts\/start\.mjs/.exec((JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: { start: string } }).scripts.start)![1]!.split(' ').filter(Boolean);
export const ADMIN_TOKEN = 'test-admin-token-0123456789';
export const IPHONE_UA =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1';
export const DESKTOP_UA =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `lc-${prefix}-`));
}

/**
 * Runs statements on an embedded data directory in a child process (this process may already hold
 * another one): `{sql}` returns its JSONEachRow text, `{insert, rows}` appends JSONEachRow rows.
 */
export async function clickhouseIn(dataDir: string, steps: Array<{ sql: string } | { insert: string; rows: string }>): Promise<string[]> {
  const proc = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), join(ROOT, 'test/support/chdb-child.ts'), dataDir], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stdout!.on('data', (c) => (out += c));
  proc.stderr!.on('data', (c) => (err += c));
  proc.stdin!.end(JSON.stringify(steps));
  const code = await new Promise<number | null>((resolve) => proc.once('exit', resolve));
  if (code !== 0) throw new Error(`ClickHouse on ${dataDir} failed (${code}): ${err}`);
  return JSON.parse(out) as string[];
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

interface Child {
  process: ChildProcess;
  output: string[];
  exited: Promise<number | null>;
}

function spawnChild(script: string, args: string[], env: Record<string, string>, ready: RegExp, what: string): Promise<{ child: Child; match: RegExpExecArray }> {
  // cwd is a fresh directory so a developer's .env in the repo cannot leak into a test.
  // TypeScript through tsx; the server as it ships, through scripts/start.mjs (plain JavaScript).
  const loader = script.endsWith('.mjs') ? SERVER_NODE_FLAGS : ['--import', import.meta.resolve('tsx')];
  const proc = spawn(process.execPath, [...loader, join(ROOT, script), ...args], {
    cwd: tempDir('cwd'),
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const child = { process: proc, output, exited };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} did not start in 60 s:\n${output.join('\n')}`)), 60_000);
    for (const stream of [proc.stdout!, proc.stderr!]) {
      createInterface({ input: stream }).on('line', (line) => {
        output.push(line);
        const match = ready.exec(line);
        if (match) {
          clearTimeout(timer);
          resolve({ child, match });
        }
      });
    }
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited with ${code} before it was ready:\n${output.join('\n')}`));
    });
  });
}

export interface RunningServer {
  url: string;
  port: number;
  dataDir: string;
  output: string[];
  /** Sends a signal and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  exited: Promise<number | null>;
}

export const NO_RATE_LIMITS = { RATE_LIMIT_COLLECT: '0', RATE_LIMIT_LEAD: '0', RATE_LIMIT_HOOKS: '0', RATE_LIMIT_LOGIN: '0', RATE_LIMIT_GLOBAL: '0' };

export async function startServer(env: Record<string, string> = {}): Promise<RunningServer> {
  const dataDir = env.DATA_DIR ?? tempDir('data');
  const { child, match } = await spawnChild(
    'scripts/start.mjs',
    [],
    // Every test client is 127.0.0.1: rate limits are off unless a test sets them (test/abuse.test.ts does).
    // The connections check and the spend sync run only when a test asks (their own runs would call the stand-ins).
    { PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, ADMIN_TOKEN, LOG_LEVEL: 'info', CONNECTIONS_CHECK_DELAY_MS: '0', SPEND_SYNC_MINUTES: '0', ...NO_RATE_LIMITS, ...env },
    /"port":(\d+),"msg":"listening"/,
    'server',
  );
  const port = Number(match[1]);
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    dataDir,
    output: child.output,
    exited: child.exited,
    async stop(signal = 'SIGTERM') {
      if (child.process.exitCode === null && child.process.signalCode === null) child.process.kill(signal);
      return child.exited;
    },
  };
}

/** Runs one of our scripts (scripts/*.ts) to the end, in a fresh cwd with only `env`. */
export async function runScript(script: string, args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const proc = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), join(ROOT, 'scripts', script), ...args], {
    cwd: tempDir('cwd'),
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', HOST: '127.0.0.1', ADMIN_TOKEN, LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  proc.stdout!.on('data', (c) => (stdout += c));
  proc.stderr!.on('data', (c) => (stderr += c));
  const code = await new Promise<number | null>((resolve) => proc.once('exit', resolve));
  return { code, stdout, stderr };
}

export interface ClickHouseUnderTest {
  url: string;
  user: string;
  password: string;
  stop(): Promise<void>;
}

/** A real ClickHouse server from CLICKHOUSE_TEST_URL, or the chdb-backed stand-in. */
export async function startClickHouseServer(): Promise<ClickHouseUnderTest> {
  const external = process.env.CLICKHOUSE_TEST_URL;
  if (external) {
    return {
      url: external,
      user: process.env.CLICKHOUSE_TEST_USER ?? 'default',
      password: process.env.CLICKHOUSE_TEST_PASSWORD ?? '',
      stop: async () => undefined,
    };
  }
  const dir = tempDir('chhttp');
  const user = 'lc_test';
  const password = 'secret-pass';
  const { child, match } = await spawnChild('test/support/clickhouse-http.ts', [dir, user, password], {}, /^listening (\d+)$/, 'ClickHouse stand-in');
  return {
    url: `http://127.0.0.1:${match[1]}`,
    user,
    password,
    async stop() {
      child.process.kill('SIGTERM');
      await child.exited;
      removeDir(dir);
    },
  };
}

export function send(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'text/plain;charset=UTF-8', 'User-Agent': IPHONE_UA, ...headers },
    body: typeof body === 'string' ? body : body instanceof Buffer ? new Uint8Array(body) : JSON.stringify(body),
  });
}

export async function adminGet<T>(server: RunningServer, path: string): Promise<T> {
  const res = await fetch(server.url + path, { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } });
  if (res.status !== 200) throw new Error(`GET ${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

/** Polls until `check` returns a value (not undefined), or fails after `ms`. */
export async function eventually<T>(check: () => Promise<T | undefined>, ms = 10_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}

/** Reads rows straight from an embedded data directory (the server must be stopped: one process per directory). */
export async function queryEmbedded<T>(dataDir: string, sql: string): Promise<T[]> {
  const { Session } = await import('chdb');
  const session = new Session(join(dataDir, 'clickhouse'));
  try {
    const text = (await session.queryAsync(sql, { format: 'JSONEachRow' })).text();
    return text === '' ? [] : text.trimEnd().split('\n').map((l) => JSON.parse(l) as T);
  } finally {
    session.close();
  }
}

/** This month as a Turkish date shows it in `timeZone` ("Ara 2026"): tests that read dates stay true next month. */
export const monthIn = (timeZone: string): string => new Intl.DateTimeFormat('tr-TR', { month: 'short', year: 'numeric', timeZone }).format(Date.now());
