import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ConfigError, loadEnv, readConfig } from '../../src/config.ts';

test('an empty environment gives the documented defaults: port 8080, embedded ClickHouse under ./data', () => {
  const config = readConfig({});
  assert.equal(config.port, 8080);
  assert.equal(config.flushIntervalMs, 1000);
  assert.equal(config.flushMaxRows, 1000);
  assert.deepEqual(config.trustProxy, { kind: 'none' });
  assert.equal(config.clickhouse.mode, 'embedded');
  assert.ok(config.clickhouse.mode === 'embedded' && config.clickhouse.path.endsWith(join('data', 'clickhouse')));
});

test('every invalid key is reported at once, by name', () => {
  assert.throws(
    () => readConfig({ PORT: 'eighty', TRUST_PROXY: 'yes', CLICKHOUSE_DATABASE: 'x;DROP', ADMIN_TOKEN: 'short', LOG_LEVEL: 'loud' }),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.problems.length, 5);
      for (const key of ['PORT', 'TRUST_PROXY', 'CLICKHOUSE_DATABASE', 'ADMIN_TOKEN', 'LOG_LEVEL']) assert.match(err.message, new RegExp(key));
      return true;
    },
  );
});

test('.env values apply unless the environment sets the key', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lc-env-'));
  writeFileSync(join(dir, '.env'), 'PORT=9090\nTRUST_PROXY=cloudflare\n');
  const config = readConfig(loadEnv(dir, { TRUST_PROXY: '2' }));
  assert.equal(config.port, 9090);
  assert.deepEqual(config.trustProxy, { kind: 'hops', hops: 2 });
});

test('.env.example, copied as it is, is a valid configuration equal to the defaults', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lc-env-'));
  writeFileSync(join(dir, '.env'), readFileSync(new URL('../../.env.example', import.meta.url)));
  assert.deepEqual(readConfig(loadEnv(dir, {})), readConfig({}));
});

test('behind a proxy the server listens on loopback unless HOST says otherwise; GOOGLE_LEAD_FORM_KEY must be guess-proof', () => {
  assert.equal(readConfig({}).host, '0.0.0.0');
  assert.equal(readConfig({ TRUST_PROXY: '1' }).host, '127.0.0.1');
  assert.equal(readConfig({ TRUST_PROXY: 'cloudflare' }).host, '127.0.0.1');
  assert.equal(readConfig({ TRUST_PROXY: '1', HOST: '0.0.0.0' }).host, '0.0.0.0');
  assert.throws(() => readConfig({ GOOGLE_LEAD_FORM_KEY: 'short-key' }), /GOOGLE_LEAD_FORM_KEY must be at least 16 characters/);
});
