// Runs ClickHouse statements on an embedded data directory in a process of its own (chdb opens
// one data directory per process): reads [{sql} | {insert, rows}] as JSON on stdin, prints the
// JSONEachRow output of each statement as a JSON array. Used by clickhouseIn() in the harness.
import { openEmbedded } from '../../src/events/embedded.ts';
import { migrate } from '../../src/events/schema.ts';

const [dataDir] = process.argv.slice(2);
let input = '';
for await (const chunk of process.stdin) input += chunk;
const steps = JSON.parse(input) as Array<{ sql?: string; insert?: string; rows?: string }>;
const db = await openEmbedded(`${dataDir}/clickhouse`, 'lean_capture');
await migrate(db);
const out: string[] = [];
for (const step of steps) {
  if (step.insert) {
    await db.insert(step.insert, Buffer.from(step.rows ?? ''));
    out.push('');
  } else out.push(await db.queryText(step.sql!));
}
await db.close();
process.stdout.write(JSON.stringify(out));
