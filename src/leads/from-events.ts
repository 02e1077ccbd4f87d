// Where leads meet the event flow: click-to-call and click-to-WhatsApp beacons become leads
// (no phone yet; the owner adds it), and every new lead becomes a `lead` event in ClickHouse
// (no phone, no IP) so analytics count leads by campaign. A beacon is one request anyone can
// send, so these leads pass the same flood checks as forms: one per channel per request, one per
// visitor (or, without a visitor id, per network and browser) per channel and day, and past the
// per-IP hourly limit they are held.
import { createHash } from 'node:crypto';
import type { Beacon } from '../collect/beacon.ts';
import { clientNet } from '../http/client-ip.ts';
import type { Hit } from '../collect/pipeline.ts';
import type { AgentParser } from '../collect/user-agent.ts';
import type { EventRow } from '../events/schema.ts';
import type { EventSink } from '../events/sink.ts';
import type { Logger } from '../log.ts';
import type { Lead, LeadStore } from '../db/leads.ts';
import { newLead, REF_CODE, type LeadDraft } from './lead.ts';
import { spamFlag, type SpamLimits } from './spam.ts';

export interface ContactClickDeps {
  store: LeadStore;
  spam: SpamLimits;
}

export function leadsFromContactClicks(deps: ContactClickDeps, beacons: Beacon[], hit: Hit): Lead[] {
  const created: Lead[] = [];
  const channels = new Set<string>();
  for (const b of beacons) {
    if (channels.has(b.type)) continue; // a page sends one click at a time: a hundred in one request is one lead
    channels.add(b.type);
    const ref = b.props.ref;
    // One lead per visitor, kind of click and day: clicking WhatsApp twice is still one person.
    const day = new Date(hit.receivedAt).toISOString().slice(0, 10);
    const visitor = b.visitorId || `net:${createHash('sha256').update(`${clientNet(hit.clientIp)} ${hit.userAgent}`).digest('base64url').slice(0, 16)}`;
    const draft: LeadDraft = {
      eventId: `click:${b.type}:${visitor}:${day}`,
      name: undefined,
      phone: undefined,
      email: undefined,
      message: undefined,
      service: undefined,
      extra: b.props.href ? `Clicked: ${b.props.href}` : undefined,
      refCode: ref !== undefined && REF_CODE.test(ref) ? ref.toUpperCase() : undefined,
      // The tracker's state at the click: on a site that does not ask, consent is implied.
      consentAds: b.consent === '' ? undefined : b.consent !== 'denied',
      consentPersonalization: undefined,
      visitorId: b.visitorId || undefined,
      sessionId: b.sessionId || undefined,
      pageUrl: b.url || undefined,
      referrer: b.referrer || undefined,
      attribution: { ...nonEmpty(b.campaign), ...nonEmpty({ fbc: b.fbc, fbp: b.fbp, landing: b.landing }) },
    };
    const { lead, created: isNew } = deps.store.create(
      newLead(draft, {
        source: b.type as 'call' | 'whatsapp',
        clientIp: hit.clientIp,
        userAgent: hit.userAgent,
        geo: hit.geo,
        flag: spamFlag(deps.store, { ip: hit.clientIp, phone: undefined }, deps.spam),
      }),
    );
    if (isNew) created.push(lead);
  }
  return created;
}

/** Counts each new lead (not a held one) as a `lead` event, once its transaction has committed. */
export function countLeadsAsEvents(leads: LeadStore, events: EventSink, agents: AgentParser, log: Logger): void {
  leads.onCreate.push((lead) =>
    queueMicrotask(() => {
      if (lead.flag) return;
      events.write([leadEventRow(lead, agents)]).catch((err) => log.warn({ err, lead: lead.id }, 'lead stored, but its analytics event could not be journaled'));
    }),
  );
}

export function leadEventRow(lead: Lead, agents: AgentParser): EventRow {
  const agent = lead.user_agent ? agents.parse(lead.user_agent) : { browser: '', os: '', device: '' };
  let path = '';
  let hostname = '';
  try {
    if (lead.page_url) ({ pathname: path, hostname } = new URL(lead.page_url));
  } catch {
    // a page URL we cannot parse still counts the lead
  }
  return {
    event_id: lead.id,
    event_time: lead.created_at,
    received_at: lead.created_at,
    type: 'lead',
    name: lead.source,
    visitor_id: lead.visitor_id ?? '',
    session_id: lead.session_id ?? '',
    url: lead.page_url ?? '',
    path,
    hostname,
    referrer: lead.referrer ?? '',
    referrer_host: '',
    utm_source: lead.utm_source ?? '',
    utm_medium: lead.utm_medium ?? '',
    utm_campaign: lead.utm_campaign ?? '',
    utm_term: lead.utm_term ?? '',
    utm_content: lead.utm_content ?? '',
    gclid: lead.gclid ?? '',
    gbraid: lead.gbraid ?? '',
    wbraid: lead.wbraid ?? '',
    fbclid: lead.fbclid ?? '',
    msclkid: lead.msclkid ?? '',
    country: lead.country ?? '',
    region: lead.region ?? '',
    city: lead.city ?? '',
    browser: agent.browser,
    os: agent.os,
    device: agent.device,
    screen_width: 0,
    screen_height: 0,
    language: '',
    props: lead.is_test ? { test: 'true' } : {},
  };
}

function nonEmpty<T extends Record<string, string>>(values: T): Partial<T> {
  return Object.fromEntries(Object.entries(values).filter(([, v]) => v !== '')) as Partial<T>;
}
