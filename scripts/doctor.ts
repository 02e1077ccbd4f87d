// npm run doctor [-- --send] [-- --json]: tries every configured integration for real and says,
// one line each, what works and what to fix. Exit code 0 when nothing fails, 1 otherwise.
// While a server runs on DATA_DIR it runs the checks (it alone can read the embedded ClickHouse and
// send a test push); with no server running, the script runs them itself.
import { backupRecords } from '../src/backup/service.ts';
import { ConfigError, loadEnv, readConfig, type Config } from '../src/config.ts';
import { NewerSchema, NotADataDir, Storage } from '../src/db/storage.ts';
import { runDoctor } from '../src/doctor/doctor.ts';
import { fail, formatReport, report, type DoctorReport } from '../src/doctor/report.ts';
import type { ClickHouseFacts } from '../src/doctor/server.ts';
import { openClickHouse } from '../src/events/open.ts';
import { journalOwner } from '../src/events/owner-lock.ts';
import { loadUws } from '../src/http/uws.ts';

const json = process.argv.includes('--json');
const send = process.argv.includes('--send');

function finish(r: DoctorReport): never {
  process.stdout.write(json ? `${JSON.stringify(r)}\n` : formatReport(r));
  process.exit(r.ok ? 0 : 1);
}

async function viaServer(config: Config, pid: number): Promise<DoctorReport> {
  const where = (words: string, fix: string) => report([fail('Server', words, fix)]);
  if (!config.adminToken) return where(`a Lean Capture server (pid ${pid}) is using ${config.dataDir}, and only it can run every check`, 'Set ADMIN_TOKEN in .env (and restart the server) so this command can ask it.');
  const host = config.host === '0.0.0.0' ? '127.0.0.1' : config.host === '::' ? '[::1]' : config.host.includes(':') ? `[${config.host}]` : config.host;
  const url = `http://${host}:${config.port}/api/admin/doctor`;
  try {
    const res = await fetch(url, { method: send ? 'POST' : 'GET', headers: { Authorization: `Bearer ${config.adminToken}`, 'content-type': 'application/json' }, body: send ? '{"send":true}' : undefined, signal: AbortSignal.timeout(120_000) });
    if (res.status === 401) return where(`the server on ${url} refused ADMIN_TOKEN`, 'The server and this command must read the same .env: restart the server after changing ADMIN_TOKEN.');
    if (!res.ok) return where(`the server on ${url} answered ${res.status}`, 'See the server log (journalctl -u lean-capture).');
    return (await res.json()) as DoctorReport;
  } catch (err) {
    return where(`the server (pid ${pid}) does not answer on ${url}: ${(err as Error).message}`, 'Check HOST and PORT in .env match the running server.');
  }
}

async function alone(config: Config): Promise<DoctorReport> {
  let storage: Storage;
  try {
    storage = Storage.open(config.leads.databasePath, { existing: true });
  } catch (err) {
    if (err instanceof NotADataDir || err instanceof NewerSchema) return report([fail('Server', err.message, 'Start the server once (npm start) so it creates its data, or set DATA_DIR in .env to the right directory.')]);
    throw err;
  }
  const facts: ClickHouseFacts = { clickhouse: undefined, database: config.clickhouse.database, journalMaxBytes: config.journal.maxBytes };
  try {
    facts.clickhouse = await openClickHouse(config.clickhouse);
  } catch (err) {
    facts.openError = (err as Error).message;
  }
  let uwsBuild: string | undefined;
  try {
    uwsBuild = `${loadUws().build} (loads on this machine; no server running)`;
  } catch {
    uwsBuild = undefined;
  }
  try {
    return await runDoctor({ config, storage, clickhouse: facts, uwsBuild, lastGoodBackup: () => backupRecords(storage.settings).lastOk }, { send });
  } finally {
    await facts.clickhouse?.close();
    storage.close();
  }
}

let config: Config;
try {
  config = readConfig(loadEnv());
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  finish(report(err.problems.map((p) => fail('Config', p, 'Fix this line of .env (see .env.example), then run the check again.'))));
}
const pid = journalOwner(config.journal.dir);
finish(pid !== undefined ? await viaServer(config, pid) : await alone(config));
