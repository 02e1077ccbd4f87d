// Loads deploy/clickhouse's server configuration into the real engine (chdb, with --config-file)
// and reports what took effect: server settings, profile settings the engine does not know, and
// whether a MergeTree table takes inserts under the pool thresholds. Its own process (chdb opens
// one data directory per process): tsx chdb-config.ts <dataDir> <config.d file> <users.d file>
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Session } from 'chdb';

const [dataDir, serverConfig, usersConfig] = process.argv.slice(2) as [string, string, string];
const configFile = join(dataDir, 'config.xml');
writeFileSync(configFile, readFileSync(serverConfig));
const session = new Session(join(dataDir, 'clickhouse'), { connectionArgs: [`--config-file=${configFile}`] });
const rows = async <T>(sql: string) => (await session.queryAsync(sql, { format: 'JSONEachRow' })).text().trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as T);

const server = Object.fromEntries(
  (await rows<{ name: string; value: string }>("SELECT name, value FROM system.server_settings WHERE name IN ('max_server_memory_usage', 'mark_cache_size', 'background_pool_size')")).map((r) => [r.name, r.value]),
);
const profile = [...readFileSync(usersConfig, 'utf8').matchAll(/<(\w+)>[^<]*<\/\1>/g)].map((m) => m[1]!);
const known = new Set((await rows<{ name: string }>('SELECT name FROM system.settings')).map((r) => r.name));
await session.queryAsync('CREATE TABLE probe (a UInt64) ENGINE = MergeTree ORDER BY a');
await session.queryAsync('INSERT INTO probe VALUES (1), (2)');
const [count] = await rows<{ n: number }>('SELECT count() AS n FROM probe');
session.close();
process.stdout.write(JSON.stringify({ server, unknownProfileSettings: profile.filter((name) => !known.has(name)), mergeTreeWorks: Number(count?.n) === 2 }));
