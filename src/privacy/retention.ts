// Retention: events expire from ClickHouse after EVENT_RETENTION_DAYS (a table TTL, enforced by
// ClickHouse's merges); leads keep their contact data for LEAD_RETENTION_DAYS after they were
// closed (SOLD or LOST, last changed), then are anonymised: who they were goes, what they were
// worth stays, so the figures do not change. 0 keeps everything.
import type { PersonalData } from '../db/privacy.ts';
import type { ClickHouse } from '../events/clickhouse.ts';
import type { Logger } from '../log.ts';

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

/** Anonymises closed leads past LEAD_RETENTION_DAYS now and every hour; returns the function that stops it. */
export function keepLeadRetention(data: PersonalData, days: number, log: Logger): () => void {
  const run = () => {
    const n = data.anonymiseClosedLeads(days);
    if (n > 0) log.info({ leads: n, days }, 'closed leads anonymised (retention)');
  };
  run();
  const timer = setInterval(run, 3_600_000);
  timer.unref();
  return () => clearInterval(timer);
}
