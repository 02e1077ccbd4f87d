// Logging the owner in and out: first-start setup with the one-time code from the log, login with
// the password (throttled), logout here or everywhere. Every POST needs the anti-CSRF header too,
// so no other site can log the owner in or out.
import { clientNet } from '../http/client-ip.ts';
import { json, problem, retryAfter, type Reply } from '../http/reply.ts';
import type { Request, Route } from '../http/server.ts';
import type { Logger } from '../log.ts';
import { ownerOnly, CSRF_HEADER, CSRF_REJECTED, sessionCookie, sessionToken, type AdminAuth } from './auth.ts';
import { PasswordCheckBusy, type LoginThrottle } from './owner.ts';
import { readJsonObject } from '../http/json.ts';

export interface SessionDeps {
  auth: AdminAuth;
  throttle: LoginThrottle;
  log: Logger;
}

export function sessionRoutes(deps: SessionDeps): Route[] {
  const { auth } = deps;
  return [
    {
      method: 'get',
      path: '/api/admin/session',
      handler: (req) =>
        json(200, { authenticated: auth.owner.session(sessionToken(req, auth)) !== undefined, passwordSet: auth.owner.hasPassword() }),
    },
    { method: 'post', path: '/api/admin/setup', limit: 'login', handler: (req) => setup(deps, req) },
    { method: 'post', path: '/api/admin/session', limit: 'login', handler: (req) => login(deps, req) },
    {
      method: 'del',
      path: '/api/admin/session',
      handler: (req) => {
        if (req.headers[CSRF_HEADER] !== '1') return CSRF_REJECTED;
        auth.owner.endSession(sessionToken(req, auth));
        return { status: 204, headers: { 'Set-Cookie': sessionCookie(auth, '') } };
      },
    },
    {
      method: 'del',
      path: '/api/admin/sessions',
      guards: [ownerOnly(auth)],
      handler: () => {
        const ended = auth.owner.endAllSessions();
        deps.log.info({ sessions: ended }, 'owner logged out everywhere');
        return { status: 204, headers: { 'Set-Cookie': sessionCookie(auth, '') } };
      },
    },
  ];
}

function body(req: Request): Record<string, unknown> {
  return readJsonObject(req.body) ?? {};
}

function loggedIn(deps: SessionDeps, req: Request, status: number): Reply {
  const token = deps.auth.owner.createSession(req.headers['user-agent']);
  return json(status, { authenticated: true }, { 'Set-Cookie': sessionCookie(deps.auth, token) });
}

async function setup(deps: SessionDeps, req: Request): Promise<Reply> {
  if (req.headers[CSRF_HEADER] !== '1') return CSRF_REJECTED;
  const { code, password } = body(req);
  // A weak password keeps the code for another try; a good one uses it up before the slow hash,
  // so of several requests racing with one code exactly one sets the password.
  const weakness = typeof password === 'string' ? deps.auth.owner.weakness(password) : 'is required';
  if (weakness && typeof code === 'string') return problem(422, 'weak-password', 'Choose another password', `The password ${weakness}.`, { errors: { password: weakness } });
  if (typeof code !== 'string' || !deps.auth.owner.consumeSetupCode(code)) {
    return problem(403, 'setup-code', 'This setup link is not valid', 'It was used already, or it expired. Restart the server for a new one, or run npm run set-password over SSH.');
  }
  await deps.auth.owner.setPassword(password as string);
  deps.log.info('owner password set through the setup link');
  return loggedIn(deps, req, 201);
}

async function login(deps: SessionDeps, req: Request): Promise<Reply> {
  if (req.headers[CSRF_HEADER] !== '1') return CSRF_REJECTED;
  const ip = clientNet(req.clientIp);
  if (!deps.auth.owner.hasPassword()) return problem(409, 'no-password', 'No password is set yet', 'Use the setup link from the server log, or npm run set-password.');
  const wait = deps.throttle.reserve(ip);
  if (wait > 0) {
    const seconds = Math.ceil(wait / 1000);
    return retryAfter(problem(429, 'too-many-attempts', 'Too many wrong passwords', `Try again in ${seconds} s.`), seconds);
  }
  const { password } = body(req);
  let right = false;
  try {
    right = typeof password === 'string' && password.length <= 1000 && (await deps.auth.owner.verifyPassword(password));
  } catch (err) {
    if (!(err instanceof PasswordCheckBusy)) throw err;
    return retryAfter(problem(429, 'busy', 'Too many logins at once', 'Try again in a few seconds.'), 5);
  }
  if (!right) {
    deps.log.warn('owner login failed');
    return problem(401, 'wrong-password', 'Wrong password');
  }
  deps.throttle.succeeded(ip);
  return loggedIn(deps, req, 200);
}
