// The owner's search over leads: Turkish and Portuguese letters and case folded (İ/I/ı/i, ş, ç,
// ğ, ö, ü, ã, é …), email searchable, phone digits and WhatsApp ref codes as before.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { NO_GEO } from '../../src/collect/geo.ts';
import { Storage } from '../../src/db/storage.ts';
import { newLead } from '../../src/leads/lead.ts';
import { removeDir, tempDir } from '../support/harness.ts';

test('search folds Turkish and Portuguese letters and case, and finds email', () => {
  const dir = tempDir('search');
  const storage = Storage.open(join(dir, 'leads.db'));
  try {
    const add = (name: string, email: string | undefined, phone: string, refCode?: string) =>
      storage.leads.create(newLead({ eventId: undefined, name, phone, email, message: undefined, service: undefined, extra: undefined, refCode, consentAds: undefined, consentPersonalization: undefined, visitorId: undefined, sessionId: undefined, pageUrl: undefined, referrer: undefined, attribution: {} }, { source: 'form', clientIp: undefined, userAgent: undefined, geo: NO_GEO })).lead.name;
    add('İbrahim Yılmaz', undefined, '+905321110001');
    add('AYŞE ÇELİK', 'ayse@ornek.com.tr', '+905321110002');
    add('João Conceição', 'joao@exemplo.com.br', '+5511999990000', 'K7Q2M');
    add('Irmak Işık', undefined, '+905321110003');
    const find = (q: string) => storage.leads.list({ q }).leads.map((l) => l.name).sort();
    assert.deepEqual(find('ibrahim'), ['İbrahim Yılmaz']);
    assert.deepEqual(find('IBRAHIM'), ['İbrahim Yılmaz']);
    assert.deepEqual(find('yilmaz'), ['İbrahim Yılmaz']);
    assert.deepEqual(find('Ayşe'), ['AYŞE ÇELİK']);
    assert.deepEqual(find('ayse celik'), ['AYŞE ÇELİK']);
    assert.deepEqual(find('joao'), ['João Conceição']);
    assert.deepEqual(find('CONCEICAO'), ['João Conceição']);
    assert.deepEqual(find('exemplo.com'), ['João Conceição'], 'by email');
    assert.deepEqual(find('ornek'), ['AYŞE ÇELİK'], 'by email');
    assert.deepEqual(find('ışık'), ['Irmak Işık']);
    assert.deepEqual(find('irmak'), ['Irmak Işık']);
    assert.deepEqual(find('1110002'), ['AYŞE ÇELİK'], 'by phone digits');
    assert.deepEqual(find('k7q2m'), ['João Conceição'], 'by WhatsApp code');
    assert.deepEqual(find('a%'), [], 'LIKE wildcards are taken literally');
    assert.deepEqual(find('_'), [], 'LIKE wildcards are taken literally');
  } finally {
    storage.close();
    removeDir(dir);
  }
});
