// POST /api/admin/erase {phone | email | visitorId}: removes a person everywhere we hold them
// and says what was removed. Their events still in the journal are inserted first (so none
// arrives after the erasure); while ClickHouse cannot take them, the erasure is refused (503).
import type { Batcher } from '../events/batcher.ts';
import type { ClickHouse } from '../events/clickhouse.ts';
import { json, problem, type Reply } from '../http/reply.ts';
import type { Request, Route } from '../http/server.ts';
import type { PersonalData } from '../db/privacy.ts';
import { normaliseEmail, normalisePhone } from '../leads/lead.ts';
import type { Logger } from '../log.ts';
import { erasePerson, type Person } from '../privacy/erase.ts';
import { ownerOnly, type AdminAuth } from './auth.ts';
import { readJsonObject } from '../http/json.ts';
import { succeedsWithin } from '../time.ts';

export interface PrivacyDeps {
  auth: AdminAuth;
  personalData: PersonalData;
  clickhouse: ClickHouse;
  batcher: Batcher;
  defaultCountry: string | undefined;
  log: Logger;
}

const FLUSH_WAIT_MS = 10_000;

export function privacyRoutes(deps: PrivacyDeps): Route[] {
  return [{ method: 'post', path: '/api/admin/erase', guards: [ownerOnly(deps.auth)], handler: (req) => erase(deps, req) }];
}

async function erase(deps: PrivacyDeps, req: Request): Promise<Reply> {
  const b = readJsonObject(req.body);
  if (!b) return problem(400, 'invalid-json', 'Body is not a JSON object', 'Send {"phone": …}, {"email": …} or {"visitorId": …}.');
  const person: Person = {};
  const errors: Record<string, string> = {};
  if (b.phone !== undefined) {
    const phone = typeof b.phone === 'string' ? normalisePhone(b.phone, deps.defaultCountry) : undefined;
    if (phone) person.phone = phone;
    else errors.phone = 'is not a phone number';
  }
  if (b.email !== undefined) {
    const email = typeof b.email === 'string' ? normaliseEmail(b.email) : undefined;
    if (email) person.email = email;
    else errors.email = 'is not an email address';
  }
  if (b.visitorId !== undefined) {
    if (typeof b.visitorId === 'string' && /^[\w-]{1,128}$/.test(b.visitorId)) person.visitorId = b.visitorId;
    else errors.visitorId = 'is not a visitor id';
  }
  if (Object.keys(errors).length > 0 || Object.keys(person).length === 0) {
    return problem(422, 'invalid-erasure', 'Say whom to erase', 'Give phone, email or visitorId.', { errors });
  }
  const flushed = await succeedsWithin(deps.batcher.flush(), FLUSH_WAIT_MS);
  if (!flushed) return problem(503, 'events-pending', 'Events are waiting for ClickHouse', 'Erase again once ClickHouse takes inserts (see /api/admin/status): events still in the journal would otherwise arrive after the erasure.');
  const report = await erasePerson(deps.personalData, deps.clickhouse, person);
  deps.log.info({ erased: report }, 'a person was erased on the owner\'s request');
  return json(200, { erased: report });
}
