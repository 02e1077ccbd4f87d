import assert from 'node:assert/strict';
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { pino } from 'pino';
import { GeoLocator } from '../../src/collect/geo.ts';
import { removeDir, tempDir } from '../support/harness.ts';
import { cityRecord, writeMmdb } from '../support/mmdb.ts';

test('the database is reloaded when geoipupdate replaces the file, and a bad update keeps the old one', () => {
  const dir = tempDir('geo');
  const path = join(dir, 'city.mmdb');
  const replace = (content: Buffer) => {
    writeFileSync(path + '.tmp', content);
    renameSync(path + '.tmp', path); // atomic, as geoipupdate does
  };
  const geo = new GeoLocator(path, pino({ level: 'silent' }));
  try {
    assert.equal(geo.status().loaded, false);
    assert.deepEqual(geo.lookup('81.214.1.1'), { country: '', region: '', city: '' });

    replace(writeMmdb({ '81.214.0.0/16': cityRecord('TR', 'Istanbul', 'Istanbul') }, { buildEpoch: 1_700_000_000 }));
    geo.reload();
    assert.deepEqual(geo.lookup('81.214.1.1'), { country: 'TR', region: 'Istanbul', city: 'Istanbul' });
    assert.equal(geo.status().buildDate, '2023-11-14T22:13:20.000Z');

    replace(writeMmdb({ '81.214.0.0/16': cityRecord('TR', 'Ankara', 'Ankara') }, { buildEpoch: 1_800_000_000 }));
    geo.reload();
    assert.equal(geo.lookup('81.214.1.1').city, 'Ankara');

    replace(Buffer.from('garbage'));
    geo.reload();
    assert.equal(geo.lookup('81.214.1.1').city, 'Ankara', 'the previous database stays in use');
    assert.match(geo.status().error ?? '', /cannot read database/);
    assert.equal(geo.lookup('not an ip').city, '');
  } finally {
    geo.close();
    removeDir(dir);
  }
});

test('a Country database is refused: it has no cities', () => {
  const dir = tempDir('geo');
  const path = join(dir, 'country.mmdb');
  writeFileSync(path, writeMmdb({ '81.214.0.0/16': { country: { iso_code: 'TR' } } }, { databaseType: 'GeoLite2-Country' }));
  const geo = new GeoLocator(path, pino({ level: 'silent' }));
  try {
    assert.match(geo.status().error ?? '', /expected a City database/);
  } finally {
    geo.close();
    removeDir(dir);
  }
});
