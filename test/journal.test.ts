// The journal's promises end to end: outages, lost replies, a full disk budget, shutdown during
// an outage, and a damaged journal at start. Real server processes, real ClickHouse engine.
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createClient, type ClickHouseClient } from '@clickhouse/client';
import { encodeRecord, segmentName } from '../src/events/record.ts';
import { adminGet, eventually, removeDir, send, startClickHouseServer, startServer, tempDir, type ClickHouseUnderTest, type RunningServer } from './support/harness.ts';
import { startProxy, startReplyDroppingProxy } from './support/tcp-proxy.ts';

const beacons = (n: number, tag: string) => Array.from({ length: n }, () => ({ id: randomUUID(), type: 'pageview', url: `https://plumber.example.com/${tag}` }));

async function metric(server: RunningServer, pattern: RegExp): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const m = pattern.exec(text);
  return m ? Number(m[1]) : NaN;
}

describe('journal with a ClickHouse server', () => {
  let clickhouse: ClickHouseUnderTest;
  let direct: ClickHouseClient;
  const databases: string[] = [];
  const newDatabase = () => {
    const name = `lc_journal_${randomBytes(4).toString('hex')}`;
    databases.push(name);
    return name;
  };
  const counts = async (database: string) => {
    const rs = await direct.query({ query: `SELECT count() AS n, uniqExact(event_id) AS ids FROM ${database}.events`, format: 'JSONEachRow' });
    const [row] = await rs.json<{ n: string; ids: string }>();
    return { n: Number(row!.n), ids: Number(row!.ids) };
  };
  const serverEnv = (url: string, database: string, extra: Record<string, string> = {}) => ({
    CLICKHOUSE_URL: url,
    CLICKHOUSE_DATABASE: database,
    CLICKHOUSE_USER: clickhouse.user,
    CLICKHOUSE_PASSWORD: clickhouse.password,
    FLUSH_INTERVAL_MS: '100',
    ...extra,
  });

  before(async () => {
    clickhouse = await startClickHouseServer();
    direct = createClient({ url: clickhouse.url, username: clickhouse.user, password: clickhouse.password });
  });
  after(async () => {
    for (const db of databases) await direct.command({ query: `DROP DATABASE IF EXISTS ${db}` }).catch(() => undefined);
    await direct.close();
    await clickhouse.stop();
  });

  test('an insert that ClickHouse committed but whose reply was lost is retried without a duplicate', async () => {
    const proxy = await startReplyDroppingProxy(clickhouse.url);
    const database = newDatabase();
    const server = await startServer(serverEnv(proxy.url, database));
    try {
      proxy.dropInsertReplies(1);
      const sent = beacons(30, 'lost-reply');
      assert.equal((await send(`${server.url}/collect`, sent)).status, 204);
      await eventually(async () => ((await counts(database)).n >= 30 && server.output.some((l) => l.includes('retrying')) ? true : undefined), 30_000, 'the retried insert');
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(proxy.droppedReplies(), 1);
      assert.deepEqual(await counts(database), { n: 30, ids: 30 });
    } finally {
      await server.stop();
      removeDir(server.dataDir);
      await proxy.close();
    }
  });

  test('a long outage under load: beacons keep being accepted with flat memory, then drain exactly once', async () => {
    const proxy = await startProxy(clickhouse.url);
    const database = newDatabase();
    const server = await startServer(serverEnv(proxy.url, database));
    try {
      await proxy.cut();
      const rss = () => metric(server, /^process_resident_memory_bytes (\d+)/m);
      let bodyBytes = 0;
      let rssBefore = 0;
      // The first 300 requests warm the heap up; memory is measured over the 600 after them.
      for (let i = 0; i < 900; i += 6) {
        if (i === 300) {
          rssBefore = await rss();
          bodyBytes = 0;
        }
        const statuses = await Promise.all(Array.from({ length: 6 }, () => {
          const batch = beacons(100, 'outage').map((b) => ({ ...b, props: { filler: 'x'.repeat(300) } }));
          bodyBytes += JSON.stringify(batch).length;
          return send(`${server.url}/collect`, batch).then((r) => r.status);
        }));
        assert.deepEqual(statuses, [204, 204, 204, 204, 204, 204]);
      }
      const growth = (await rss()) - rssBefore;
      const status = await adminGet<{ journal: { backlogBytes: number }; batch: { pendingRows: number } }>(server, '/api/admin/status');
      assert.equal(status.batch.pendingRows, 90_000);
      assert.ok(status.journal.backlogBytes > bodyBytes / 2, 'the backlog is on disk');
      assert.ok(growth < bodyBytes / 3, `RSS grew ${(growth / 1e6).toFixed(1)} MB while ${(bodyBytes / 1e6).toFixed(1)} MB of beacons waited`);
      const notReady = await fetch(`${server.url}/readyz`);
      assert.equal(notReady.status, 503);

      await proxy.restore();
      await eventually(async () => ((await counts(database)).n === 90_000 ? true : undefined), 120_000, 'the backlog to drain');
      assert.deepEqual(await counts(database), { n: 90_000, ids: 90_000 });
      assert.equal((await fetch(`${server.url}/readyz`)).status, 200);
    } finally {
      await server.stop();
      removeDir(server.dataDir);
      await proxy.close();
    }
  });

  test('at JOURNAL_MAX_BYTES /collect answers 503 with Retry-After, and accepts again once ClickHouse catches up', async () => {
    const proxy = await startProxy(clickhouse.url);
    const database = newDatabase();
    const server = await startServer(serverEnv(proxy.url, database, { JOURNAL_MAX_BYTES: String(256 * 1024) }));
    try {
      await proxy.cut();
      let acked = 0;
      let refused: Response | undefined;
      for (let i = 0; i < 200 && refused === undefined; i++) {
        const res = await send(`${server.url}/collect`, beacons(20, 'budget'));
        if (res.status === 204) acked += 20;
        else refused = res;
      }
      assert.ok(refused, 'the budget was reached');
      assert.equal(refused.status, 503);
      assert.equal(refused.headers.get('retry-after'), '30');
      assert.equal(((await refused.json()) as { type: string }).type, '/problems/journal-unavailable');
      assert.ok(await metric(server, /^lc_journal_refused_requests_total\{reason="full"\} (\d+)/m) >= 1);
      const ready = (await (await fetch(`${server.url}/readyz`)).json()) as { journalFull: boolean };
      assert.equal(ready.journalFull, true);
      assert.ok(server.output.some((l) => l.includes('journal full')), 'the refusal is logged');

      await proxy.restore();
      const more = beacons(20, 'budget');
      await eventually(async () => ((await send(`${server.url}/collect`, more)).status === 204 ? true : undefined), 60_000, '/collect to accept again');
      acked += 20;
      await eventually(async () => ((await counts(database)).n === acked ? true : undefined), 30_000, 'every acknowledged beacon');
      assert.deepEqual(await counts(database), { n: acked, ids: acked });
    } finally {
      await server.stop();
      removeDir(server.dataDir);
      await proxy.close();
    }
  });

  test('SIGTERM during an outage exits 0 in bounded time; the rows wait in the journal and arrive after the next start', async () => {
    const proxy = await startProxy(clickhouse.url);
    const database = newDatabase();
    const server = await startServer(serverEnv(proxy.url, database));
    try {
      await proxy.cut();
      assert.equal((await send(`${server.url}/collect`, beacons(40, 'shutdown'))).status, 204);
      const started = Date.now();
      assert.equal(await server.stop('SIGTERM'), 0);
      assert.ok(Date.now() - started < 20_000, 'stopped within the shutdown deadline');
      assert.ok(server.output.some((l) => l.includes('stay in the journal')));

      await proxy.restore();
      const again = await startServer(serverEnv(proxy.url, database, { DATA_DIR: server.dataDir }));
      await eventually(async () => ((await counts(database)).n === 40 ? true : undefined), 30_000, 'the journaled rows');
      await again.stop();
      assert.deepEqual(await counts(database), { n: 40, ids: 40 });
    } finally {
      await server.stop();
      removeDir(server.dataDir);
      await proxy.close();
    }
  });
});

test('a journal with a flipped byte and a torn tail: the server starts, replays the intact records and counts the damage', async () => {
  const dataDir = tempDir('damaged');
  mkdirSync(join(dataDir, 'journal'));
  const now = Date.now();
  const record = (id: string) => encodeRecord(Buffer.from(JSON.stringify({ event_id: id, event_time: now, received_at: now, type: 'pageview', url: 'https://a.example/' }) + '\n'), 1);
  const ids = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
  const flipped = record(ids[1]!);
  flipped[40] = flipped[40]! ^ 0x20;
  writeFileSync(join(dataDir, 'journal', segmentName(1)), Buffer.concat([record(ids[0]!), flipped, record(ids[2]!), record(ids[3]!).subarray(0, 30)]));
  const server = await startServer({ DATA_DIR: dataDir, FLUSH_INTERVAL_MS: '100' });
  try {
    const events = await eventually(async () => {
      const body = await adminGet<{ events: Array<{ event_id: string }> }>(server, '/api/admin/events');
      return body.events.length >= 2 ? body.events : undefined;
    }, 10_000, 'the replayed rows');
    assert.deepEqual(events.map((e) => e.event_id).sort(), [ids[0], ids[2]].sort());
    assert.equal(await metric(server, /^lc_journal_damaged_records_total (\d+)/m), 2);
  } finally {
    await server.stop();
    removeDir(dataDir);
  }
});
