// The crash harness: a client sends beacons at a steady rate and records every id answered 204;
// the server is killed with SIGKILL at a random moment and restarted on the same DATA_DIR; once
// the journal is replayed, every acknowledged id must be in ClickHouse exactly once. Some beacons
// carry hostile text (a lone surrogate, NUL, a pair cut by a cap): acknowledged, they count too.
// Used by test/crash.test.ts (a few runs) and `npm run test:crash` (many runs).
import { randomUUID } from 'node:crypto';
import { adminGet, eventually, queryEmbedded, removeDir, send, startServer, tempDir, type RunningServer } from './harness.ts';

export interface CrashTotals {
  runs: number;
  acked: number;
  lost: number;
  duplicated: number;
}

const WORKERS = 6;
const HOSTILE_NAMES = ['\ud800', 'a\u0000b', 'x\udfff', '\ud83d\ude00'.repeat(63) + '\ud83d'];

/** Sends beacons from a few concurrent workers until stopped; returns the ids answered 204. */
function steadyClient(server: RunningServer) {
  const acked: string[] = [];
  let running = true;
  const worker = async () => {
    while (running) {
      const batch = Array.from({ length: 1 + Math.floor(Math.random() * 3) }, () => ({
        id: randomUUID(),
        type: 'pageview',
        url: 'https://plumber.example.com/crash-test',
        ...(Math.random() < 0.2 ? { name: HOSTILE_NAMES[Math.floor(Math.random() * HOSTILE_NAMES.length)] } : {}),
      }));
      try {
        const res = await send(`${server.url}/collect`, batch);
        if (res.status === 204) acked.push(...batch.map((b) => b.id));
      } catch {
        // the server died under this request: not acknowledged
      }
    }
  };
  const done = Promise.all(Array.from({ length: WORKERS }, worker));
  return {
    acked,
    async stop() {
      running = false;
      await done;
    },
  };
}

export async function crashRun(env: Record<string, string> = {}): Promise<Omit<CrashTotals, 'runs'>> {
  const dataDir = tempDir('crash');
  // Short flush settings: inserts are always under way, so kills land in every phase of one.
  const settings = { DATA_DIR: dataDir, FLUSH_INTERVAL_MS: '50', FLUSH_MAX_ROWS: '50', ...env };
  try {
    const first = await startServer(settings);
    const client = steadyClient(first);
    await new Promise((r) => setTimeout(r, 300 + Math.random() * 1200));
    first.stop('SIGKILL');
    await first.exited;
    await client.stop();

    const second = await startServer(settings);
    await eventually(async () => {
      const status = await adminGet<{ journal: { backlogBytes: number; replaying: boolean } }>(second, '/api/admin/status');
      return status.journal.backlogBytes === 0 && !status.journal.replaying ? true : undefined;
    }, 60_000, 'the journal to be replayed');
    await second.stop('SIGTERM');

    const rows = await queryEmbedded<{ id: string; n: string }>(dataDir, 'SELECT toString(event_id) AS id, count() AS n FROM lean_capture.events GROUP BY id');
    const counts = new Map(rows.map((r) => [r.id, Number(r.n)]));
    let lost = 0;
    let duplicated = 0;
    for (const id of client.acked) {
      const n = counts.get(id) ?? 0;
      if (n === 0) lost++;
      if (n > 1) duplicated++;
    }
    return { acked: client.acked.length, lost, duplicated };
  } finally {
    removeDir(dataDir);
  }
}

export async function crashRuns(runs: number, onRun?: (i: number, r: Omit<CrashTotals, 'runs'>) => void): Promise<CrashTotals> {
  const totals: CrashTotals = { runs: 0, acked: 0, lost: 0, duplicated: 0 };
  for (let i = 0; i < runs; i++) {
    const r = await crashRun();
    totals.runs++;
    totals.acked += r.acked;
    totals.lost += r.lost;
    totals.duplicated += r.duplicated;
    onRun?.(i, r);
  }
  return totals;
}
