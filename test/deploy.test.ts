// The deployment files, checked with the tools their users run (no Docker engine here):
// docker-compose config, caddy validate, systemd-analyze verify, shellcheck; the ClickHouse
// low-memory configuration loaded by the real engine; scripts/geoip-update against a local
// MaxMind download service; and the server started exactly as the Dockerfile's CMD starts it.
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { copyFileSync, cpSync, existsSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { removeDir, runScript, SERVER_NODE_FLAGS, startServer, tempDir } from './support/harness.ts';
import { cityRecord, writeMmdb } from './support/mmdb.ts';
import { startS3 } from './support/s3.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const run = promisify(execFile);

/** Runs a tool; a missing one fails the test saying how to install it (as .ci/run does). */
async function tool(name: string, args: string[], options: { cwd?: string; env?: Record<string, string> } = {}): Promise<{ code: number; out: string }> {
  try {
    const { stdout, stderr } = await run(name, args, { cwd: options.cwd ?? ROOT, env: { ...process.env, ...options.env }, maxBuffer: 16 << 20 });
    return { code: 0, out: stdout + stderr };
  } catch (err) {
    const e = err as { code?: unknown; stdout?: string; stderr?: string };
    if (e.code === 'ENOENT') assert.fail(`${name} is not installed: apt-get install -y ${name === 'systemd-analyze' ? 'systemd' : name} (.ci/run installs it)`);
    return { code: typeof e.code === 'number' ? e.code : 1, out: (e.stdout ?? '') + (e.stderr ?? '') };
  }
}

/** Collects a started server's output lines into `lines`; resolves with its port once it logs "listening". */
function untilListening(child: ChildProcess, lines: string[]): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "listening" in 60 s:\n${lines.join('\n')}`)), 60_000);
    for (const stream of [child.stdout!, child.stderr!]) {
      createInterface({ input: stream }).on('line', (line) => {
        lines.push(line);
        const m = /"port":(\d+),"msg":"listening"/.exec(line);
        if (m) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      });
    }
    child.once('exit', (code) => reject(new Error(`exited ${code}:\n${lines.join('\n')}`)));
  });
}

test('docker-compose.yml validates (docker-compose config) and wires the app to ClickHouse, GeoIP and Caddy; required settings are named when missing', async () => {
  const dir = tempDir('compose');
  try {
    copyFileSync(join(ROOT, 'docker-compose.yml'), join(dir, 'docker-compose.yml'));
    copyFileSync(join(ROOT, 'Dockerfile'), join(dir, 'Dockerfile'));
    cpSync(join(ROOT, 'deploy'), join(dir, 'deploy'), { recursive: true });
    // As docs/deploy.md has the admin do it: .env.example copied, then only the keys it asks for.
    writeFileSync(join(dir, '.env'), readFileSync(join(ROOT, '.env.example'), 'utf8') + '\nDOMAIN=track.example.com\nCLICKHOUSE_PASSWORD=s3cret-pass\nMAXMIND_ACCOUNT_ID=123456\nMAXMIND_LICENSE_KEY=abc\n');
    const { code, out } = await tool('docker-compose', ['config'], { cwd: dir });
    assert.equal(code, 0, out);
    const app = out.slice(out.indexOf('\n  app:'), out.indexOf('\n  caddy:') > out.indexOf('\n  app:') ? out.indexOf('\n  caddy:') : undefined);
    assert.match(app, /TRUST_PROXY: ['"]?1['"]?$/m, 'Caddy is the one proxy in front: its X-Forwarded-For is believed');
    assert.match(app, /HOST: ['"]?0\.0\.0\.0['"]?$/m);
    assert.match(app, /DATA_DIR: \/data$/m);
    const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
    assert.match(app, new RegExp(`image: lean-capture:server-${version.replace(/\./g, '\\.')}$`, 'm'), 'the image is tagged with the version, so a rollback is a tag');
    for (const service of ['app:', 'clickhouse:', 'geoipupdate:', 'caddy:']) assert.match(out, new RegExp(`^  ${service}`, 'm'));
    assert.match(out, /CLICKHOUSE_URL: http:\/\/clickhouse:8123/);
    assert.match(out, /PUBLIC_ORIGIN: https:\/\/track\.example\.com/);
    assert.match(out, /target: server/);
    assert.match(out, /image: clickhouse\/clickhouse-server:\d+\.\d+/);
    assert.match(out, /condition: service_healthy/);
    for (const file of ['config.d/low-memory.xml', 'users.d/low-memory.xml']) assert.ok(out.includes(`/etc/clickhouse-server/${file}:ro`) || out.includes(`/etc/clickhouse-server/${file}`), file);

    writeFileSync(join(dir, '.env'), 'CLICKHOUSE_PASSWORD=s3cret-pass\nMAXMIND_ACCOUNT_ID=1\nMAXMIND_LICENSE_KEY=k\n');
    const missing = await tool('docker-compose', ['config'], { cwd: dir });
    assert.notEqual(missing.code, 0);
    assert.match(missing.out, /set DOMAIN in \.env/);
  } finally {
    removeDir(dir);
  }
});

test('the Caddyfile validates (caddy validate)', async () => {
  const { code, out } = await tool('caddy', ['validate', '--config', join(ROOT, 'deploy/Caddyfile'), '--adapter', 'caddyfile'], { env: { DOMAIN: 'track.example.com', UPSTREAM: 'app:8080' } });
  assert.equal(code, 0, out);
  assert.match(out, /Valid configuration/);
});

test('the systemd units verify (systemd-analyze verify)', async () => {
  const dir = join(ROOT, 'deploy/systemd');
  const units = readdirSync(dir).filter((f) => /\.(service|timer)$/.test(f));
  assert.ok(units.includes('lean-capture.service') && units.includes('lean-capture-backup.timer'));
  const { code, out } = await tool('systemd-analyze', ['verify', '--man=false', ...units.map((u) => join(dir, u))]);
  assert.equal(code, 0, out);
  assert.equal(out.trim(), '', `no warnings:\n${out}`);
  const service = readFileSync(join(dir, 'lean-capture.service'), 'utf8');
  for (const line of ['NoNewPrivileges=true', 'ProtectSystem=strict', 'ReadWritePaths=/var/lib/lean-capture', 'PrivateTmp=true', 'MemoryMax=', 'Restart=on-failure']) assert.ok(service.includes(line), line);
});

test('every shell script passes shellcheck', async () => {
  const scripts = [join(ROOT, 'scripts/geoip-update'), join(ROOT, '.ci/run')];
  const { code, out } = await tool('shellcheck', scripts);
  assert.equal(code, 0, out);
});

test('the ClickHouse low-memory configuration loads in the real engine, and its profile names real settings', async () => {
  const dir = tempDir('chconfig');
  try {
    const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), join(ROOT, 'test/support/chdb-config.ts'), dir, join(ROOT, 'deploy/clickhouse/config.d/low-memory.xml'), join(ROOT, 'deploy/clickhouse/users.d/low-memory.xml')], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (err += c));
    const code = await new Promise((resolve) => child.once('exit', resolve));
    assert.equal(code, 0, err.slice(-2000));
    const result = JSON.parse(out) as { server: Record<string, string>; unknownProfileSettings: string[]; mergeTreeWorks: boolean };
    assert.equal(result.server.max_server_memory_usage, String(1536 * 1024 * 1024));
    assert.equal(result.server.mark_cache_size, String(128 * 1024 * 1024));
    assert.equal(result.server.background_pool_size, '4');
    assert.deepEqual(result.unknownProfileSettings, []);
    assert.equal(result.mergeTreeWorks, true, 'a MergeTree table accepts inserts with the pool thresholds');
  } finally {
    removeDir(dir);
  }
});

test('scripts/geoip-update downloads with the licence key, checks the SHA-256 and replaces the file atomically; a bad checksum changes nothing', async () => {
  const dir = tempDir('geoip');
  const mmdb = writeMmdb({ '81.214.0.0/16': cityRecord('TR', 'Istanbul', 'Istanbul') });
  // A GeoLite2 archive as MaxMind ships it: GeoLite2-City_<date>/GeoLite2-City.mmdb in a tar.gz.
  const archive = gzipSync(tar('GeoLite2-City_20261120/GeoLite2-City.mmdb', mmdb));
  let checksum = createHash('sha256').update(archive).digest('hex');
  const requests: string[] = [];
  const server = createServer((req, res) => {
    requests.push(`${req.url} ${req.headers.authorization ?? ''}`);
    if (req.headers.authorization !== `Basic ${Buffer.from('123456:licence-key').toString('base64')}`) return res.writeHead(401).end('Invalid credentials');
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname !== '/GeoLite2-City/download') return res.writeHead(404).end();
    if (url.searchParams.get('suffix') === 'tar.gz') return res.writeHead(200).end(archive);
    if (url.searchParams.get('suffix') === 'tar.gz.sha256') return res.writeHead(200).end(`${checksum}  GeoLite2-City_20261120.tar.gz\n`);
    res.writeHead(400).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const env = { MAXMIND_ACCOUNT_ID: '123456', MAXMIND_LICENSE_KEY: 'licence-key', MAXMIND_DOWNLOAD_URL: `http://127.0.0.1:${port}`, DATA_DIR: join(dir, 'data') };
  try {
    const ok = await tool(join(ROOT, 'scripts/geoip-update'), [], { cwd: dir, env });
    assert.equal(ok.code, 0, ok.out);
    const target = join(dir, 'data/GeoLite2-City.mmdb');
    assert.deepEqual(readFileSync(target), mmdb);
    assert.match(ok.out, /GeoLite2-City .* installed at .*GeoLite2-City\.mmdb/);
    assert.deepEqual(readdirSync(join(dir, 'data')), ['GeoLite2-City.mmdb'], 'no temporary files left');

    checksum = '0'.repeat(64);
    const before = statSync(target).mtimeMs;
    const bad = await tool(join(ROOT, 'scripts/geoip-update'), [], { cwd: dir, env });
    assert.equal(bad.code, 1);
    assert.match(bad.out, /checksum mismatch .* left as it was/);
    assert.equal(statSync(target).mtimeMs, before);
    assert.deepEqual(readdirSync(join(dir, 'data')), ['GeoLite2-City.mmdb']);

    const unauthorised = await tool(join(ROOT, 'scripts/geoip-update'), [], { cwd: dir, env: { ...env, MAXMIND_LICENSE_KEY: 'wrong' } });
    assert.notEqual(unauthorised.code, 0);
    assert.match(unauthorised.out, /401/);
  } finally {
    server.close();
    removeDir(dir);
  }
});

/** A one-file ustar archive. */
function tar(name: string, data: Buffer): Buffer {
  const header = Buffer.alloc(512);
  const field = (value: string, offset: number, length: number) => header.write(value, offset, length, 'ascii');
  field(name, 0, 100);
  field('0000644\0', 100, 8);
  field('0000000\0', 108, 8);
  field('0000000\0', 116, 8);
  field(data.length.toString(8).padStart(11, '0') + '\0', 124, 12);
  field(Math.floor(Date.now() / 1000).toString(8).padStart(11, '0') + '\0', 136, 12);
  field('        ', 148, 8);
  field('0', 156, 1);
  field('ustar\0', 257, 6);
  field('00', 263, 2);
  let sum = 0;
  for (const byte of header) sum += byte;
  field(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8);
  const padding = Buffer.alloc((512 - (data.length % 512)) % 512);
  return Buffer.concat([header, data, padding, Buffer.alloc(1024)]);
}

test("the server starts exactly as the Dockerfile's CMD runs it, with the image's environment, and answers /healthz", async () => {
  const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
  const cmd = JSON.parse(/^CMD (\[.*\])$/m.exec(dockerfile)![1]!) as string[];
  assert.deepEqual(cmd.slice(0, -1), ['node', ...SERVER_NODE_FLAGS], 'node runs with the options npm start gives it');
  assert.match(/^ENTRYPOINT (\[.*\])$/m.exec(dockerfile)![1]!, /tini/);
  // ENV lines of the shared stage: KEY=value pairs, continued with backslashes.
  const envBlock = /^ENV ((?:.*\\\n)*.*)$/m.exec(dockerfile)![1]!;
  const imageEnv = Object.fromEntries(envBlock.split(/\\\n/).flatMap((l) => l.trim().split(/\s+/)).filter(Boolean).map((kv) => kv.split('=') as [string, string]));
  assert.deepEqual(Object.keys(imageEnv).sort(), ['DATA_DIR', 'HOST', 'MALLOC_ARENA_MAX', 'NODE_ENV', 'PORT']);
  const dataDir = tempDir('docker-data');
  // The image's WORKDIR is the repository root; only the data directory and port are the test's.
  const child = spawn(cmd[0] === 'node' ? process.execPath : cmd[0]!, cmd.slice(1), {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', ...imageEnv, DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  try {
    const lines: string[] = [];
    const port = await untilListening(child, lines);
    const res = await fetch(`http://127.0.0.1:${port}/healthz`);
    assert.equal(res.status, 200);
    assert.ok(lines.some((l) => /uWebSockets\.js/.test(l)), 'the uWS build is logged at start');
    assert.ok(existsSync(join(dataDir, 'leads.db')));
  } finally {
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
    removeDir(dataDir);
  }
});

/** A checkout as docs/deploy.md lays it out (2B): the code in one directory, with .env beside it. */
function appDirectory(): string {
  const dir = tempDir('opt-lean-capture');
  for (const entry of ['package.json', 'tsconfig.json', 'src', 'scripts', 'admin-pwa', 'node_modules']) symlinkSync(join(ROOT, entry), join(dir, entry));
  return dir;
}

/** KEY=value lines of the first ```ini block after `heading` in docs/deploy.md, placeholders filled. */
function docsIni(heading: string): Record<string, string> {
  const docs = readFileSync(join(ROOT, 'docs/deploy.md'), 'utf8');
  const block = /```ini\n([\s\S]*?)```/.exec(docs.slice(docs.indexOf(heading)))![1]!;
  return Object.fromEntries(block.split('\n').map((l) => l.replace(/\s+#.*$/, '').trim()).filter((l) => /^[A-Z_]+=/.test(l)).map((l) => {
    const [key, ...rest] = l.split('=');
    const value = rest.join('=');
    return [key!, /^<.*>$/.test(value) ? randomBytes(24).toString('hex') : value];
  }));
}

test('bare VPS: the admin commands, run exactly as docs/deploy.md writes them from the app directory, reach the running server\'s data; a wrong directory is refused', async () => {
  const app = appDirectory();
  const varLib = tempDir('var-lib');
  const s3 = await startS3();
  const free = createServer();
  await new Promise<void>((r) => free.listen(0, '127.0.0.1', r));
  const port = (free.address() as { port: number }).port;
  await new Promise((r) => free.close(r));
  const ini = docsIni('## 2B. Bare VPS');
  assert.equal(ini.DATA_DIR, '/var/lib/lean-capture', 'the docs put DATA_DIR in .env');
  assert.equal(ini.TRUST_PROXY, '1');
  const settings = { ...ini, DATA_DIR: varLib, PORT: String(port), ...s3.env };
  writeFileSync(join(app, '.env'), readFileSync(join(ROOT, '.env.example'), 'utf8') + '\n' + Object.entries(settings).map(([k, v]) => `${k}=${v}`).join('\n') + '\n');

  // The service as lean-capture.service starts it: its ExecStart, in its WorkingDirectory, no other environment.
  const unit = readFileSync(join(ROOT, 'deploy/systemd/lean-capture.service'), 'utf8');
  assert.doesNotMatch(unit, /^Environment=DATA_DIR/m, 'DATA_DIR has one home: .env');
  const [node, ...args] = /^ExecStart=(.*)$/m.exec(unit)![1]!.split(' ');
  assert.equal(node, '/usr/bin/node');
  assert.deepEqual(args.slice(0, -1), SERVER_NODE_FLAGS, 'node runs with the options npm start gives it');
  const server = spawn(process.execPath, args, { cwd: app, env: { PATH: process.env.PATH ?? '', HOME: app, JOURNAL_STREAM: '8:12345' }, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  try {
    await untilListening(server, lines);
    const listening = lines.find((l) => l.includes('"msg":"listening"'))!;
    assert.match(listening, /^<6>\{/, 'journald sees the priority of each line');
    assert.match(listening, /"host":"127\.0\.0\.1"/, 'behind Caddy only loopback is served');
    assert.ok(lines.some((l) => l.startsWith('<4>{')), 'warnings are priority 4');
    for (const phone of ['+905321110001', '+905321110002']) {
      const res = await fetch(`http://127.0.0.1:${port}/lead`, { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-Forwarded-For': '81.214.10.20' }, body: JSON.stringify({ phone }) });
      assert.equal(res.status, 201);
    }
    server.kill('SIGHUP');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(server.exitCode, null, 'SIGHUP does not end the server');
    assert.ok(lines.some((l) => l.includes('SIGHUP')), 'and it says so');

    // The docs' lines, each run as written but for sudo (the test is the service user) and the path.
    const docs = readFileSync(join(ROOT, 'docs/deploy.md'), 'utf8');
    const block = /<!-- admin-commands[^>]*-->\n```sh\n([\s\S]*?)```/.exec(docs)![1]!.trim().split('\n');
    assert.equal(block[0], 'cd /opt/lean-capture');
    const password = 'harbour-violet-lantern-77';
    const outputs: string[] = [];
    for (const line of block.slice(1)) {
      const command = line.replace(/sudo -u lean-capture /g, '');
      const run = await tool('bash', ['-c', command], { cwd: app, env: { NEW_PASSWORD: password, HOME: app } });
      assert.equal(run.code, 0, `${line}\n${run.out}`);
      outputs.push(run.out);
    }
    assert.match(outputs[0]!, /^backup \d+T\d+Z: [\d,]+ events, 2 leads/m, 'the backup holds the server\'s leads');
    assert.match(outputs[1]!, / 2 leads /);
    const login = await fetch(`http://127.0.0.1:${port}/api/admin/session`, { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-LC-CSRF': '1' }, body: JSON.stringify({ password }) });
    assert.equal(login.status, 200, 'set-password changed the running server\'s owner');

    // From another directory, without the app's .env: refused, nothing created, no backup replaced.
    const elsewhere = tempDir('elsewhere');
    writeFileSync(join(elsewhere, '.env'), Object.entries(s3.env).map(([k, v]) => `${k}=${v}`).join('\n') + '\n');
    const wrong = await tool(process.execPath, ['--import', import.meta.resolve('tsx'), join(app, 'scripts/backup.ts')], { cwd: elsewhere, env: { HOME: app } });
    assert.notEqual(wrong.code, 0);
    assert.match(wrong.out, /holds no leads\.db, so it is not the server's DATA_DIR/);
    assert.equal(existsSync(join(elsewhere, 'data', 'leads.db')), false);
    removeDir(elsewhere);
  } finally {
    server.kill('SIGTERM');
    await new Promise((r) => (server.exitCode !== null ? r(null) : server.once('exit', r)));
    await s3.close();
    removeDir(app);
    removeDir(varLib);
  }
});

test('Caddy on a bare VPS: Debian\'s unit reads no environment file, our drop-in adds /etc/default/caddy, and the Caddyfile validates with what the docs write there', async () => {
  const debianUnit = '/lib/systemd/system/caddy.service';
  assert.ok(existsSync(debianUnit), 'Debian\'s caddy package is installed (.ci/run installs it)');
  assert.doesNotMatch(readFileSync(debianUnit, 'utf8'), /^EnvironmentFile=/m, 'the reason for the drop-in');
  const dropIn = readFileSync(join(ROOT, 'deploy/systemd/caddy.service.d/lean-capture.conf'), 'utf8');
  assert.match(dropIn, /^\[Service\]\nEnvironmentFile=\/etc\/default\/caddy$/m);
  const units = tempDir('units');
  try {
    copyFileSync(debianUnit, join(units, 'caddy.service'));
    cpSync(join(ROOT, 'deploy/systemd/caddy.service.d'), join(units, 'caddy.service.d'), { recursive: true });
    const verify = await tool('systemd-analyze', ['verify', '--man=false', join(units, 'caddy.service')], { env: { SYSTEMD_UNIT_PATH: `${units}:` } });
    assert.equal(verify.code, 0, verify.out);
    // The values the docs write into /etc/default/caddy, as systemd would pass them to Caddy.
    const docs = readFileSync(join(ROOT, 'docs/deploy.md'), 'utf8');
    const printf = /^printf '(.*)' \| sudo tee \/etc\/default\/caddy$/m.exec(docs)![1]!;
    const env = Object.fromEntries(printf.split('\\n').filter(Boolean).map((l) => l.split('=') as [string, string]));
    assert.deepEqual(Object.keys(env).sort(), ['DOMAIN', 'UPSTREAM']);
    const { code, out } = await tool('caddy', ['validate', '--config', join(ROOT, 'deploy/Caddyfile'), '--adapter', 'caddyfile'], { env });
    assert.equal(code, 0, out);
    assert.doesNotMatch(readFileSync(join(ROOT, 'deploy/Caddyfile'), 'utf8'), /^\s*log\b/m, 'no access log: it would keep visitors\' IP addresses');
  } finally {
    removeDir(units);
  }
});

test('a rollback onto data a newer version migrated: the server and the admin commands refuse with one line instead of running on it', async () => {
  const server = await startServer();
  await server.stop();
  const Database = (await import('better-sqlite3')).default;
  const db = new Database(join(server.dataDir, 'leads.db'));
  db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, ?, ?)').run('from the future', Date.now());
  db.close();
  try {
    await assert.rejects(startServer({ DATA_DIR: server.dataDir }), (err: Error) => /lean-capture: .*leads\.db is at schema 999, newer than this version of Lean Capture knows/.test(err.message) && !/\n\s+at /.test(err.message.split('before it was ready:')[1] ?? ''));
    const password = await runScript('set-password.ts', [], { DATA_DIR: server.dataDir });
    assert.equal(password.code, 1);
    assert.match(password.stderr, /^set-password: .*schema 999, newer than this version/m);
  } finally {
    removeDir(server.dataDir);
  }
});

test('npm start passes SIGTERM on: the server shuts down cleanly and frees its port, instead of running on without npm', async () => {
  const dataDir = tempDir('npm-start');
  const child = spawn('npm', ['start'], { cwd: ROOT, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info' }, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  try {
    const port = await untilListening(child, lines);
    child.kill('SIGTERM'); // what `systemctl stop`, Ctrl-C in a supervisor or `kill <npm pid>` sends to npm
    await new Promise((r) => child.once('exit', r));
    await new Promise((r) => setTimeout(r, 1500));
    assert.ok(lines.some((l) => l.includes('"msg":"stopped"')), `the server shut down:\n${lines.slice(-5).join('\n')}`);
    const after = await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.status, () => 'refused');
    assert.equal(after, 'refused', 'nothing listens any more');
  } finally {
    child.kill('SIGKILL');
    removeDir(dataDir);
  }
});
