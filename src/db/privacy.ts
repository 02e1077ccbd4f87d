// Personal data in SQLite on request or on schedule: a person's leads found and deleted (their
// history and deliveries go by cascade), and closed leads anonymised once their retention ends.
import type { Db } from './database.ts';

const DAY = 86_400_000;

export class PersonalData {
  constructor(private readonly db: Db) {}

  /** Leads with this phone, email or visitor id, with the visitor id each came from. */
  leadsOf(person: { phone: string | null; email: string | null; visitorId: string | null }): Array<{ id: string; visitor_id: string | null }> {
    return this.db.prepare('SELECT id, visitor_id FROM leads WHERE phone = ? OR email = ? OR visitor_id = ?').all(person.phone, person.email, person.visitorId) as Array<{ id: string; visitor_id: string | null }>;
  }

  /** Deletes these leads with their history and deliveries; says how many rows went. */
  deleteLeads(ids: string[]): { leads: number; history: number; deliveries: number } {
    const report = this.db.transaction(() => {
      const count = (sql: string) => ids.reduce((n, id) => n + (this.db.prepare(sql).pluck().get(id) as number), 0);
      const history = count('SELECT count(*) FROM lead_history WHERE lead_id = ?');
      const deliveries = count('SELECT count(*) FROM outbox WHERE lead_id = ?');
      const remove = this.db.prepare('DELETE FROM leads WHERE id = ?'); // history and outbox rows cascade
      for (const id of ids) remove.run(id);
      return { leads: ids.length, history, deliveries };
    })();
    // secure_delete zeroes the freed pages; the checkpoint moves them out of the WAL file too.
    this.db.pragma('wal_checkpoint(TRUNCATE)');
    return report;
  }

  /** Contact and device data of leads closed more than `days` ago; returns how many were anonymised. */
  anonymiseClosedLeads(days: number, now = Date.now()): number {
    if (days === 0) return 0;
    return this.db.transaction(() => {
      const ids = this.db.prepare("SELECT id FROM leads WHERE status IN ('SOLD', 'LOST') AND updated_at < ? AND anonymised_at IS NULL").pluck().all(now - days * DAY) as string[];
      const clear = this.db.prepare(`UPDATE leads SET name = NULL, phone = NULL, email = NULL, message = NULL, extra = NULL, note = NULL, ref_code = NULL,
        client_ip = NULL, client_net = NULL, user_agent = NULL, visitor_id = NULL, session_id = NULL, fbc = NULL, fbp = NULL, gclid = NULL, gbraid = NULL, wbraid = NULL,
        fbclid = NULL, msclkid = NULL, page_url = NULL, landing_page = NULL, referrer = NULL, anonymised_at = ? WHERE id = ?`);
      // History keeps status and sale changes; the old and new values of contact fields go.
      const history = this.db.prepare("DELETE FROM lead_history WHERE lead_id = ? AND field IN ('phone', 'note')");
      // Delivered notifications' texts may hold the name; their rows stay for the counts.
      const deliveries = this.db.prepare("UPDATE outbox SET payload = '{}' WHERE lead_id = ? AND state IN ('done', 'dead')");
      for (const id of ids) {
        clear.run(now, id);
        history.run(id);
        deliveries.run(id);
      }
      return ids.length;
    })();
  }
}
