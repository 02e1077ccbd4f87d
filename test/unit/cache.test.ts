import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TextCache } from '../../src/collect/cache.ts';

test('the ingest cache keeps at most its entries and short keys only, and still answers after it clears', () => {
  const cache = new TextCache<number>(3, 8);
  cache.set('https://a', 1); // 9 characters: not kept
  assert.equal(cache.get('https://a'), undefined);
  for (const [i, key] of ['a', 'b', 'c'].entries()) cache.set(key, i);
  assert.deepEqual(['a', 'b', 'c'].map((k) => cache.get(k)), [0, 1, 2]);
  cache.set('d', 3); // full: cleared, then d
  assert.deepEqual(['a', 'b', 'c', 'd'].map((k) => cache.get(k)), [undefined, undefined, undefined, 3]);
  const header = `81.214.1.1, ${'9'.repeat(1000)}`;
  cache.set(header.slice(0, 7), 7); // a key cut from a longer string is found by its text
  assert.equal(cache.get('81.214.'), 7);
});
