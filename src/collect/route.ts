// POST /collect: parse → enrich → batch, then 204. Bad input gets a problem+json 4xx and
// nothing from that request is stored.
import { JournalFullError, RecordTooLargeError } from '../events/journal.ts';
import type { EventSink } from '../events/sink.ts';
import type { Route } from '../http/server.ts';
import { NO_CONTENT, problem, retryAfter, type Reply } from '../http/reply.ts';
import type { Metrics } from '../metrics.ts';
import { MAX_BODY_BYTES, parseCollect, type Beacon } from './beacon.ts';
import type { GeoLocator } from './geo.ts';
import { dropBot, newHit, putGeo, putUserAgent, runSteps, toRows, type Hit, type Step } from './pipeline.ts';
import type { AgentParser } from './user-agent.ts';

export interface CollectDeps {
  geo: GeoLocator;
  agents: AgentParser;
  events: EventSink;
  metrics: Metrics;
  /** Called once call and WhatsApp click beacons are journaled: they become leads. */
  onContactClicks?: (beacons: Beacon[], hit: Hit) => void;
}

/** How long a client is asked to wait when the journal is full or unwritable. */
const RETRY_AFTER_SECONDS = 30;

export function collectRoute(deps: CollectDeps): Route {
  // The agent is parsed first because the bot verdict is cached with it; a bot never costs a geo lookup.
  const steps: Step[] = [putUserAgent(deps.agents), dropBot, putGeo(deps.geo)];
  return {
    method: 'post',
    path: '/collect',
    limit: 'collect',
    maxBody: MAX_BODY_BYTES,
    cors: true,
    handler(req) {
      const parsed = parseCollect(req.headers['content-type'], req.body);
      if (!parsed.ok) return problem(parsed.status, parsed.slug, parsed.title, parsed.detail);
      const hit = runSteps(steps, newHit(parsed.beacons, req.headers['user-agent'], req.clientIp, Date.now()));
      if ('drop' in hit) {
        for (let i = 0; i < parsed.beacons.length; i++) deps.metrics.drop(hit.drop);
        return NO_CONTENT;
      }
      // Journaled before the 204: a beacon we acknowledge survives a crash.
      if (deps.events.full()) return unavailable(deps, 'full');
      const rows = toRows(hit);
      return deps.events.write(rows, parsed.plainText).then(
        () => {
          deps.metrics.accepted.inc(rows.length);
          if (deps.onContactClicks && hit.beacons.some(isContact)) deps.onContactClicks(hit.beacons.filter(isContact), hit);
          return NO_CONTENT;
        },
        (err: unknown) =>
          err instanceof RecordTooLargeError
            ? problem(413, 'body-too-large', 'Request body too large', 'Its events make rows too large to journal at once: send them in smaller batches.')
            : unavailable(deps, err instanceof JournalFullError ? 'full' : 'write-failed'),
      );
    },
  };
}

const isContact = (b: Beacon) => b.type === 'call' || b.type === 'whatsapp';

function unavailable(deps: CollectDeps, why: 'full' | 'write-failed'): Reply {
  deps.metrics.journalRefused(why);
  const detail = why === 'full'
    ? 'The event journal reached JOURNAL_MAX_BYTES while ClickHouse is behind; nothing was stored. Retry later.'
    : 'The event journal could not be written (disk full or failing); nothing was stored. Retry later.';
  return retryAfter(problem(503, 'journal-unavailable', 'Events cannot be stored right now', detail), RETRY_AFTER_SECONDS);
}
