// Retention: events expire from ClickHouse after EVENT_RETENTION_DAYS (a table TTL, enforced by
// ClickHouse's merges); leads keep their contact data for LEAD_RETENTION_DAYS after they were
// closed (SOLD or LOST, last changed), then are anonymised: who they were goes, what they were
// worth stays, so the figures do not change. 0 keeps everything.
import type { ClickHouse } from '../events/clickhouse.ts';
import type { Db } from '../leads/database.ts';

const DAY = 86_400_000;

/** Sets, changes or removes the events TTL; touches the table only when the setting changed. */
export async function applyEventRetention(clickhouse: ClickHouse, database: string, days: number): Promise<'unchanged' | 'set' | 'removed'> {
  const [table] = await clickhouse.query<{ engine_full: string }>("SELECT engine_full FROM system.tables WHERE database = {db:String} AND name = 'events'", { db: database });
  const current = /TTL toDateTime\(event_time\) \+ toIntervalDay\((\d+)\)/.exec(table?.engine_full ?? '')?.[1];
  if ((current === undefined && days === 0) || Number(current) === days) return 'unchanged';
  if (days === 0) {
    await clickhouse.exec('ALTER TABLE events REMOVE TTL');
    return 'removed';
  }
  await clickhouse.exec(`ALTER TABLE events MODIFY TTL toDateTime(event_time) + toIntervalDay(${Math.floor(days)})`);
  return 'set';
}

/** Contact and device data of leads closed more than `days` ago; returns how many were anonymised. */
export function anonymiseClosedLeads(db: Db, days: number, now = Date.now()): number {
  if (days === 0) return 0;
  return db.transaction(() => {
    const ids = db.prepare("SELECT id FROM leads WHERE status IN ('SOLD', 'LOST') AND updated_at < ? AND anonymised_at IS NULL").pluck().all(now - days * DAY) as string[];
    const clear = db.prepare(`UPDATE leads SET name = NULL, phone = NULL, email = NULL, message = NULL, extra = NULL, note = NULL, ref_code = NULL,
      client_ip = NULL, client_net = NULL, user_agent = NULL, visitor_id = NULL, session_id = NULL, fbc = NULL, fbp = NULL, gclid = NULL, gbraid = NULL, wbraid = NULL,
      fbclid = NULL, msclkid = NULL, page_url = NULL, landing_page = NULL, referrer = NULL, anonymised_at = ? WHERE id = ?`);
    // History keeps status and sale changes; the old and new values of contact fields go.
    const history = db.prepare("DELETE FROM lead_history WHERE lead_id = ? AND field IN ('phone', 'note')");
    // Delivered notifications' texts may hold the name; their rows stay for the counts.
    const deliveries = db.prepare("UPDATE outbox SET payload = '{}' WHERE lead_id = ? AND state IN ('done', 'dead')");
    for (const id of ids) {
      clear.run(now, id);
      history.run(id);
      deliveries.run(id);
    }
    return ids.length;
  })();
}
