// What the owner's phone says, in the business's language (LOCALE): English, Turkish, Brazilian
// Portuguese — the same languages as the owner's app.
import type { Lead } from '../db/leads.ts';

export interface NotifyTexts {
  newLead: (source: Lead['source'], who: string, test: boolean) => string;
  campaign: (name: string) => string;
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
}

const en: NotifyTexts = {
  newLead: (source, who, test) => `New lead (${({ form: 'form', call: 'call click', whatsapp: 'WhatsApp click', google_lead_form: 'Google lead form' })[source]})${who}${test ? ' [test]' : ''}`,
  campaign: (name) => `campaign ${name}`,
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
};

const tr: NotifyTexts = {
  newLead: (source, who, test) => `Yeni talep (${({ form: 'form', call: 'arama tıklaması', whatsapp: 'WhatsApp tıklaması', google_lead_form: 'Google formu' })[source]})${who}${test ? ' [test]' : ''}`,
  campaign: (name) => `kampanya ${name}`,
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
};

const ptBR: NotifyTexts = {
  newLead: (source, who, test) => `Novo contato (${({ form: 'formulário', call: 'clique para ligar', whatsapp: 'clique no WhatsApp', google_lead_form: 'formulário do Google' })[source]})${who}${test ? ' [teste]' : ''}`,
  campaign: (name) => `campanha ${name}`,
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
};

/** The texts for a BCP 47 locale: tr-* → Turkish, pt-* → Portuguese, anything else English. */
export function notifyTexts(locale: string): NotifyTexts {
  const base = locale.split('-')[0]!.toLowerCase();
  return base === 'tr' ? tr : base === 'pt' ? ptBR : en;
}
