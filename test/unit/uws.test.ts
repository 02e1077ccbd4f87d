import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadUws, UwsLoadError } from '../../src/http/uws.ts';

test('a native uWebSockets.js build loads here and says which one', () => {
  const loaded = loadUws();
  assert.match(loaded.build, /^uWebSockets\.js v20\.(57|30)\.0/);
  assert.equal(typeof loaded.uws.App, 'function');
  // Where the upstream build cannot load, the reason is kept for the log.
  if (loaded.build.includes('v20.30')) assert.match(loaded.skipped[0] ?? '', /@btc-vision\/uwebsockets\.js: .*(GLIBC|supports only)/);
});

test('when no build loads, the error says what was tried and what to do', () => {
  assert.throws(() => loadUws('no-such-build'), (err: unknown) => {
    assert.ok(err instanceof UwsLoadError);
    assert.match(err.message, /no uWebSockets\.js build loads on this machine/);
    assert.match(err.message, /glibc/);
    return true;
  });
});
