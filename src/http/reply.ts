// What a handler returns, and the application/problem+json errors (RFC 9457) every endpoint uses.
// `type` is a stable relative URI (`/problems/<slug>`): clients branch on it, not on `title`.

export interface Reply {
  status: number;
  headers?: Record<string, string>;
  body?: string | Buffer;
}

export const NO_CONTENT: Reply = { status: 204 };

export function json(status: number, value: unknown, headers?: Record<string, string>): Reply {
  return { status, headers: { 'Content-Type': 'application/json', ...headers }, body: JSON.stringify(value) };
}

export function text(status: number, body: string, contentType = 'text/plain; charset=utf-8'): Reply {
  return { status, headers: { 'Content-Type': contentType }, body };
}

export function redirect(location: string): Reply {
  return { status: 303, headers: { Location: location, 'Content-Type': 'text/plain; charset=utf-8' }, body: `See ${location}` };
}

/** The reply with a Retry-After (seconds): when a client may try again (429, 503). */
export function retryAfter(reply: Reply, seconds: number): Reply {
  return { ...reply, headers: { ...reply.headers, 'Retry-After': String(seconds) } };
}

export function problem(status: number, slug: string, title: string, detail?: string, extra?: Record<string, unknown>): Reply {
  return {
    status,
    headers: { 'Content-Type': 'application/problem+json' },
    body: JSON.stringify({ type: `/problems/${slug}`, title, status, detail, ...extra }),
  };
}
