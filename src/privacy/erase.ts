// The right to erasure: everything about one person, found by phone, email or visitor id —
// their leads (with history and deliveries, by cascade) in SQLite, and every event of the
// visitor ids linked to them in ClickHouse — removed, and a report of what was. Events still
// waiting in the journal are inserted first, so none arrives after the erasure.
import type { ClickHouse } from '../events/clickhouse.ts';
import type { PersonalData } from '../db/privacy.ts';

export interface ErasureReport {
  leads: number;
  history: number;
  deliveries: number;
  visitorIds: number;
  events: number;
}

export interface Person {
  phone?: string;
  email?: string;
  visitorId?: string;
}

/** ClickHouse's text form of an Array(String) parameter. */
function stringArray(values: string[]): string {
  return `[${values.map((v) => `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`).join(',')}]`;
}

export async function erasePerson(data: PersonalData, clickhouse: ClickHouse, person: Person): Promise<ErasureReport> {
  // Their leads, then every lead of the devices (visitor ids) those leads came from.
  const leads = new Map<string, string | null>();
  const visitorIds = new Set<string>(person.visitorId ? [person.visitorId] : []);
  const addFrom = (phone: string | null, email: string | null, visitor: string | null) => {
    for (const row of data.leadsOf({ phone, email, visitorId: visitor })) {
      leads.set(row.id, row.visitor_id);
      if (row.visitor_id) visitorIds.add(row.visitor_id);
    }
  };
  addFrom(person.phone ?? null, person.email ?? null, person.visitorId ?? null);
  for (const visitor of [...visitorIds]) addFrom(null, null, visitor);

  const ids = [...leads.keys()];
  const filter = { visitors: stringArray([...visitorIds]), leads: stringArray(ids) };
  const where = 'visitor_id IN {visitors:Array(String)} OR toString(event_id) IN {leads:Array(String)}';
  const [before] = await clickhouse.query<{ n: string }>(`SELECT count() AS n FROM events WHERE ${where}`, filter);
  const events = Number(before?.n ?? 0);
  // A mutation rewrites the parts (a lightweight DELETE would only mask the rows on disk); waits for it.
  if (events > 0) await clickhouse.query(`ALTER TABLE events DELETE WHERE ${where} SETTINGS mutations_sync = 2`, filter);

  const report = data.deleteLeads(ids);
  return { ...report, visitorIds: visitorIds.size, events };
}
