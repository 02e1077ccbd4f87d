// Checks of the server itself: its public address, its clock, its disk, its uWS build, ClickHouse
// and the GeoIP database.
import { readFileSync, statfsSync } from 'node:fs';
import { Reader } from 'maxmind';
import type { Config } from '../config.ts';
import type { ClickHouse } from '../events/clickhouse.ts';
import { MIGRATIONS } from '../events/schema.ts';
import { ask } from './http.ts';
import { fail, ok, warn, type Check } from './report.ts';

export async function publicOriginCheck(origin: string | undefined): Promise<Check> {
  const name = 'Server';
  if (origin === undefined) return fail(name, 'PUBLIC_ORIGIN is not set', 'Set PUBLIC_ORIGIN in .env to the https address sites load t.js from (e.g. https://track.example.com), then restart.');
  const answer = await ask(`${origin}/healthz`);
  if ('error' in answer) return fail(name, `GET ${origin}/healthz from this server: ${answer.error}`, origin.startsWith('https:') ? 'Check the DNS record and the proxy (Caddy) for this name: docs/deploy.md, section 2.' : 'Check the DNS record and the proxy for this name (docs/deploy.md).');
  if (!answer.res.ok) return fail(name, `GET ${origin}/healthz answered ${answer.res.status}`, 'The proxy in front does not pass requests to Lean Capture: check its upstream (docs/deploy.md, section 2).');
  if (origin.startsWith('http:')) return warn(name, `${origin} answers, over plain http`, 'Serve it over https (browsers block http beacons from https pages, and the owner logs in there): docs/deploy.md, section 2.');
  return ok(name, `${origin} answers over https with a valid certificate`);
}

/** `dates`: the Date headers of the ad platforms' answers during this run, with when each came. */
export function clockCheck(dates: Array<{ header: string; receivedAt: number; from: string }>): Check {
  const name = 'Server';
  const seen = dates.filter((d) => !Number.isNaN(Date.parse(d.header)));
  if (seen.length === 0) return ok(name, 'clock: no ad platform answered with a Date header to compare with');
  // The header has whole seconds: up to a second of skew is the header's own rounding.
  const skews = seen.map((d) => ({ from: d.from, seconds: Math.round((d.receivedAt - Date.parse(d.header)) / 1000) }));
  const worst = skews.reduce((a, b) => (Math.abs(b.seconds) > Math.abs(a.seconds) ? b : a));
  const words = `clock ${Math.abs(worst.seconds)} s ${worst.seconds >= 0 ? 'ahead of' : 'behind'} ${worst.from}`;
  if (Math.abs(worst.seconds) > 60) return fail(name, words, 'Turn on time sync (timedatectl set-ntp true): platforms refuse events dated in the future and misdate sales.');
  return ok(name, words);
}

export function diskCheck(dir: string, journalMaxBytes: number): Check {
  const name = 'Server';
  let free: number;
  try {
    const s = statfsSync(dir);
    free = s.bavail * s.bsize;
  } catch (err) {
    return fail(name, `disk space of ${dir}: ${(err as Error).message}`, 'DATA_DIR must exist and be readable by the service user.');
  }
  const gb = (n: number) => `${(n / 1024 ** 3).toFixed(1)} GB`;
  const words = `disk: ${gb(free)} free for DATA_DIR, the journal may use up to ${gb(journalMaxBytes)} (JOURNAL_MAX_BYTES)`;
  if (free < journalMaxBytes / 4) return fail(name, words, 'Free disk space, or lower JOURNAL_MAX_BYTES: when the disk fills, beacons are refused.');
  if (free < journalMaxBytes) return warn(name, words, 'Free disk space, or lower JOURNAL_MAX_BYTES, so the journal can hold a long ClickHouse outage.');
  return ok(name, words);
}

export function uwsCheck(build: string | undefined): Check {
  if (build === undefined) return warn('Server', 'uWebSockets.js build: not known (no server running)', 'Start the server (npm start): its log names the build it loaded.');
  return ok('Server', `uWebSockets.js build in use: ${build}`);
}

export interface ClickHouseFacts {
  clickhouse: ClickHouse | undefined;
  /** Why it could not be opened, when it could not. */
  openError?: string;
  database: string;
  /** Bytes waiting in the journal for ClickHouse, and the journal's budget. */
  backlogBytes?: number;
  journalMaxBytes: number;
}

const MAX_ACTIVE_PARTS = 300;

export async function clickhouseChecks(f: ClickHouseFacts): Promise<Check[]> {
  const name = 'ClickHouse';
  if (!f.clickhouse) return [fail(name, `could not open: ${f.openError ?? 'unknown reason'}`, 'For CLICKHOUSE_URL check the address, user and password; embedded: DATA_DIR/clickhouse must be writable by the service user.')];
  const db = f.clickhouse;
  const checks: Check[] = [];
  try {
    const [row] = await db.query<{ version: string; parts: string }>(
      `SELECT (SELECT max(version) FROM ${f.database}.schema_migrations) AS version, (SELECT count() FROM system.parts WHERE database = {db:String} AND active) AS parts`,
      { db: f.database },
    );
    const version = Number(row?.version ?? 0);
    const known = MIGRATIONS.at(-1)!.version;
    const parts = Number(row?.parts ?? 0);
    checks.push(version === known ? ok(name, `${db.mode} mode: a test query answered; schema at version ${version}; ${parts} active parts`) : fail(name, `schema at version ${version}, this version of Lean Capture expects ${known}`, 'Restart the server: it applies the missing migrations at start.'));
    if (parts > MAX_ACTIVE_PARTS) checks.push(warn(name, `${parts} active parts`, 'Merges are behind (too many small inserts or a busy disk): leave FLUSH_MAX_ROWS and FLUSH_INTERVAL_MS at their defaults.'));
  } catch (err) {
    return [fail(name, `a test query failed: ${(err as Error).message.slice(0, 300)}`, 'Check CLICKHOUSE_URL, the user and the password, and that the database exists.')];
  }
  if (db.mode === 'server') checks.push(await grantsCheck(db, f.database));
  if (f.backlogBytes !== undefined) {
    const share = f.backlogBytes / f.journalMaxBytes;
    const words = `journal backlog ${(f.backlogBytes / 1024 ** 2).toFixed(1)} MB (${(share * 100).toFixed(0)}% of JOURNAL_MAX_BYTES)`;
    checks.push(share > 0.5 ? warn(name, words, 'ClickHouse is not keeping up: see GET /api/admin/status for insert errors.') : ok(name, words));
  }
  return checks;
}

/** Server mode: the user must insert (events) and alter (erasure deletes rows with ALTER … DELETE). */
async function grantsCheck(db: ClickHouse, database: string): Promise<Check> {
  const name = 'ClickHouse';
  let grants: string;
  try {
    grants = (await db.query<Record<string, string>>('SHOW GRANTS')).map((r) => Object.values(r).join(' ')).join('\n');
  } catch (err) {
    return warn(name, `could not read the user's grants: ${(err as Error).message.slice(0, 200)}`, `Make sure the user may INSERT and ALTER DELETE on ${database}.*.`);
  }
  const on = (privilege: RegExp) => grants.split('\n').some((g) => privilege.test(g) && new RegExp(`\\bON (\\*|${database})\\.\\*`).test(g));
  const insert = on(/GRANT (ALL|.*\bINSERT\b)/);
  const alter = on(/GRANT (ALL|.*\bALTER( DELETE| TABLE)?\b)/);
  if (insert && alter) return ok(name, `the user may insert into and alter ${database}`);
  const missing = [insert ? '' : 'INSERT', alter ? '' : 'ALTER DELETE'].filter(Boolean).join(' and ');
  return fail(name, `the user lacks ${missing} on ${database} (grants: ${grants.replaceAll('\n', '; ').slice(0, 200) || 'none'})`, `GRANT ${missing} ON ${database}.* TO <user> (erasure requests delete rows with ALTER … DELETE).`);
}

export function geoipCheck(path: string, now = Date.now()): Check {
  const name = 'GeoIP';
  let built: Date;
  try {
    built = new Reader(readFileSync(path)).metadata.buildEpoch;
  } catch (err) {
    const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
    return fail(name, missing ? `no database at ${path}` : `${path} cannot be read: ${(err as Error).message}`, 'Run scripts/geoip-update (MaxMind licence key in .env), or set GEOIP_CITY_DB to the file: docs/deploy.md, section 2B.');
  }
  const days = Math.floor((now - built.getTime()) / 86_400_000);
  const words = `${path} built ${built.toISOString().slice(0, 10)} (${days} days ago)`;
  const fix = 'Run scripts/geoip-update, and keep its weekly cron line (docs/deploy.md, section 2B): cities move between networks.';
  if (days > 90) return fail(name, words, fix);
  if (days > 35) return warn(name, words, fix);
  return ok(name, words);
}

export function configCheck(config: Config): Check {
  return ok('Server', `configuration valid; DATA_DIR ${config.dataDir}; ClickHouse ${config.clickhouse.mode}`);
}
