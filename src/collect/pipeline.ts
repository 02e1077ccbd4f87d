// Enrichment of one accepted /collect request, as an ordered list of named steps. A step adds
// to the hit or drops it with a reason from a closed set; drops are counted and still get 204,
// so a bot learns nothing. The raw client IP is used for geo here and goes no further.
import type { DropReason } from '../metrics.ts';
import type { EventRow } from '../events/schema.ts';
import type { Beacon } from './beacon.ts';
import { NO_GEO, type Geo, type GeoLocator } from './geo.ts';
import type { Agent, AgentParser } from './user-agent.ts';

export interface Hit {
  beacons: Beacon[];
  userAgent: string;
  clientIp: string;
  receivedAt: number;
  geo: Geo;
  agent: Agent;
}

export type Drop = { drop: DropReason };
export type Step = (hit: Hit) => Hit | Drop;

/** Client clocks are wrong; a `ts` outside this window is replaced by the receive time. */
const MAX_CLOCK_BEHIND_MS = 7 * 24 * 3600 * 1000;
const MAX_CLOCK_AHEAD_MS = 5 * 60 * 1000;

export const putUserAgent = (agents: AgentParser): Step => (hit) => {
  hit.agent = agents.parse(hit.userAgent);
  return hit;
};

export const dropBot: Step = (hit) => {
  if (hit.userAgent === '') return { drop: 'no_user_agent' };
  return hit.agent.bot ? { drop: 'bot' } : hit;
};

export const putGeo = (geo: GeoLocator): Step => (hit) => {
  hit.geo = geo.lookup(hit.clientIp);
  return hit;
};

export function newHit(beacons: Beacon[], userAgent: string, clientIp: string, receivedAt: number): Hit {
  return { beacons, userAgent, clientIp, receivedAt, geo: NO_GEO, agent: NO_AGENT };
}

export function runSteps(steps: Step[], hit: Hit): Hit | Drop {
  let current: Hit | Drop = hit;
  for (const step of steps) {
    current = step(current);
    if ('drop' in current) return current;
  }
  return current;
}

export function toRows(hit: Hit): EventRow[] {
  return hit.beacons.map((b) => ({
    event_id: b.id,
    event_time: eventTime(b.ts, hit.receivedAt),
    received_at: hit.receivedAt,
    type: b.type,
    name: b.name,
    visitor_id: b.visitorId,
    session_id: b.sessionId,
    url: b.url,
    path: b.path,
    hostname: b.hostname,
    referrer: b.referrer,
    referrer_host: b.referrerHost,
    utm_source: b.campaign.utm_source,
    utm_medium: b.campaign.utm_medium,
    utm_campaign: b.campaign.utm_campaign,
    utm_term: b.campaign.utm_term,
    utm_content: b.campaign.utm_content,
    gclid: b.campaign.gclid,
    gbraid: b.campaign.gbraid,
    wbraid: b.campaign.wbraid,
    fbclid: b.campaign.fbclid,
    msclkid: b.campaign.msclkid,
    country: hit.geo.country,
    region: hit.geo.region,
    city: hit.geo.city,
    browser: hit.agent.browser,
    os: hit.agent.os,
    device: hit.agent.device,
    screen_width: b.screenW,
    screen_height: b.screenH,
    language: b.lang,
    props: b.type === 'checkout' ? checkoutProps(b) : b.props,
  }));
}

/**
 * A click to a hosted checkout keeps what the sale's webhook will need and event rows otherwise
 * leave out: Meta's ids, the landing page and the consent the tracker had (src/checkout/touches.ts
 * reads them back). Nothing of it is sent when consent was refused (see beacon.ts).
 */
function checkoutProps(b: Beacon): Record<string, string> {
  const props = { ...b.props };
  for (const [key, value] of [['fbc', b.fbc], ['fbp', b.fbp], ['landing', b.landing], ['consent', b.consent]] as const) if (value) props[key] = value;
  return props;
}

function eventTime(ts: number | undefined, receivedAt: number): number {
  if (ts === undefined || ts < receivedAt - MAX_CLOCK_BEHIND_MS || ts > receivedAt + MAX_CLOCK_AHEAD_MS) return receivedAt;
  return ts;
}

const NO_AGENT: Agent = Object.freeze({ bot: false, browser: '', os: '', device: '' });
