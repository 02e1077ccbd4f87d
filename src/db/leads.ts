// Leads in SQLite: created idempotently (by the client's eventId, or the Google lead id), listed
// and searched for the owner, changed with a history row per field, marked sold. Hooks run inside
// the same transaction as the change, so the outbox jobs a change causes commit with it or not at all.
import { randomUUID } from 'node:crypto';
import { foldText, type Db } from './database.ts';

export const LEAD_SOURCES = ['form', 'call', 'whatsapp', 'google_lead_form', 'checkout'] as const;
export type LeadSource = (typeof LEAD_SOURCES)[number];

export const LEAD_STATUSES = ['NEW', 'CONTACTED', 'QUOTED', 'SOLD', 'LOST'] as const;
export type LeadStatus = (typeof LEAD_STATUSES)[number];

/** A row of the leads table. */
export interface Lead {
  id: string;
  event_id: string | null;
  source: LeadSource;
  status: LeadStatus;
  is_test: number;
  name: string | null;
  phone: string | null;
  email: string | null;
  message: string | null;
  service: string | null;
  extra: string | null;
  ref_code: string | null;
  gclid: string | null;
  gbraid: string | null;
  wbraid: string | null;
  fbclid: string | null;
  msclkid: string | null;
  fbc: string | null;
  fbp: string | null;
  utm_source: string | null;
  utm_medium: string | null;
  utm_campaign: string | null;
  utm_term: string | null;
  utm_content: string | null;
  /** Meta's {{campaign.id}} (or any platform's campaign id) from the landing URL. */
  utm_id: string | null;
  /** The Google campaign, ad group and keyword the lead's gclid resolves to (click_view), once looked up. */
  ad_campaign_id: string | null;
  ad_campaign: string | null;
  ad_group: string | null;
  ad_keyword: string | null;
  ad_resolved_at: number | null;
  landing_page: string | null;
  page_url: string | null;
  referrer: string | null;
  visitor_id: string | null;
  session_id: string | null;
  client_ip: string | null;
  /** The client's network: its IPv4 address, or the /64 of an IPv6 one (one household or phone). */
  client_net: string | null;
  user_agent: string | null;
  country: string | null;
  region: string | null;
  city: string | null;
  consent_ads: number | null;
  /** ad_personalization as the page's Consent Mode had it (1, 0), or null when not known. */
  consent_personalization: number | null;
  google_campaign_id: string | null;
  google_form_id: string | null;
  sale_value: number | null;
  sale_currency: string | null;
  sold_at: number | null;
  /** The price quoted to the person (Send price), in CURRENCY. */
  quote_value: number | null;
  note: string | null;
  /** Set when retention removed the contact data (the lead still counts in the figures). */
  anonymised_at: number | null;
  /** Held by a spam check: stored, but not notified nor sent to ad platforms. */
  flag: string | null;
  /** A sale paid on a hosted checkout: the platform (hotmart, kiwify, stripe) and the transaction of its first payment. */
  checkout: string | null;
  checkout_ref: string | null;
  created_at: number;
  updated_at: number;
}

/** A sale dated (by the owner or a CRM) more than a minute before its lead arrived: no click of the lead can have earned it. */
export function soldBeforeLead(lead: Lead): boolean {
  return lead.sold_at !== null && lead.sold_at < lead.created_at - 60_000;
}

/** A lead as the intake hands it over: every column but the ones the store fills (id, updated_at, and the later ones). */
export type NewLead = Omit<Lead, 'id' | 'status' | 'updated_at' | 'sale_value' | 'sale_currency' | 'sold_at' | 'quote_value' | 'note' | 'anonymised_at' | 'ad_campaign_id' | 'ad_campaign' | 'ad_group' | 'ad_keyword' | 'ad_resolved_at' | 'checkout' | 'checkout_ref'>;

export interface HistoryEntry {
  at: number;
  actor: string;
  field: string;
  old_value: string | null;
  new_value: string | null;
}

export interface Sale {
  value: number;
  currency: string;
  at: number;
  /** Paid on a hosted checkout: its platform and transaction (kept from the first payment). */
  checkout?: { platform: string; ref: string };
}

type Hook<T> = (lead: Lead, detail: T) => void;

const PAGE_SIZE = 50;

export class LeadStore {
  /** Run inside the creating transaction, once per new lead (not on an idempotent replay). */
  readonly onCreate: Array<Hook<undefined>> = [];
  /** Run inside the transaction that marks a lead sold (the conversions issue adds its jobs here). */
  readonly onSale: Array<Hook<Sale>> = [];

  constructor(private readonly db: Db) {}

    /** Stores a lead, or returns the one this eventId already made. */
  create(row: NewLead): { lead: Lead; created: boolean } {
    return this.db.transaction(() => {
      if (row.event_id !== null) {
        const existing = this.findByEventId(row.event_id);
        if (existing) return { lead: existing, created: false };
      }
      const stored = { id: randomUUID(), ...row, updated_at: row.created_at };
      const columns = Object.keys(stored);
      this.db.prepare(`INSERT INTO leads (${columns.join(', ')}) VALUES (${columns.map((c) => '@' + c).join(', ')})`).run(stored);
      this.db.prepare('INSERT INTO lead_history (lead_id, at, actor, field, old_value, new_value) VALUES (?, ?, ?, ?, NULL, ?)').run(stored.id, row.created_at, row.source, 'status', 'NEW');
      const lead = this.get(stored.id)!;
      for (const hook of this.onCreate) hook(lead, undefined);
      return { lead, created: true };
    })();
  }

  /** Call and WhatsApp click leads since `since` that have no number yet, newest first: the candidates for a number the owner shares. */
  contactClicksWithoutPhone(since: number, limit = 20): Lead[] {
    return this.db.prepare("SELECT * FROM leads WHERE source IN ('call', 'whatsapp') AND phone IS NULL AND is_test = 0 AND created_at >= ? ORDER BY created_at DESC LIMIT ?").all(since, limit) as Lead[];
  }

  /** Leads since `since` whose Google click was not looked up for good yet (click_view). */
  unresolvedGoogleClicks(since: number): Array<{ id: string; gclid: string; created_at: number }> {
    return this.db.prepare('SELECT id, gclid, created_at FROM leads WHERE gclid IS NOT NULL AND ad_resolved_at IS NULL AND created_at >= ? ORDER BY created_at').all(since) as Array<{ id: string; gclid: string; created_at: number }>;
  }

  /** Records what the lead's click resolved to; undefined = looked up for good and not found. */
  resolveGoogleClick(id: string, click: { campaignId: string; campaign: string; adGroup: string; keyword: string } | undefined, now = Date.now()): void {
    this.db
      .prepare('UPDATE leads SET ad_campaign_id = ?, ad_campaign = ?, ad_group = ?, ad_keyword = ?, ad_resolved_at = ? WHERE id = ?')
      .run(click?.campaignId ?? null, click?.campaign || null, click?.adGroup || null, click?.keyword || null, now, id);
  }

  findByEventId(eventId: string): Lead | undefined {
    return this.db.prepare('SELECT * FROM leads WHERE event_id = ?').get(eventId) as Lead | undefined;
  }

  get(id: string): Lead | undefined {
    return this.db.prepare('SELECT * FROM leads WHERE id = ?').get(id) as Lead | undefined;
  }

  /** Newest first; `q` matches phone digits, name or WhatsApp ref code; `cursor` comes from the previous page. */
  list(filter: { status?: LeadStatus; q?: string; cursor?: string; limit?: number }): { leads: Lead[]; nextCursor: string | undefined } {
    const where: string[] = [];
    const params: unknown[] = [];
    if (filter.status) {
      where.push('status = ?');
      params.push(filter.status);
    }
    if (filter.q) {
      const digits = filter.q.replace(/\D/g, '');
      const like = `%${foldText(filter.q.trim()).replace(/[\\%_]/g, (c) => '\\' + c)}%`;
      const clauses = ["lc_fold(name) LIKE ? ESCAPE '\\'", "lc_fold(email) LIKE ? ESCAPE '\\'", 'ref_code = ?'];
      params.push(like, like, filter.q.trim().toUpperCase());
      if (digits.length >= 3) {
        clauses.push('phone LIKE ?');
        params.push(`%${digits}%`);
      }
      where.push(`(${clauses.join(' OR ')})`);
    }
    // rowid grows with every insert: newest first without ties, and a stable cursor.
    const after = decodeCursor(filter.cursor);
    if (after !== undefined) {
      where.push('rowid < ?');
      params.push(after);
    }
    const limit = filter.limit ?? PAGE_SIZE;
    const rows = this.db
      .prepare(`SELECT rowid AS seq, * FROM leads ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY rowid DESC LIMIT ?`)
      .all(...params, limit + 1) as Array<Lead & { seq: number }>;
    const more = rows.length > limit;
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return { leads: page.map(({ seq: _seq, ...lead }) => lead), nextCursor: more && last ? encodeCursor(last.seq) : undefined };
  }

  /** The most recent lead with this (normalised) phone, email or WhatsApp ref code, in that order of preference. */
  findByContact(contact: { phone?: string; email?: string; refCode?: string }): Lead | undefined {
    for (const [column, value] of [['phone', contact.phone], ['email', contact.email], ['ref_code', contact.refCode]] as const) {
      if (!value) continue;
      const lead = this.db.prepare(`SELECT * FROM leads WHERE ${column} = ? ORDER BY rowid DESC LIMIT 1`).get(value) as Lead | undefined;
      if (lead) return lead;
    }
    return undefined;
  }

  /** This visitor's most recent lead (the tracker's visitor id). */
  latestOfVisitor(visitorId: string): Lead | undefined {
    return this.db.prepare('SELECT * FROM leads WHERE visitor_id = ? ORDER BY rowid DESC LIMIT 1').get(visitorId) as Lead | undefined;
  }

  /** Leads since `since` from this network (client_net) or with this phone: the flood checks count them. */
  countSince(column: 'client_net' | 'phone', value: string, since: number): number {
    return this.db.prepare(`SELECT count(*) FROM leads WHERE ${column} = ? AND created_at >= ?`).pluck().get(value, since) as number;
  }

  history(id: string): HistoryEntry[] {
    return this.db.prepare('SELECT at, actor, field, old_value, new_value FROM lead_history WHERE lead_id = ? ORDER BY at, id').all(id) as HistoryEntry[];
  }

  /** Changes status, phone or note; one history row per changed field. */
  update(id: string, changes: { status?: LeadStatus; phone?: string; note?: string; quote_value?: number }, actor: string): Lead | undefined {
    return this.db.transaction(() => {
      const lead = this.get(id);
      if (!lead) return undefined;
      const now = Date.now();
      for (const [field, value] of Object.entries(changes) as Array<[keyof typeof changes, string | number | undefined]>) {
        if (value === undefined || lead[field] === value) continue;
        this.db.prepare(`UPDATE leads SET ${field} = ?, updated_at = ? WHERE id = ?`).run(value, now, id);
        this.db.prepare('INSERT INTO lead_history (lead_id, at, actor, field, old_value, new_value) VALUES (?, ?, ?, ?, ?, ?)').run(id, now, actor, field, lead[field], value);
      }
      const updated = this.get(id)!;
      // LOST after SOLD takes the sale back (a refund, a cancelled job): the uploads restate it to 0.
      if (lead.status === 'SOLD' && updated.status === 'LOST' && lead.sold_at !== null) {
        for (const hook of this.onSale) hook(updated, { value: 0, currency: lead.sale_currency ?? '', at: lead.sold_at });
      }
      return updated;
    })();
  }

  /** A line in the lead's history from the system (what an upload did or could not do). */
  remark(id: string, actor: string, field: string, text: string, now = Date.now()): void {
    this.db.prepare('INSERT INTO lead_history (lead_id, at, actor, field, old_value, new_value) VALUES (?, ?, ?, ?, NULL, ?)').run(id, now, actor, field, text);
  }

  /** Marks a lead SOLD with its revenue. Repeating the same sale changes nothing; a different one restates it. */
  recordSale(id: string, sale: Sale, actor: string): { lead: Lead; changed: boolean } | undefined {
    return this.db.transaction(() => {
      const lead = this.get(id);
      if (!lead) return undefined;
      if (lead.status === 'SOLD' && lead.sale_value === sale.value && lead.sale_currency === sale.currency && lead.sold_at === sale.at) return { lead, changed: false };
      const now = Date.now();
      this.db.prepare("UPDATE leads SET status = 'SOLD', sale_value = ?, sale_currency = ?, sold_at = ?, updated_at = ? WHERE id = ?").run(sale.value, sale.currency, sale.at, now, id);
      if (sale.checkout && lead.checkout_ref === null) this.db.prepare('UPDATE leads SET checkout = ?, checkout_ref = ? WHERE id = ?').run(sale.checkout.platform, sale.checkout.ref, id);
      const history = this.db.prepare('INSERT INTO lead_history (lead_id, at, actor, field, old_value, new_value) VALUES (?, ?, ?, ?, ?, ?)');
      if (lead.status !== 'SOLD') history.run(id, now, actor, 'status', lead.status, 'SOLD');
      history.run(id, now, actor, 'sale', lead.sale_value === null ? null : `${lead.sale_value} ${lead.sale_currency}`, `${sale.value} ${sale.currency} at ${new Date(sale.at).toISOString()}`);
      const updated = this.get(id)!;
      for (const hook of this.onSale) hook(updated, sale);
      return { lead: updated, changed: true };
    })();
  }
}

function encodeCursor(seq: number): string {
  return Buffer.from(`lead:${seq}`).toString('base64url');
}

function decodeCursor(cursor: string | undefined): number | undefined {
  if (!cursor) return undefined;
  const seq = Number(/^lead:(\d+)$/.exec(Buffer.from(cursor, 'base64url').toString())?.[1]);
  return Number.isInteger(seq) ? seq : undefined;
}
