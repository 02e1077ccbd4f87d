// Where analytics rows go in: appended to the journal (durable before anyone is answered), then
// the batcher is told there is more for ClickHouse. Beacons from /collect and lead events alike.
import type { Batcher } from './batcher.ts';
import type { Journal } from './journal.ts';
import { encodeRows } from './row-format.ts';
import type { EventRow } from './schema.ts';

export class EventSink {
  constructor(private readonly journal: Journal, private readonly batcher: Batcher) {}

  /** The journal is at JOURNAL_MAX_BYTES: a write would be refused. */
  full(): boolean {
    return this.journal.full();
  }

  /** Resolves once the rows are journaled; rejects (JournalFullError, or the write error) when not. */
  write(rows: EventRow[]): Promise<void> {
    return this.journal.append(encodeRows(rows), rows.length).then(() => this.batcher.added());
  }
}
