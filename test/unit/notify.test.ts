// The owner's notifications speak the business's language (LOCALE): English, Turkish, Portuguese.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Lead } from '../../src/db/leads.ts';
import { notification } from '../../src/notify/notify.ts';
import { clock, money } from '../../src/notify/texts.ts';

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

test("the weekly digest's numbers are the week's, in the owner's language, on Monday at 08:00 in the business's zone", async () => {
  const { join } = await import('node:path');
  const { Storage } = await import('../../src/db/storage.ts');
  const { newLead } = await import('../../src/leads/lead.ts');
  const { NO_GEO } = await import('../../src/collect/geo.ts');
  const { digestNotification, isDigestHour, weeklyDigest } = await import('../../src/notify/digest.ts');
  const { removeDir, tempDir } = await import('../support/harness.ts');
  const dir = tempDir('digest');
  const storage = Storage.open(join(dir, 'leads.db'));
  try {
    const now = Date.now();
    const add = (name: string, campaign: string, daysAgo: number) =>
      storage.leads.create(newLead({ eventId: undefined, name, phone: '+905321110001', email: undefined, message: undefined, service: undefined, extra: undefined, refCode: undefined, consentAds: true, consentPersonalization: undefined, visitorId: undefined, sessionId: undefined, pageUrl: undefined, referrer: undefined, attribution: { utm_campaign: campaign, gclid: `G-${name}` } }, { source: 'form', clientIp: undefined, userAgent: undefined, geo: NO_GEO, at: now - daysAgo * 86_400_000 })).lead;
    const a = add('A', 'kombi', 2);
    const b = add('B', 'klima', 3);
    add('C', 'kombi', 1); // still NEW: waiting for an answer
    const old = add('D', 'kombi', 20);
    storage.leads.recordSale(a.id, { value: 1500, currency: 'TRY', at: now - 86_400_000 }, 'owner');
    storage.leads.recordSale(b.id, { value: 500, currency: 'TRY', at: now - 86_400_000 }, 'owner');
    storage.leads.recordSale(old.id, { value: 9999, currency: 'TRY', at: now - 10 * 86_400_000 }, 'owner'); // another week
    storage.outbox.enqueue('google', `google:${a.id}`, a.id, { leadId: a.id });
    const [job] = storage.outbox.claimDue(Date.now() + 1000, 10, 'google');
    storage.outbox.finish(job!, { outcome: 'ok', httpStatus: 200, response: 'accepted' }, 5);

    const digest = weeklyDigest(storage.reports, 'TRY', now);
    assert.deepEqual(digest, { sales: 2, revenue: 2000, google: { sales: 2, accepted: 1 }, meta: { sales: 2, accepted: 0 }, bestCampaign: { name: 'kombi', revenue: 1500 }, bestKeyword: null, waiting: 1 });
    const message = digestNotification(digest, 'tr-TR', 'TRY');
    assert.equal(message.title, 'Haftanız');
    assert.equal(message.body, '2 satış, ₺2.000,00\nGoogle 2 satıştan 1 tanesini, Meta 2 satıştan 0 tanesini kabul etti\nEn iyi kampanya: kombi (₺1.500,00)\n1 talep yanıt bekliyor');
  } finally {
    storage.close();
    removeDir(dir);
  }
  // Monday 2026-11-30 08:30 in Istanbul is 05:30 UTC; 09:00 there is past the hour; Sunday never.
  assert.equal(isDigestHour(Date.parse('2026-11-30T05:30:00Z'), 'Europe/Istanbul'), true);
  assert.equal(isDigestHour(Date.parse('2026-11-30T06:00:00Z'), 'Europe/Istanbul'), false);
  assert.equal(isDigestHour(Date.parse('2026-11-29T05:30:00Z'), 'Europe/Istanbul'), false);
  assert.equal(isDigestHour(Date.parse('2026-11-30T05:30:00Z'), 'America/Sao_Paulo'), false);
});

test("the owner's alerts (backups, signal, spend) speak the business's language", async () => {
  const { notifyTexts } = await import('../../src/notify/texts.ts');
  const late = { kind: 'backup-late', hours: 40 } as const;
  assert.deepEqual(notifyTexts('en-US').alert(late), { title: 'Backups are late', body: 'The last good backup is 40 hours old.' });
  assert.deepEqual(notifyTexts('tr-TR').alert(late), { title: 'Yedekler gecikti', body: 'Son başarılı yedek 40 saat önce alındı.' });
  assert.deepEqual(notifyTexts('pt-BR').alert({ kind: 'backup-late', hours: undefined }), { title: 'Os backups estão atrasados', body: 'Nenhum backup deu certo ainda.' });
  assert.match(notifyTexts('tr-TR').alert({ kind: 'signal-drop', platform: 'google', lastWeek: '10%', weekBefore: '57%' }).body, /^Google tıklama kimliği olan talepler: bu hafta 10%, geçen hafta 57%\. Olası neden: Google Ads'te otomatik etiketleme kapatıldı/);
  assert.equal(notifyTexts('pt-BR').alert({ kind: 'cpl-doubled', campaign: 'Curso X', cpl: 'R$ 40,00', before: 'R$ 18,00' }).title, 'Curso X: o custo por contato dobrou');
});

test('amounts and times keep their own currency and locale while the formatters are reused', () => {
  const nbsp = (s: string) => s.replace(/[\u00a0\u202f]/g, ' ');
  for (let round = 0; round < 2; round++) {
    assert.equal(nbsp(money(497, 'BRL', 'pt-BR')), 'R$ 497,00');
    assert.equal(nbsp(money(12, 'USD', 'pt-BR')), 'US$ 12,00');
    assert.equal(nbsp(money(1250, 'TRY', 'tr-TR')), '₺1.250,00');
    assert.equal(nbsp(money(12, 'USD', 'en-US')), '$12.00');
    assert.match(clock(Date.UTC(2026, 0, 5, 14, 5), 'en-US'), /^\d\d:\d\d\s(AM|PM)$/);
    assert.match(clock(Date.UTC(2026, 0, 5, 14, 5), 'en-GB'), /^\d\d:\d\d$/);
  }
});
