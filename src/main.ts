// Composition root: config → stores → HTTP → workers, and one shutdown path that stops
// accepting, flushes every accepted row to ClickHouse, then exits 0.
import { mkdirSync, readFileSync } from 'node:fs';
import { adminRoutes } from './admin/routes.ts';
import { GeoLocator } from './collect/geo.ts';
import { collectRoute } from './collect/route.ts';
import { AgentParser } from './collect/user-agent.ts';
import { ConfigError, loadEnv, readConfig, type Config } from './config.ts';
import { Batcher } from './events/batcher.ts';
import { Journal } from './events/journal.ts';
import { openClickHouse } from './events/clickhouse.ts';
import { migrate } from './events/schema.ts';
import { buildApp, listen } from './http/server.ts';
import { loadUws, UwsLoadError } from './http/uws.ts';
import { createLogger } from './log.ts';
import { createMetrics } from './metrics.ts';

const SHUTDOWN_FLUSH_MS = 10_000;
const APP_VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

async function main(): Promise<void> {
  let config: Config;
  try {
    config = readConfig(loadEnv());
  } catch (err) {
    if (err instanceof ConfigError) fatal(err.message);
    throw err;
  }
  const log = createLogger(config.logLevel);

  let loaded;
  try {
    loaded = loadUws();
  } catch (err) {
    if (err instanceof UwsLoadError) fatal(err.message);
    throw err;
  }
  for (const reason of loaded.skipped) log.info({ reason }, 'uWebSockets.js build skipped');
  log.info({ build: loaded.build }, 'uWebSockets.js loaded');

  mkdirSync(config.dataDir, { recursive: true });
  const metrics = createMetrics();
  const db = await openClickHouse(config.clickhouse);
  const schemaVersion = await migrate(db);
  log.info({ mode: db.mode, database: config.clickhouse.database, schemaVersion }, 'ClickHouse ready');

  const geo = new GeoLocator(config.geoipCityDb, log);
  const journal = new Journal(config.journal, log, metrics);
  const batcher = new Batcher(db, journal, { table: 'events', flushIntervalMs: config.flushIntervalMs, flushMaxRows: config.flushMaxRows }, log, metrics);
  metrics.gauge('lc_batch_pending_rows', 'Rows accepted and not yet confirmed by ClickHouse', () => batcher.snapshot().pendingRows);
  if (config.adminToken === undefined) log.warn('ADMIN_TOKEN is not set: the admin API answers 401 and /metrics is served to loopback only');

  const app = buildApp({ uws: loaded.uws, log, metrics }, [
    collectRoute({ trustProxy: config.trustProxy, geo, agents: new AgentParser(), journal, batcher, metrics }),
    ...adminRoutes({
      adminToken: config.adminToken,
      db,
      database: config.clickhouse.database,
      batcher,
      journal,
      geo,
      metrics,
      uwsBuild: loaded.build,
      schemaVersion,
      appVersion: APP_VERSION,
    }),
  ]);
  const server = await listen(app, loaded.uws, config.host, config.port);
  log.info({ host: config.host, port: server.port }, 'listening');
  metrics.loopDelay.reset(); // opening the stores blocks once at start; measure stalls from here

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down: no new connections, flushing');
    server.close();
    app.close(); // ends keep-alive connections too, so no request arrives after the flush
    geo.close();
    const unflushed = await batcher.close(SHUTDOWN_FLUSH_MS);
    journal.close();
    if (unflushed > 0) log.warn({ rows: unflushed }, 'ClickHouse did not confirm these rows in time; they stay in the journal for the next start');
    await db.close();
    log.info({ confirmedRows: batcher.snapshot().confirmedRows }, 'stopped');
    log.flush();
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

function fatal(message: string): never {
  process.stderr.write(`lean-capture: ${message}\n`);
  process.exit(1);
}

main().catch((err) => {
  process.stderr.write(`lean-capture: failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  if (err instanceof Error && err.cause) process.stderr.write(`  cause: ${String((err.cause as Error).message ?? err.cause)}\n`);
  process.exit(1);
});
