// Where analytics rows go in: appended to the journal (durable before anyone is answered), then
// the batcher is told there is more for ClickHouse. Beacons from /collect and lead events alike.
import type { Batcher } from './batcher.ts';
import type { Journal } from './journal.ts';
import { encodeRows } from './row-format.ts';
import type { EventRow } from './schema.ts';

export class EventSink {
  /** The journal turn the batcher was last told about: appends of one turn share a promise. */
  private told: Promise<void> | undefined;

  constructor(private readonly journal: Journal, private readonly batcher: Batcher) {}

  /** The journal is at JOURNAL_MAX_BYTES: a write would be refused. */
  full(): boolean {
    return this.journal.full();
  }

  /**
   * Resolves once the rows are journaled; rejects (JournalFullError, or the write error) when not.
   * `plainText`: see encodeRows.
   */
  write(rows: EventRow[], plainText = false): Promise<void> {
    const written = this.journal.append(encodeRows(rows, plainText), rows.length);
    // Once per turn, not per request: a continuation per beacon costs more than the check it runs.
    if (written !== this.told) {
      this.told = written;
      written.then(() => this.batcher.added(), () => undefined);
    }
    return written;
  }
}
