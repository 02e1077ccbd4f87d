// What we know of a visitor from the events in ClickHouse, for a sale a checkout reports with our
// visitor id: the click ids and UTMs the visitor's latest event carried (each event carries the
// tracker's stored attribution), and from the click to the checkout (src/collect/pipeline.ts keeps
// them in its props) Meta's ids, the landing page and the consent the tracker had at that moment.
import type { ClickHouse } from '../events/clickhouse.ts';
import type { Attribution } from '../leads/lead.ts';

export interface Touches {
  attribution: Attribution;
  /** Ads consent at the click to the checkout: given (or implied where the site does not ask), refused, or not known. */
  consentAds: boolean | undefined;
  /** The page the visitor left for the checkout (else their latest page). */
  pageUrl: string | undefined;
  sessionId: string | undefined;
}

interface EventRow {
  event_time: string;
  type: string;
  session_id: string;
  url: string;
  gclid: string;
  gbraid: string;
  wbraid: string;
  fbclid: string;
  msclkid: string;
  utm_source: string;
  utm_medium: string;
  utm_campaign: string;
  utm_term: string;
  utm_content: string;
  props: Record<string, string>;
}

const KEYS = ['gclid', 'gbraid', 'wbraid', 'fbclid', 'msclkid', 'utm_source', 'utm_medium', 'utm_campaign', 'utm_term', 'utm_content'] as const;
/** A click counts for 90 days (the tracker's cookie lasts as long). */
const LOOKBACK_DAYS = 90;

/** The visitor's touches, or undefined when ClickHouse has no event of this visitor. */
export async function visitorTouches(clickhouse: ClickHouse, visitorId: string): Promise<Touches | undefined> {
  const rows = await clickhouse.query<EventRow>(
    `SELECT toUnixTimestamp64Milli(event_time) AS event_time, type, session_id, url, ${KEYS.join(', ')}, props FROM events
     WHERE visitor_id = {visitor:String} AND type != 'lead' AND event_time >= now() - INTERVAL ${LOOKBACK_DAYS} DAY
     ORDER BY event_time DESC LIMIT 500`,
    { visitor: visitorId },
  );
  if (rows.length === 0) return undefined;
  const latest = rows[0]!;
  const click = rows.find((r) => r.type === 'checkout');
  const attribution: Attribution = {};
  for (const key of KEYS) if (latest[key]) attribution[key] = latest[key];
  const props = click?.props ?? {};
  if (props.fbc) attribution.fbc = props.fbc;
  else if (attribution.fbclid) {
    // Built as Meta's pixel would, from when this visitor first came with that fbclid.
    const first = [...rows].reverse().find((r) => r.fbclid === attribution.fbclid)!;
    attribution.fbc = `fb.1.${Number(first.event_time)}.${attribution.fbclid}`;
  }
  if (props.fbp) attribution.fbp = props.fbp;
  if (props.landing) attribution.landing = props.landing;
  const consent = props.consent;
  return {
    attribution,
    consentAds: consent === 'granted' || consent === 'implied' ? true : consent === 'denied' ? false : undefined,
    pageUrl: (click ?? latest).url || undefined,
    sessionId: (click ?? latest).session_id || undefined,
  };
}
