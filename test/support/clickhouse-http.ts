// A stand-in ClickHouse server for tests: the subset of ClickHouse's HTTP interface that
// @clickhouse/client uses (GET /ping; POST / with the query in the body or in ?query= with the
// data in the body; ?database=, ?param_<name>= bound parameters; Basic or X-ClickHouse-User/Key
// auth; errors as "Code: N. DB::Exception: …" with X-ClickHouse-Exception-Code), executed by a
// real ClickHouse engine (chdb). Debian's clickhouse-server is from 2018, hence this.
// Run as its own process (chdb allows one data directory per process):
//   tsx test/support/clickhouse-http.ts <dataDir> <user> <password>   → prints "listening <port>"
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { Session } from 'chdb';

const [dataDir, user = 'default', password = ''] = process.argv.slice(2);
if (!dataDir) {
  process.stderr.write('usage: clickhouse-http.ts <dataDir> [user] [password]\n');
  process.exit(2);
}
const session = new Session(dataDir);
// chdb runs one statement at a time per session; `USE` is per session, so requests are serialised.
let queue: Promise<unknown> = Promise.resolve();
const serialised = <T>(work: () => Promise<T>): Promise<T> => {
  const next = queue.then(work, work);
  queue = next.catch(() => undefined);
  return next;
};

const PROTOCOL_PARAMS = new Set(['query', 'database', 'query_id', 'session_id', 'session_timeout', 'session_check', 'role', 'user', 'password', 'default_format', 'enable_http_compression']);
const INSERT = /^\s*INSERT\s+INTO\s+([A-Za-z0-9_.`"]+)\s*(?:\(([^)]*)\))?\s*FORMAT\s+(\w+)\s*$/i;

const server = createServer(async (req, res) => {
  try {
    await handle(req, res);
  } catch (err) {
    fail(res, err);
  }
});

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  if (url.pathname === '/ping') return reply(res, 200, 'Ok.\n');
  if (url.pathname !== '/') return reply(res, 404, 'There is no handle ' + url.pathname + '\n');
  if (!authenticated(req)) {
    return reply(res, 401, `Code: 516. DB::Exception: ${headerUser(req) ?? 'default'}: Authentication failed: password is incorrect, or there is no user with such name. (AUTHENTICATION_FAILED)\n`, { 'X-ClickHouse-Exception-Code': '516' });
  }
  const body = await readBody(req);
  const params: Record<string, string> = {};
  for (const [key, value] of url.searchParams) if (key.startsWith('param_')) params[key.slice(6)] = value;
  const database = url.searchParams.get('database') ?? 'default';
  const urlQuery = url.searchParams.get('query');
  // Other parameters are settings (e.g. insert_deduplication_token), applied to inserts as ClickHouse does.
  const settings: Record<string, string> = {};
  for (const [key, value] of url.searchParams) if (!key.startsWith('param_') && !PROTOCOL_PARAMS.has(key)) settings[key] = value;

  const output = await serialised(async () => {
    await session.queryAsync(`USE ${quoteIdent(database)}`);
    const insert = urlQuery !== null ? INSERT.exec(urlQuery) : null;
    if (insert && body.length > 0) {
      const summary = await session.insert({
        table: insert[1]!.replace(/[`"]/g, ''),
        values: body,
        format: insert[3] as 'JSONEachRow',
        settings,
        ...(insert[2] ? { columns: insert[2].split(',').map((c) => c.trim()) } : {}),
      });
      return { text: '', written: summary.rowsWritten };
    }
    const sql = [urlQuery, body.toString('utf8')].filter((s) => s !== null && s !== '').join('\n');
    const result = Object.keys(params).length > 0
      ? await session.queryBindAsync(sql, params, { format: 'TabSeparated' })
      : await session.queryAsync(sql, { format: 'TabSeparated' });
    return { text: result.text(), written: 0 };
  });
  reply(res, 200, output.text, {
    'X-ClickHouse-Summary': JSON.stringify({ read_rows: '0', read_bytes: '0', written_rows: String(output.written), written_bytes: '0', total_rows_to_read: '0', result_rows: '0', result_bytes: '0', elapsed_ns: '0' }),
  });
}

function authenticated(req: IncomingMessage): boolean {
  const basic = /^Basic (.+)$/.exec(req.headers.authorization ?? '');
  if (basic) {
    const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    return decoded.slice(0, colon) === user && decoded.slice(colon + 1) === password;
  }
  const headerKey = req.headers['x-clickhouse-key'];
  return (headerUser(req) ?? 'default') === user && (typeof headerKey === 'string' ? headerKey : '') === password;
}

function headerUser(req: IncomingMessage): string | undefined {
  const v = req.headers['x-clickhouse-user'];
  return typeof v === 'string' ? v : undefined;
}

function quoteIdent(name: string): string {
  return '`' + name.replace(/`/g, '``') + '`';
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function fail(res: ServerResponse, err: unknown): void {
  const e = err as { message?: string; clickhouseCode?: number };
  const code = e.clickhouseCode ?? 1000;
  const message = (e.message ?? String(err)).replace(/^Code: \d+\. /, '');
  reply(res, 500, `Code: ${code}. ${message.startsWith('DB::Exception') ? message : 'DB::Exception: ' + message}\n`, {
    'X-ClickHouse-Exception-Code': String(code),
  });
}

function reply(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  if (res.headersSent) return;
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=UTF-8', 'X-ClickHouse-Server-Display-Name': 'chdb-http-test', ...headers });
  res.end(body);
}

server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(`listening ${typeof address === 'object' && address ? address.port : 0}\n`);
});
const stop = () => server.close(() => {
  session.close();
  process.exit(0);
});
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
