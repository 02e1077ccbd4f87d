// POST /collect: parse → enrich → batch, then 204. Bad input gets a problem+json 4xx and
// nothing from that request is stored.
import type { TrustProxy } from '../config.ts';
import type { Batcher } from '../events/batcher.ts';
import type { Route } from '../http/server.ts';
import { NO_CONTENT, problem } from '../http/reply.ts';
import type { Metrics } from '../metrics.ts';
import { MAX_BODY_BYTES, parseCollect } from './beacon.ts';
import { clientIp } from './client-ip.ts';
import type { GeoLocator } from './geo.ts';
import { dropBot, newHit, putGeo, putUserAgent, runSteps, toRows, type Step } from './pipeline.ts';
import type { AgentParser } from './user-agent.ts';

export interface CollectDeps {
  trustProxy: TrustProxy;
  geo: GeoLocator;
  agents: AgentParser;
  batcher: Batcher;
  metrics: Metrics;
}

export function collectRoute(deps: CollectDeps): Route {
  // The agent is parsed first because the bot verdict is cached with it; a bot never costs a geo lookup.
  const steps: Step[] = [putUserAgent(deps.agents), dropBot, putGeo(deps.geo)];
  return {
    method: 'post',
    path: '/collect',
    maxBody: MAX_BODY_BYTES,
    cors: true,
    handler(req) {
      const parsed = parseCollect(req.headers['content-type'], req.body);
      if (!parsed.ok) return problem(parsed.status, parsed.slug, parsed.title, parsed.detail);
      const ip = clientIp(deps.trustProxy, req.remoteAddress, req.headers['x-forwarded-for'], req.headers['cf-connecting-ip']);
      const hit = runSteps(steps, newHit(parsed.beacons, req.headers['user-agent'], ip, Date.now()));
      if ('drop' in hit) {
        for (let i = 0; i < parsed.beacons.length; i++) deps.metrics.drop(hit.drop);
        return NO_CONTENT;
      }
      for (const row of toRows(hit)) deps.batcher.add(row);
      deps.metrics.accepted.inc(parsed.beacons.length);
      return NO_CONTENT;
    },
  };
}
