// Composition root: config → stores → HTTP → workers, and one shutdown path that stops
// accepting, flushes every accepted row to ClickHouse, then exits 0. Every decision lives in the
// part it belongs to; this file only builds the parts and connects them.
import { ConfigError, loadEnv, readConfig } from './config.ts';
import { DataDirUnusable, prepareDataDir } from './data-dir.ts';
import { Storage } from './db/storage.ts';
import { assemble } from './app.ts';
import { openEvents } from './events/open.ts';
import { listen, buildApp } from './http/server.ts';
import { withRateLimits } from './http/rate-limit.ts';
import { loadUws, UwsLoadError } from './http/uws.ts';
import { createLogger } from './log.ts';
import { createMetrics } from './metrics.ts';
import { applyEventRetention } from './privacy/retention.ts';

const SHUTDOWN_FLUSH_MS = 10_000;

async function main(): Promise<void> {
  const config = readConfig(loadEnv());
  const terminal = process.stdout.isTTY === true;
  const log = createLogger(config.logLevel, config.logToJournald, terminal);
  const uws = loadUws();
  for (const reason of uws.skipped) log.info({ reason }, 'uWebSockets.js build skipped');
  log.info({ build: uws.build }, 'uWebSockets.js loaded');
  prepareDataDir(config.dataDir, log);

  const metrics = createMetrics();
  const events = await openEvents(config, log, metrics);
  const ttl = await applyEventRetention(events.clickhouse, config.clickhouse.database, config.retention.eventDays);
  if (ttl !== 'unchanged') log.info({ days: config.retention.eventDays, ttl }, 'event retention changed');
  const storage = Storage.open(config.leads.databasePath, { outboxMaxAttempts: config.leads.outboxMaxAttempts, outboxStatusCheckMs: config.leads.outboxStatusCheckMs });

  const parts = await assemble({ config, log, metrics, events, storage, uwsBuild: uws.build });
  const https = config.publicOrigin?.startsWith('https://') ?? false;
  const app = buildApp({ uws: uws.uws, log, metrics, https, bodyTimeoutMs: config.bodyTimeoutMs, trustProxy: config.trustProxy }, withRateLimits(parts.routes, config.rateLimits, metrics));
  const server = await listen(app, uws.uws, config.host, config.port);
  log.info({ host: config.host, port: server.port }, 'listening');
  metrics.loopDelay.reset(); // opening the stores blocks once at start; measure stalls from here
  parts.started(config.publicOrigin ?? `http://${config.host === '0.0.0.0' ? 'localhost' : config.host}:${server.port}`, terminal);

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down: no new connections, flushing');
    server.close();
    app.close(); // ends keep-alive connections too, so no request arrives after the flush
    await parts.stop(); // a backup still running is abandoned: no manifest, so no backup
    await events.close(SHUTDOWN_FLUSH_MS);
    storage.close();
    log.info({ confirmedRows: events.batcher.snapshot().confirmedRows }, 'stopped');
    log.flush();
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  // A terminal closing (or an admin's habit) must not end the server silently: settings are read
  // at start, and the GeoIP database reloads by itself when its file changes.
  process.on('SIGHUP', () => log.info('SIGHUP: nothing to reload (restart to apply .env changes; GeoIP reloads by itself); still running'));
}

function fatal(message: string): never {
  process.stderr.write(`lean-capture: ${message}\n`);
  process.exit(1);
}

main().catch((err) => {
  // Mistakes the owner can fix get one line that says how; anything else is a bug, with its stack.
  if (err instanceof ConfigError || err instanceof UwsLoadError || err instanceof DataDirUnusable || (err instanceof Error && err.name === 'NewerSchema')) fatal(err.message);
  process.stderr.write(`lean-capture: failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  if (err instanceof Error && err.cause) process.stderr.write(`  cause: ${String((err.cause as Error).message ?? err.cause)}\n`);
  process.exit(1);
});
