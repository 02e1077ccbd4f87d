// What the owner's phone says, in the business's language (LOCALE): English, Turkish, Brazilian
// Portuguese — the same languages as the owner's app.
import type { Lead } from '../db/leads.ts';

/** Something the owner is told that is not a lead: each part says what happened, this file says it in his language. */
export type OwnerAlert =
  | { kind: 'backup-failed'; error: string }
  | { kind: 'backup-late'; hours: number | undefined }
  | { kind: 'signal-drop'; platform: 'google' | 'meta'; lastWeek: string; weekBefore: string }
  | { kind: 'spend-no-leads'; campaign: string; spend: string }
  | { kind: 'cpl-doubled'; campaign: string; cpl: string; before: string };

export interface NotifyTexts {
  newLead: (source: Lead['source'], who: string, test: boolean) => string;
  campaign: (name: string) => string;
  /** A sale a checkout reported: its value, and how the buyer came ("via Google · campaign Y"). */
  saleTitle: (value: string) => string;
  via: (platform: string) => string;
  noClick: string;
  floodTitle: string;
  floodBody: string;
  testTitle: string;
  testBody: string;
  digestTitle: string;
  digestSales: (n: number, revenue: string) => string;
  digestPlatforms: (googleAccepted: number, googleSales: number, metaAccepted: number, metaSales: number) => string;
  digestCampaign: (name: string, revenue: string) => string;
  digestKeyword: (keyword: string, leads: number) => string;
  digestWaiting: (n: number) => string;
  alert: (a: OwnerAlert) => { title: string; body: string };
}

const en: NotifyTexts = {
  newLead: (source, who, test) => `New lead (${({ form: 'form', call: 'call click', whatsapp: 'WhatsApp click', google_lead_form: 'Google lead form', checkout: 'checkout' })[source]})${who}${test ? ' [test]' : ''}`,
  campaign: (name) => `campaign ${name}`,
  saleTitle: (value) => `Sale: ${value}`,
  via: (platform) => `via ${platform}`,
  noClick: 'no ad click known',
  floodTitle: 'Leads held',
  floodBody: 'Many leads from one source within an hour: they are held in the app, not notified one by one.',
  testTitle: 'Lean Capture',
  testBody: 'Test notification',
  digestTitle: 'Your week',
  digestSales: (n, revenue) => `${n} ${n === 1 ? 'sale' : 'sales'}, ${revenue}`,
  digestPlatforms: (ga, gs, ma, ms) => `Google accepted ${ga} of ${gs} sales, Meta ${ma} of ${ms}`,
  digestCampaign: (name, revenue) => `Best campaign: ${name} (${revenue})`,
  digestKeyword: (keyword, leads) => `Best keyword: ${keyword} (${leads} ${leads === 1 ? 'lead' : 'leads'})`,
  digestWaiting: (n) => `${n} ${n === 1 ? 'lead waits' : 'leads wait'} for an answer`,
  alert: (a) => {
    switch (a.kind) {
      case 'backup-failed': return { title: 'Backup failed', body: a.error };
      case 'backup-late': return { title: 'Backups are late', body: a.hours === undefined ? 'No backup has succeeded yet.' : `The last good backup is ${a.hours} hours old.` };
      case 'signal-drop': return a.platform === 'google'
        ? { title: 'Google can credit fewer leads', body: `Leads with a Google click id: ${a.lastWeek} this week, ${a.weekBefore} the week before. Likely cause: auto-tagging switched off in Google Ads, the t.js tag missing from a landing page, or a consent banner now refusing by default. Run the connections check (Settings → Connections).` }
        : { title: 'Meta can credit fewer leads', body: `Leads with a Meta click id (with consent): ${a.lastWeek} this week, ${a.weekBefore} the week before. Likely cause: the t.js tag missing from a landing page, Meta ads without their fbclid, or a consent banner now refusing by default. Run the connections check (Settings → Connections).` };
      case 'spend-no-leads': return { title: `${a.campaign}: spend, no lead`, body: `${a.campaign} spent ${a.spend} in the last 7 days and brought no lead. Check the ad, its landing page and the tag (Settings → Connections).` };
      case 'cpl-doubled': return { title: `${a.campaign}: cost per lead doubled`, body: `${a.campaign}: ${a.cpl} per lead in the last 7 days, ${a.before} the 7 days before.` };
    }
  },
};

const tr: NotifyTexts = {
  newLead: (source, who, test) => `Yeni talep (${({ form: 'form', call: 'arama tıklaması', whatsapp: 'WhatsApp tıklaması', google_lead_form: 'Google formu', checkout: 'ödeme sayfası' })[source]})${who}${test ? ' [test]' : ''}`,
  campaign: (name) => `kampanya ${name}`,
  saleTitle: (value) => `Satış onaylandı: ${value}`,
  via: (platform) => `${platform} üzerinden`,
  noClick: 'bilinen bir reklam tıklaması yok',
  floodTitle: 'Talepler bekletildi',
  floodBody: 'Bir saat içinde tek kaynaktan çok sayıda talep geldi: tek tek bildirilmiyor, uygulamada bekletiliyor.',
  testTitle: 'Lean Capture',
  testBody: 'Deneme bildirimi',
  digestTitle: 'Haftanız',
  digestSales: (n, revenue) => `${n} satış, ${revenue}`,
  digestPlatforms: (ga, gs, ma, ms) => `Google ${gs} satıştan ${ga} tanesini, Meta ${ms} satıştan ${ma} tanesini kabul etti`,
  digestCampaign: (name, revenue) => `En iyi kampanya: ${name} (${revenue})`,
  digestKeyword: (keyword, leads) => `En iyi anahtar kelime: ${keyword} (${leads} talep)`,
  digestWaiting: (n) => `${n} talep yanıt bekliyor`,
  alert: (a) => {
    switch (a.kind) {
      case 'backup-failed': return { title: 'Yedekleme başarısız', body: a.error };
      case 'backup-late': return { title: 'Yedekler gecikti', body: a.hours === undefined ? 'Henüz başarılı bir yedek yok.' : `Son başarılı yedek ${a.hours} saat önce alındı.` };
      case 'signal-drop': return a.platform === 'google'
        ? { title: 'Google daha az talebi reklama yazabiliyor', body: `Google tıklama kimliği olan talepler: bu hafta ${a.lastWeek}, geçen hafta ${a.weekBefore}. Olası neden: Google Ads'te otomatik etiketleme kapatıldı, bir giriş sayfasında t.js etiketi yok ya da çerez bandı artık varsayılan olarak reddediyor. Bağlantı kontrolünü çalıştırın (Ayarlar → Bağlantılar).` }
        : { title: 'Meta daha az talebi reklama yazabiliyor', body: `Meta tıklama kimliği olan (izinli) talepler: bu hafta ${a.lastWeek}, geçen hafta ${a.weekBefore}. Olası neden: bir giriş sayfasında t.js etiketi yok, Meta reklamları fbclid olmadan geliyor ya da çerez bandı artık varsayılan olarak reddediyor. Bağlantı kontrolünü çalıştırın (Ayarlar → Bağlantılar).` };
      case 'spend-no-leads': return { title: `${a.campaign}: harcama var, talep yok`, body: `${a.campaign} son 7 günde ${a.spend} harcadı ve hiç talep getirmedi. Reklamı, giriş sayfasını ve etiketi kontrol edin (Ayarlar → Bağlantılar).` };
      case 'cpl-doubled': return { title: `${a.campaign}: talep başına maliyet iki katına çıktı`, body: `${a.campaign}: son 7 günde talep başına ${a.cpl}, önceki 7 günde ${a.before}.` };
    }
  },
};

const ptBR: NotifyTexts = {
  newLead: (source, who, test) => `Novo contato (${({ form: 'formulário', call: 'clique para ligar', whatsapp: 'clique no WhatsApp', google_lead_form: 'formulário do Google', checkout: 'checkout' })[source]})${who}${test ? ' [teste]' : ''}`,
  campaign: (name) => `campanha ${name}`,
  saleTitle: (value) => `Venda aprovada: ${value}`,
  via: (platform) => `via ${platform}`,
  noClick: 'sem clique de anúncio conhecido',
  floodTitle: 'Contatos retidos',
  floodBody: 'Muitos contatos da mesma origem em uma hora: ficam retidos no app, sem uma notificação para cada um.',
  testTitle: 'Lean Capture',
  testBody: 'Notificação de teste',
  digestTitle: 'Sua semana',
  digestSales: (n, revenue) => `${n} ${n === 1 ? 'venda' : 'vendas'}, ${revenue}`,
  digestPlatforms: (ga, gs, ma, ms) => `Google aceitou ${ga} de ${gs} vendas, Meta ${ma} de ${ms}`,
  digestCampaign: (name, revenue) => `Melhor campanha: ${name} (${revenue})`,
  digestKeyword: (keyword, leads) => `Melhor palavra-chave: ${keyword} (${leads} ${leads === 1 ? 'contato' : 'contatos'})`,
  digestWaiting: (n) => `${n} ${n === 1 ? 'contato aguarda' : 'contatos aguardam'} resposta`,
  alert: (a) => {
    switch (a.kind) {
      case 'backup-failed': return { title: 'O backup falhou', body: a.error };
      case 'backup-late': return { title: 'Os backups estão atrasados', body: a.hours === undefined ? 'Nenhum backup deu certo ainda.' : `O último backup bom tem ${a.hours} horas.` };
      case 'signal-drop': return a.platform === 'google'
        ? { title: 'O Google pode creditar menos contatos', body: `Contatos com ID de clique do Google: ${a.lastWeek} nesta semana, ${a.weekBefore} na anterior. Causa provável: a marcação automática desligada no Google Ads, a tag t.js faltando numa página de entrada ou um banner de cookies que agora recusa por padrão. Rode a verificação de conexões (Ajustes → Conexões).` }
        : { title: 'A Meta pode creditar menos contatos', body: `Contatos com ID de clique da Meta (com consentimento): ${a.lastWeek} nesta semana, ${a.weekBefore} na anterior. Causa provável: a tag t.js faltando numa página de entrada, anúncios da Meta sem o fbclid ou um banner de cookies que agora recusa por padrão. Rode a verificação de conexões (Ajustes → Conexões).` };
      case 'spend-no-leads': return { title: `${a.campaign}: investimento sem contatos`, body: `${a.campaign} investiu ${a.spend} nos últimos 7 dias e não trouxe nenhum contato. Confira o anúncio, a página de entrada e a tag (Ajustes → Conexões).` };
      case 'cpl-doubled': return { title: `${a.campaign}: o custo por contato dobrou`, body: `${a.campaign}: ${a.cpl} por contato nos últimos 7 dias, ${a.before} nos 7 dias anteriores.` };
    }
  },
};

/** The texts for a BCP 47 locale: tr-* → Turkish, pt-* → Portuguese, anything else English. */
export function notifyTexts(locale: string): NotifyTexts {
  const base = locale.split('-')[0]!.toLowerCase();
  return base === 'tr' ? tr : base === 'pt' ? ptBR : en;
}

// Formatters are kept: building a date format costs ICU ~0.13 ms and ~30 KB of memory V8 does not
// count (a number format ~0.08 ms), so one per lead left glibc's heap tens of MB larger after a
// fuzz run (heaptrack: 3 600 leads, 22 MB at peak in date-format symbols alone). Keys are few
// (the owner's locale, a currency, a format); the cap only guards against a store of odd currencies.
const formats = new Map<string, Intl.NumberFormat | Intl.DateTimeFormat>();
const FORMATS_MOST = 64;

function kept<T extends Intl.NumberFormat | Intl.DateTimeFormat>(key: string, make: () => T): T {
  let format = formats.get(key) as T | undefined;
  if (!format) {
    if (formats.size >= FORMATS_MOST) formats.clear();
    formats.set(key, (format = make()));
  }
  return format;
}

/** An amount as the owner reads it: "R$ 497,00", "₺1.250,00", "$12.00". */
export function money(value: number, currency: string, locale: string): string {
  return kept(`money ${locale} ${currency}`, () => new Intl.NumberFormat(locale, { style: 'currency', currency })).format(value);
}

/** The time of day of a moment, as the owner reads it ("14:05", "02:05 PM"). */
export function clock(ms: number, locale: string): string {
  return kept(`clock ${locale}`, () => new Intl.DateTimeFormat(locale, { hour: '2-digit', minute: '2-digit' })).format(ms);
}
