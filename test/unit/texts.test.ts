// The owner app's languages: every language file has exactly the English keys (nested ones
// too), with functions where English has functions; and every English key is used by the app.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

const dir = new URL('../../admin-pwa/', import.meta.url);
const load = async (name: string) => ((await import(new URL(name, dir).href)) as { texts: Record<string, unknown> }).texts;

function shape(value: unknown, path = ''): string[] {
  if (typeof value === 'function') return [`${path}()`];
  if (typeof value === 'object' && value !== null) return Object.entries(value).flatMap(([k, v]) => shape(v, path ? `${path}.${k}` : k));
  return [path];
}

test('each language has the same keys as English, no more, no fewer', async () => {
  const en = shape(await load('texts-en.js')).sort();
  for (const file of ['texts-tr.js', 'texts-pt-BR.js']) {
    const other = shape(await load(file)).sort();
    assert.deepEqual(other.filter((k) => !en.includes(k)), [], `${file}: keys English does not have`);
    assert.deepEqual(en.filter((k) => !other.includes(k)), [], `${file}: keys it lacks`);
  }
});

test('every text is used by the app, and each language says it differently from English where it should', async () => {
  const app = readFileSync(new URL('app.js', dir), 'utf8');
  const en = await load('texts-en.js');
  const unused = Object.keys(en).filter((k) => !new RegExp(`\\bt\\.${k}\\b`).test(app));
  assert.deepEqual(unused, [], 'keys of texts-en.js the app never reads');
  // Names and brands stay; everything else is translated.
  const same = new Set(['appName', 'whatsapp', 'telegram']);
  for (const file of ['texts-tr.js', 'texts-pt-BR.js']) {
    const other = await load(file);
    const untranslated = Object.keys(en).filter((k) => typeof en[k] === 'string' && en[k] === other[k] && !same.has(k));
    assert.deepEqual(untranslated, [], `${file}: texts left in English`);
  }
});
