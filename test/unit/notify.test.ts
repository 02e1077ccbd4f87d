// The owner's notifications speak the business's language (LOCALE): English, Turkish, Portuguese.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Lead } from '../../src/db/leads.ts';
import { notification } from '../../src/notify/notify.ts';

const lead = { id: 'l1', source: 'call', name: 'Ayşe', city: 'İstanbul', utm_campaign: 'kombi', ad_campaign: null, is_test: 0, created_at: Date.parse('2026-12-02T09:05:00Z') } as unknown as Lead;

test('a new lead is announced in the language of LOCALE, with its campaign and the local time', () => {
  const say = (locale: string, includeName = false) => notification(lead, { locale, includeName, telegram: false });
  assert.deepEqual([say('en-US').title, say('tr-TR').title, say('pt-BR').title], ['New lead (call click)', 'Yeni talep (arama tıklaması)', 'Novo contato (clique para ligar)']);
  assert.match(say('tr-TR').body, /^İstanbul · kampanya kombi · \d\d:\d\d$/);
  assert.match(say('pt-BR', true).title, /: Ayşe$/);
  assert.equal(say('de-DE').title, 'New lead (call click)', 'a language without texts falls back to English');
  // The campaign the click resolved to (click_view) wins over the URL's utm_campaign.
  assert.match(notification({ ...lead, ad_campaign: 'Acil Tesisatçı' }, { locale: 'tr-TR', includeName: false, telegram: false }).body, /kampanya Acil Tesisatçı/);
});
