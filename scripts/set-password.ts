// npm run set-password: sets or resets the owner's password over SSH, and logs every device out.
// Reads the password from standard input (typed without echo on a terminal, or piped:
// `echo "$PW" | npm run -s set-password`). Works while the server runs (SQLite WAL).
import { createInterface } from 'node:readline';
import { Owner } from '../src/admin/owner.ts';
import { loadEnv, readConfig } from '../src/config.ts';
import { NewerSchema, NotADataDir, Storage } from '../src/db/storage.ts';

process.umask(0o077); // what this writes (leads.db, staging, restored data) holds personal data: owner-only

async function readPassword(prompt: string): Promise<string> {
  const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: process.stdin.isTTY });
  if (process.stdin.isTTY) {
    process.stdout.write(prompt);
    // Echo nothing while the password is typed.
    (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput = () => undefined;
  }
  const line = await new Promise<string>((resolve) => rl.once('line', resolve).once('close', () => resolve('')));
  rl.close();
  if (process.stdin.isTTY) process.stdout.write('\n');
  return line;
}

const config = readConfig(loadEnv());
let storage: Storage;
try {
  storage = Storage.open(config.leads.databasePath, { existing: true });
} catch (err) {
  if (!(err instanceof NotADataDir) && !(err instanceof NewerSchema)) throw err;
  process.stderr.write(`set-password: ${err.message}\n`);
  process.exit(1);
}
const owner = new Owner(storage);
const password = await readPassword('New owner password: ');
const weakness = owner.weakness(password);
if (weakness) {
  process.stderr.write(`set-password: the password ${weakness}; nothing changed\n`);
  process.exit(1);
}
if (process.stdin.isTTY && (await readPassword('Again: ')) !== password) {
  process.stderr.write('set-password: the two entries differ; nothing changed\n');
  process.exit(1);
}
await owner.setPassword(password);
storage.close();
process.stdout.write(`Owner password set in ${config.leads.databasePath}; every device was logged out.\n`);
