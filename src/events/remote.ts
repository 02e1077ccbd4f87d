// ClickHouse server over HTTP with the official @clickhouse/client. The database is created at
// start if missing; inserts stream our already-serialised rows (TabSeparated, or JSONEachRow) as the request body.
import { Readable } from 'node:stream';
import { createClient, type ClickHouseClient } from '@clickhouse/client';
import type { ClickHouseConfig } from '../config.ts';
import type { ClickHouse, QueryParams } from './clickhouse.ts';

type ServerConfig = Extract<ClickHouseConfig, { mode: 'server' }>;

export async function openServer(config: ServerConfig): Promise<ClickHouse> {
  const connect = (database?: string): ClickHouseClient =>
    createClient({ url: config.url, username: config.user, password: config.password, database, request_timeout: 30_000 });

  const bootstrap = connect();
  try {
    await bootstrap.command({ query: `CREATE DATABASE IF NOT EXISTS ${config.database}` });
  } catch (cause) {
    throw new Error(`create database ${config.database} on ${redact(config.url)}`, { cause });
  } finally {
    await bootstrap.close();
  }
  const client = connect(config.database);

  return {
    mode: 'server',
    async exec(sql) {
      await client.command({ query: sql });
    },
    async query<T>(sql: string, params?: QueryParams) {
      const result = await client.query({ query: sql, query_params: params, format: 'JSONEachRow' });
      return result.json<T>();
    },
    async queryText(sql: string, params?: QueryParams) {
      const result = await client.query({ query: sql, query_params: params, format: 'JSONEachRow' });
      return result.text();
    },
    async insert(table, rows, dedupToken, format = 'JSONEachRow', columns) {
      const { stream } = await client.exec({
        query: `INSERT INTO ${columns ? `${table} (${columns.join(', ')})` : table} FORMAT ${format}`,
        values: Readable.from([rows], { objectMode: false }),
        clickhouse_settings: dedupToken === undefined ? undefined : { insert_deduplication_token: dedupToken },
      });
      stream.resume();
      await new Promise((resolve, reject) => stream.once('end', resolve).once('error', reject));
    },
    async close() {
      await client.close();
    },
  };
}

function redact(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//');
}
