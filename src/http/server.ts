// The HTTP edge on uWebSockets.js: a routing table, a capped body reader and replies written
// inside res.cork. Handlers see a plain Request and return a Reply; nothing else touches uWS.
// uWS rules followed here: copy headers and the address synchronously, set onAborted before any
// await, copy every body chunk (uWS reuses its buffer), never touch a response after abort.
import type { TrustProxy } from '../config.ts';
import type { Logger } from '../log.ts';
import { clientNet, forwardedClient } from './client-ip.ts';
import type { Metrics } from '../metrics.ts';
import { problem, retryAfter, type Reply } from './reply.ts';
import type { HttpRequest, HttpResponse, TemplatedApp, Uws, us_listen_socket } from './uws.ts';

export interface Request {
  /** Lower-case, as uWS reports it: get, post, patch, delete … */
  method: string;
  path: string;
  /** Raw query string without the "?". */
  query: string;
  /** Values of `:name` segments of the route pattern, in order. */
  params: string[];
  headers: RequestHeaders;
  /**
   * Peer address of the TCP connection, read only when it is the client: '' when a proxy we trust
   * named the client (X-Forwarded-For, CF-Connecting-IP), as the peer is then that proxy.
   */
  remoteAddress: string;
  /** The client's address, resolved once with TRUST_PROXY (see client-ip.ts). */
  clientIp: string;
  body: Buffer;
}

/**
 * Only the headers some handler reads are copied, to keep the hot path small. A header sent on
 * several lines is joined with ", " (RFC 9110 §5.3): X-Forwarded-For must be read whole, or a
 * client's own first line would hide the hop our proxy appended on another. A class, so that each
 * request's copy is made in one allocation, not by spreading a template.
 */
export class RequestHeaders {
  'content-type' = '';
  'user-agent' = '';
  'x-forwarded-for' = '';
  'cf-connecting-ip' = '';
  authorization = '';
  cookie = '';
  origin = '';
  referer = '';
  'accept-encoding' = '';
  'accept-language' = '';
  'if-none-match' = '';
  'x-lc-csrf' = '';
  'stripe-signature' = '';
  'x-hotmart-hottok' = '';
}

/**
 * The RequestHeaders field a header goes in, or undefined. A switch compares the name's text; a
 * Set or a property lookup would first hash every header name uWS hands over (each a new string).
 */
export function copiedField(name: string): keyof RequestHeaders | undefined {
  switch (name) {
    case 'content-type': return 'content-type';
    case 'user-agent': return 'user-agent';
    case 'x-forwarded-for': return 'x-forwarded-for';
    case 'cf-connecting-ip': return 'cf-connecting-ip';
    case 'authorization': return 'authorization';
    case 'cookie': return 'cookie';
    case 'origin': return 'origin';
    case 'referer': return 'referer';
    case 'accept-encoding': return 'accept-encoding';
    case 'accept-language': return 'accept-language';
    case 'if-none-match': return 'if-none-match';
    case 'x-lc-csrf': return 'x-lc-csrf';
    case 'stripe-signature': return 'stripe-signature';
    case 'x-hotmart-hottok': return 'x-hotmart-hottok';
  }
  return undefined;
}

export type Handler = (req: Request) => Reply | Promise<Reply>;
/** Runs before the body is read (authentication, rate limits): a reply here is sent instead of the handler's. */
export type Guard = (req: Request) => Reply | undefined;
type Method = 'get' | 'post' | 'patch' | 'put' | 'del' | 'options';

export interface Route {
  method: Method;
  /** uWS pattern: an exact path, `:name` segments, or a trailing `*`. */
  path: string;
  handler: Handler;
  /** Body cap in bytes; bodies above it are answered 413 without being buffered. */
  maxBody?: number;
  /** Visitor endpoints are called from the business's own site: open CORS and answer preflights. */
  cors?: boolean;
  /** Checked in order before the body is read; the first reply wins. */
  guards?: Guard[];
  /** The rate limit this route is under (RATE_LIMIT_*; see withRateLimits), checked before its guards. */
  limit?: 'collect' | 'lead' | 'hooks' | 'login';
}

/**
 * Bodies being read at once, per kind of route, so that one kind cannot starve another: slow
 * bodies to /collect never keep the owner from logging in, nor webhooks from arriving. Within a
 * pool, one client (address, or IPv6 /64) may hold at most 1/16 of the slots.
 */
const BODY_POOLS = { visitor: 768, hooks: 128, owner: 128 } as const;
type BodyPool = keyof typeof BODY_POOLS;
const CLIENT_SHARE = 16;

function poolOf(route: Route): BodyPool {
  return route.cors ? 'visitor' : route.path.startsWith('/hooks/') ? 'hooks' : 'owner';
}

const DEFAULT_MAX_BODY = 64 * 1024;
/** The preflight's answer; an actual request's answer needs only Allow-Origin (the others matter to preflights alone). */
const PREFLIGHT_HEADERS: Record<string, string> = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Allow-Methods': 'POST, GET, OPTIONS',
  'Access-Control-Allow-Headers': 'Content-Type',
  'Access-Control-Max-Age': '86400',
};

const STATUS_TEXT: Record<number, string> = {
  200: 'OK', 201: 'Created', 202: 'Accepted', 204: 'No Content', 303: 'See Other', 304: 'Not Modified',
  400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed', 408: 'Request Timeout',
  409: 'Conflict', 413: 'Content Too Large', 415: 'Unsupported Media Type', 422: 'Unprocessable Content',
  429: 'Too Many Requests', 500: 'Internal Server Error', 503: 'Service Unavailable',
};
// What every reply writes is encoded once: uWS copies a string argument into UTF-8 on each call,
// bytes it takes as they are (~2% of the event loop at peak went to those copies).
const STATUS_LINES = new Map(Object.entries(STATUS_TEXT).map(([status, text]) => [Number(status), Buffer.from(`${status} ${text}`)]));
const ALLOW_ORIGIN = Buffer.from('Access-Control-Allow-Origin');
const ANY_ORIGIN = Buffer.from('*');
const CONTENT_LENGTH = Buffer.from('content-length');

/** A default header: its name to look up in a reply's own headers, and the bytes written. */
interface DefaultHeader {
  name: string;
  nameBytes: Buffer;
  value: Buffer;
}

export interface HttpServer {
  readonly port: number;
  close(): void;
}

export interface ServerDeps {
  uws: Uws;
  log: Logger;
  metrics: Metrics;
  /** Served over HTTPS (PUBLIC_ORIGIN is https): browsers are told to keep using it (HSTS). */
  https?: boolean;
  /** A request body must arrive within this time (slow-body attacks); default 30 s. */
  bodyTimeoutMs?: number;
  /** Which proxies in front of us may name the client (TRUST_PROXY); default: none, the TCP peer is the client. */
  trustProxy?: TrustProxy;
}

/**
 * Headers every reply carries unless it sets its own. The owner's side (admin API, PWA) may not
 * be framed, sniffed, kept by caches or leak its URLs; a JSON reply may load nothing. Visitor
 * endpoints are fetched by other sites' pages, so only sniffing is ruled out there.
 */
function securityHeaders(https: boolean): { owner: DefaultHeader[]; visitor: DefaultHeader[] } {
  const hsts: Record<string, string> = https ? { 'Strict-Transport-Security': 'max-age=31536000; includeSubDomains' } : {};
  const encoded = (headers: Record<string, string>) => Object.entries(headers).map(([name, value]) => ({ name, nameBytes: Buffer.from(name), value: Buffer.from(value) }));
  return {
    owner: encoded({ 'X-Content-Type-Options': 'nosniff', 'Referrer-Policy': 'no-referrer', 'X-Frame-Options': 'DENY', 'Content-Security-Policy': "default-src 'none'; frame-ancestors 'none'", 'Cache-Control': 'no-store', ...hsts }),
    visitor: encoded({ 'X-Content-Type-Options': 'nosniff', ...hsts }),
  };
}
/** What the request path needs besides the caller's deps: header sets and the bodies in flight. */
type Ctx = ServerDeps & { security: ReturnType<typeof securityHeaders>; pendingBodies: BodyList; pools: Record<BodyPool, Pool> };

/** Bodies being read in one pool: how many, and how many per client. */
interface Pool {
  size: number;
  max: number;
  /**
   * Clients whose count fell to 0 are removed by the sweep once a second, not at once: a Map
   * that gains and loses a key per request allocates a new table each time, and the tables
   * lived long enough to be promoted (3 MB/s at 20k beacons/s, a full collection every 2–3 s).
   */
  perClient: Map<string, number>;
}

export function buildApp(serverDeps: ServerDeps, routes: Route[]): TemplatedApp {
  const pools = Object.fromEntries(Object.entries(BODY_POOLS).map(([name, max]) => [name, { size: 0, max, perClient: new Map() }])) as Record<BodyPool, Pool>;
  const deps: Ctx = { ...serverDeps, security: securityHeaders(serverDeps.https === true), pendingBodies: { first: undefined }, pools };
  // One sweep a second cuts off bodies past their deadline (cheaper than a timer per request)
  // and forgets the clients with none in flight.
  setInterval(() => {
    const now = Date.now();
    for (let body = deps.pendingBodies.first, next; body !== undefined; body = next) {
      next = body.next; // expire() takes the body out of the list
      if (body.deadline <= now) body.expire();
    }
    for (const pool of Object.values(pools)) for (const [client, n] of pool.perClient) if (n === 0) pool.perClient.delete(client);
  }, 1000).unref();
  const app = deps.uws.App();
  for (const route of routes) {
    const paramCount = route.path.split('/:').length - 1;
    const pool = deps.pools[poolOf(route)];
    app[route.method](route.path, (res, req) => serve(deps, route, pool, paramCount, res, req));
    if (route.cors && route.method !== 'get') {
      app.options(route.path, (res) => send(deps, res, { status: 204, headers: PREFLIGHT_HEADERS }, false));
    }
  }
  app.any('/*', (res, req) => {
    const reply = problem(404, 'not-found', 'No such endpoint', `${req.getMethod().toUpperCase()} ${req.getUrl()}`);
    send(deps, res, reply, false);
  });
  return app;
}

export function listen(app: TemplatedApp, uws: Uws, host: string, port: number): Promise<HttpServer> {
  return new Promise((resolve, reject) => {
    app.listen(host, port, (socket: us_listen_socket | false) => {
      if (!socket) return reject(new Error(`listen on ${host}:${port} failed (port in use or not permitted)`));
      resolve({ port: uws.us_socket_local_port(socket), close: () => uws.us_listen_socket_close(socket) });
    });
  });
}

function serve(deps: Ctx, route: Route, pool: Pool, paramCount: number, res: HttpResponse, req: HttpRequest): void {
  const headers = copyHeaders(req);
  const forwarded = forwardedClient(deps.trustProxy ?? NO_PROXY, headers['x-forwarded-for'], headers['cf-connecting-ip']);
  const remoteAddress = forwarded === undefined ? normaliseAddress(Buffer.from(res.getRemoteAddressAsText()).toString()) : '';
  const request: Request = {
    method: req.getMethod(),
    path: req.getUrl(),
    query: req.getQuery() ?? '',
    params: paramCount === 0 ? NO_PARAMS : paramsOf(paramCount, req),
    headers,
    remoteAddress,
    // Once per request, here: the rate limits, the body share, the handlers all mean this client.
    clientIp: forwarded ?? remoteAddress,
    body: EMPTY,
  };
  const cors = route.cors === true;
  if (route.guards) {
    for (const guard of route.guards) {
      const refused = guard(request);
      if (refused) {
        send(deps, res, refused, cors, route.method !== 'get');
        return;
      }
    }
  }
  if (route.method === 'get' || route.method === 'options') {
    const state = { aborted: false };
    res.onAborted(() => {
      state.aborted = true;
    });
    run(deps, route, request, res, state, cors);
    return;
  }
  const max = route.maxBody ?? DEFAULT_MAX_BODY;
  const declared = Number(req.getHeader(CONTENT_LENGTH) || '0');
  if (declared > max) {
    send(deps, res, tooLarge(max), cors, true);
    return;
  }
  // Slow or stuck bodies hold memory and a connection: a bounded number per pool and per client,
  // each cut off after bodyTimeoutMs (uWS's own idle timeout restarts with every byte received).
  const client = clientNet(request.clientIp);
  const held = pool.perClient.get(client) ?? 0;
  if (pool.size >= pool.max || held >= pool.max / CLIENT_SHARE) {
    send(deps, res, retryAfter(problem(503, 'overloaded', 'Too many requests in progress', 'Try again in a moment.'), 1), cors, true);
    return;
  }
  pool.size++;
  pool.perClient.set(client, held + 1);
  const body = new PendingBody(deps, route, request, res, pool, client, max, cors);
  body.list();
  // Inline arrows, not named closures: nothing per request beyond the one object.
  res.onAborted(() => body.abort());
  res.onData((chunk, isLast) => body.data(chunk, isLast));
}

/**
 * The bodies being read, linked through the bodies themselves: adding and removing one allocates
 * nothing (a Set grew and shrank its table as requests came and went, ~0.5 % of the event loop).
 */
interface BodyList {
  first: PendingBody | undefined;
}

/**
 * A request body being read: it holds a slot of its pool (and of its client's share) until it
 * is complete, too large, too slow or aborted. One object per request; the sweep in buildApp
 * calls expire() on those past their deadline.
 */
class PendingBody {
  readonly deadline: number;
  aborted = false;
  /** Neighbours in deps.pendingBodies while listed. */
  prev: PendingBody | undefined = undefined;
  next: PendingBody | undefined = undefined;
  private listed = false;
  private chunks: Buffer[] = [];
  private size = 0;

  constructor(
    private readonly deps: Ctx,
    private readonly route: Route,
    private readonly request: Request,
    private readonly res: HttpResponse,
    private readonly pool: Pool,
    private readonly client: string,
    private readonly max: number,
    private readonly cors: boolean,
  ) {
    this.deadline = Date.now() + (deps.bodyTimeoutMs ?? 30_000);
  }

  data(chunk: ArrayBuffer, isLast: boolean): void {
    if (this.aborted || this.size > this.max) return;
    this.size += chunk.byteLength;
    if (this.size > this.max) {
      this.release();
      this.aborted = true;
      send(this.deps, this.res, tooLarge(this.max), this.cors, true);
      return;
    }
    // uWS reuses the chunk's memory after this callback returns: copy it, into Node's shared pool
    // when small (a beacon's body): no memory of its own per request for the GC to track.
    const copy = Buffer.allocUnsafe(chunk.byteLength);
    copy.set(new Uint8Array(chunk));
    this.chunks.push(copy);
    if (!isLast) return;
    this.release();
    this.request.body = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.size);
    run(this.deps, this.route, this.request, this.res, this, this.cors);
  }

  abort(): void {
    this.aborted = true;
    this.release();
  }

  expire(): void {
    this.release();
    if (this.aborted) return;
    this.aborted = true;
    const seconds = (this.deps.bodyTimeoutMs ?? 30_000) / 1000;
    send(this.deps, this.res, problem(408, 'request-timeout', 'Request body too slow', `The body must arrive within ${seconds} s.`), this.cors, true);
  }

  /** Puts the body in deps.pendingBodies (its pool slot is taken). */
  list(): void {
    const bodies = this.deps.pendingBodies;
    this.next = bodies.first;
    if (bodies.first !== undefined) bodies.first.prev = this;
    bodies.first = this;
    this.listed = true;
  }

  /** Gives the pool slot back, once. */
  private release(): void {
    if (!this.listed) return;
    this.listed = false;
    if (this.prev !== undefined) this.prev.next = this.next;
    else this.deps.pendingBodies.first = this.next;
    if (this.next !== undefined) this.next.prev = this.prev;
    this.prev = this.next = undefined;
    this.pool.size--;
    // A client's count stays at 0 until the next sweep: see Pool.perClient.
    this.pool.perClient.set(this.client, this.pool.perClient.get(this.client)! - 1);
  }
}

function run(deps: Ctx, route: Route, request: Request, res: HttpResponse, state: { aborted: boolean }, cors: boolean) {
  let result: Reply | Promise<Reply>;
  try {
    result = route.handler(request);
  } catch (err) {
    result = internalError(deps, route, err);
  }
  if (!(result instanceof Promise)) {
    send(deps, res, result, cors);
    return;
  }
  result.then(
    (reply) => {
      if (!state.aborted) send(deps, res, reply, cors);
    },
    (err: unknown) => {
      const reply = internalError(deps, route, err);
      if (!state.aborted) send(deps, res, reply, cors);
    },
  );
}

function internalError(deps: Ctx, route: Route, err: unknown): Reply {
  deps.log.error({ err, route: route.path }, 'request handler failed');
  return problem(500, 'internal-error', 'Internal server error', 'The error was logged.');
}

function send(deps: Ctx, res: HttpResponse, reply: Reply, cors: boolean, closeConnection = false): void {
  // uWS writes header values as given: a CR or LF would split the header (response splitting).
  if (reply.headers && unsafeHeader(reply.headers)) {
    deps.log.error({ status: reply.status, header: unsafeHeader(reply.headers) }, 'a reply header held CR, LF or NUL; sent 500 instead');
    reply = problem(500, 'internal-error', 'Internal server error', 'The error was logged.');
  }
  if (reply.status >= 400) deps.metrics.rejected(reply.status);
  res.cork(() => {
    res.writeStatus(STATUS_LINES.get(reply.status) ?? `${reply.status} `); // the space: RFC 9112 wants one even with no reason phrase
    if (cors) res.writeHeader(ALLOW_ORIGIN, ANY_ORIGIN);
    for (const header of cors ? deps.security.visitor : deps.security.owner) {
      if (reply.headers?.[header.name] === undefined) res.writeHeader(header.nameBytes, header.value);
    }
    if (reply.headers) for (const name in reply.headers) res.writeHeader(name, reply.headers[name]!);
    if (reply.status === 204 || reply.status === 304) res.endWithoutBody(0, closeConnection);
    else res.end(reply.body ?? '', closeConnection);
  });
}

/** The name of a header whose name or value holds CR, LF or NUL, if any. */
function unsafeHeader(headers: Record<string, string>): string | undefined {
  for (const name in headers) if (/[\r\n\0]/.test(name) || /[\r\n\0]/.test(headers[name]!)) return name;
  return undefined;
}

function tooLarge(max: number): Reply {
  return problem(413, 'body-too-large', 'Request body too large', `The body must be at most ${max} bytes.`);
}

function copyHeaders(req: HttpRequest): RequestHeaders {
  const headers = new RequestHeaders();
  req.forEach((name, value) => {
    const key = copiedField(name);
    if (key === undefined) return;
    headers[key] = headers[key] === '' ? value : `${headers[key]}${key === 'cookie' ? '; ' : ', '}${value}`;
  });
  return headers;
}

function paramsOf(count: number, req: HttpRequest): string[] {
  const params: string[] = [];
  for (let i = 0; i < count; i++) {
    const raw = req.getParameter(i) ?? '';
    try {
      params.push(decodeURIComponent(raw));
    } catch {
      params.push(raw);
    }
  }
  return params;
}

/** uWS reports IPv4 clients of a dual-stack socket as IPv4-mapped IPv6; store them as plain IPv4. */
export function normaliseAddress(address: string): string {
  if (address.length <= 15 && !address.includes(':')) return address; // plain IPv4, the common case
  const mapped = /^(?:0{1,4}:){5}ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(address) ?? /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(address);
  if (mapped) {
    const hi = parseInt(mapped[1]!, 16);
    const lo = parseInt(mapped[2]!, 16);
    return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  }
  if (address.startsWith('::ffff:') && address.includes('.')) return address.slice(7);
  return address;
}

const EMPTY = Buffer.alloc(0);
const NO_PROXY: TrustProxy = { kind: 'none' };
const NO_PARAMS: string[] = [];
