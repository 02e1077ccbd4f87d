// Owner and operator read access: latest events, server status, health, readiness, metrics.
import type { ClickHouse } from '../events/clickhouse.ts';
import type { Batcher } from '../events/batcher.ts';
import type { Journal } from '../events/journal.ts';
import type { GeoLocator } from '../collect/geo.ts';
import type { Route } from '../http/server.ts';
import { json, problem, text } from '../http/reply.ts';
import type { Metrics } from '../metrics.ts';
import { KEEP_OFFLINE, ownerOnly, hasAdminToken, isDirectLoopback, UNAUTHORIZED, type AdminAuth } from './auth.ts';
import { withDeadline } from '../time.ts';

export interface AdminDeps {
  auth: AdminAuth;
  clickhouse: ClickHouse;
  database: string;
  batcher: Batcher;
  journal: Journal;
  geo: GeoLocator;
  metrics: Metrics;
  uwsBuild: string;
  schemaVersion: number;
  appVersion: string;
  /** Figures other parts add to /api/admin/status. */
  statusExtras: () => Record<string, unknown>;
}

const EVENTS_DEFAULT_LIMIT = 50;
const EVENTS_MAX_LIMIT = 1000;
const READY_TIMEOUT_MS = 2000;

export function adminRoutes(deps: AdminDeps): Route[] {
  const ping = () => withDeadline(deps.clickhouse.query('SELECT 1 AS ok'), READY_TIMEOUT_MS);
  return [
    { method: 'get', path: '/healthz', handler: () => json(200, { status: 'ok' }) },
    {
      method: 'get',
      path: '/readyz',
      async handler() {
        const batch = deps.batcher.snapshot();
        const backlog = { pendingRows: batch.pendingRows, backlogBytes: deps.journal.backlogBytes(), journalFull: deps.journal.full() };
        // Readiness is public: it says what is wrong, never an internal error text (status has that).
        try {
          await ping();
        } catch {
          return problem(503, 'not-ready', 'ClickHouse is not reachable', 'GET /api/admin/status has the details.', backlog);
        }
        if (batch.failingSince !== undefined) {
          return problem(503, 'not-ready', 'Inserts into ClickHouse are failing', `Retrying since ${new Date(batch.failingSince).toISOString()}; beacons wait in the journal.`, backlog);
        }
        if (backlog.journalFull) return problem(503, 'not-ready', 'The event journal is full', 'Beacons are refused until ClickHouse catches up.', backlog);
        if (!deps.journal.writable()) return problem(503, 'not-ready', 'The event journal cannot be written', 'The disk is full or failing: beacons are refused until a write succeeds.', backlog);
        return json(200, { status: 'ready', clickhouse: 'reachable', ...backlog });
      },
    },
    {
      method: 'get',
      path: '/metrics',
      async handler(req) {
        if (!isDirectLoopback(req) && !hasAdminToken(req, deps.auth.adminToken)) return UNAUTHORIZED;
        return text(200, await deps.metrics.registry.metrics(), deps.metrics.registry.contentType);
      },
    },
    {
      method: 'get',
      path: '/api/admin/events',
      guards: [ownerOnly(deps.auth)],
      handler: async (req) => {
        const limitParam = new URLSearchParams(req.query).get('limit');
        const limit = limitParam === null ? EVENTS_DEFAULT_LIMIT : Number(limitParam);
        if (!Number.isInteger(limit) || limit < 1 || limit > EVENTS_MAX_LIMIT) {
          return problem(400, 'invalid-parameter', 'Invalid limit', `limit must be an integer from 1 to ${EVENTS_MAX_LIMIT}`);
        }
        const rows = await deps.clickhouse.query<Record<string, unknown>>(
          'SELECT * FROM events ORDER BY received_at DESC, event_time DESC LIMIT {limit:UInt32}',
          { limit },
        );
        return json(200, { events: rows.map(withIsoTimes) }, KEEP_OFFLINE);
      },
    },
    {
      method: 'get',
      path: '/api/admin/status',
      guards: [ownerOnly(deps.auth)],
      handler: async () => {
        let engine: Record<string, unknown> = { mode: deps.clickhouse.mode, database: deps.database, schemaVersion: deps.schemaVersion };
        try {
          const [row] = await withDeadline(deps.clickhouse.query<{ version: string }>('SELECT version() AS version'), READY_TIMEOUT_MS);
          engine = { ...engine, reachable: true, version: row?.version };
        } catch (err) {
          engine = { ...engine, reachable: false, error: errorText(err) };
        }
        return json(200, {
          version: deps.appVersion,
          uptimeSeconds: Math.round(process.uptime()),
          http: { uws: deps.uwsBuild },
          clickhouse: engine,
          geoip: deps.geo.status(),
          batch: deps.batcher.snapshot(),
          journal: deps.journal.status(),
          ...deps.statusExtras(),
        }, KEEP_OFFLINE);
      },
    },
  ];
}

/** ClickHouse prints DateTime64 as "2026-11-22 10:00:00.123" (UTC here); the API speaks ISO 8601. */
function withIsoTimes(row: Record<string, unknown>): Record<string, unknown> {
  for (const key of ['event_time', 'received_at']) {
    const v = row[key];
    if (typeof v === 'string') row[key] = v.replace(' ', 'T') + 'Z';
  }
  return row;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message.split('\n', 1)[0]! : String(err);
}
