// How event rows are written into the journal and handed to ClickHouse: TabSeparated, the text
// format ClickHouse reads fastest (about half the parse cost of JSONEachRow here, see
// docs/performance.md), in the column order of the `events` table. Journals written before
// (JSONEachRow) still replay: each journal record says which format it holds.
import type { RowFormat } from './clickhouse.ts';
import type { EventRow } from './schema.ts';

/** The format new journal records are written in. */
export const ROW_FORMAT: RowFormat = 'TabSeparated';

/** The columns a TabSeparated row holds, in order (inserts name them, so later columns take their defaults). */
export const EVENT_COLUMNS = [
  'event_id', 'event_time', 'received_at', 'type', 'name', 'visitor_id', 'session_id', 'url', 'path', 'hostname', 'referrer', 'referrer_host',
  'utm_source', 'utm_medium', 'utm_campaign', 'utm_term', 'utm_content', 'gclid', 'gbraid', 'wbraid', 'fbclid', 'msclkid',
  'country', 'region', 'city', 'browser', 'os', 'device', 'screen_width', 'screen_height', 'language', 'props',
] as const satisfies ReadonlyArray<keyof EventRow>;

/**
 * Rows as TabSeparated lines, each ending in "\n". `plainText`: the caller knows that no text it
 * gave (every string column but the GeoIP and user-agent ones, which come from elsewhere) holds a
 * character to escape, so those are written without looking (~0.8 µs a beacon of 25 checks).
 */
export function encodeRows(rows: EventRow[], plainText = false): string {
  const given = plainText ? asIs : field;
  let out = '';
  for (const r of rows) {
    out += r.event_id + '\t' + time(r.event_time) + '\t' + time(r.received_at) + '\t' + given(r.type) + '\t' + given(r.name) + '\t' +
      given(r.visitor_id) + '\t' + given(r.session_id) + '\t' + given(r.url) + '\t' + given(r.path) + '\t' + given(r.hostname) + '\t' +
      given(r.referrer) + '\t' + given(r.referrer_host) + '\t' + given(r.utm_source) + '\t' + given(r.utm_medium) + '\t' +
      given(r.utm_campaign) + '\t' + given(r.utm_term) + '\t' + given(r.utm_content) + '\t' + given(r.gclid) + '\t' + given(r.gbraid) + '\t' +
      given(r.wbraid) + '\t' + given(r.fbclid) + '\t' + given(r.msclkid) + '\t' + field(r.country) + '\t' + field(r.region) + '\t' +
      field(r.city) + '\t' + field(r.browser) + '\t' + field(r.os) + '\t' + field(r.device) + '\t' + uint16(r.screen_width) + '\t' +
      uint16(r.screen_height) + '\t' + given(r.language) + '\t' + map(r.props) + '\n';
  }
  return out;
}

/** Milliseconds since the epoch as DateTime64(3) text: seconds with three decimals. */
function time(ms: number): string {
  const whole = Math.round(ms);
  const seconds = Math.floor(whole / 1000);
  const milli = whole - seconds * 1000;
  return seconds + (milli < 10 ? '.00' : milli < 100 ? '.0' : '.') + milli;
}

function uint16(n: number): string {
  return String(Number.isInteger(n) && n >= 0 && n <= 65535 ? n : 0);
}

const TSV_SPECIAL = /[\\\t\n\r\0]/;
const TSV_ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r', '\0': '\\0' };

/** A String field: backslash, tab, newline, CR and NUL escaped (ClickHouse's TabSeparated escaping). */
function field(text: string): string {
  return TSV_SPECIAL.test(text) ? text.replace(/[\\\t\n\r\0]/g, (c) => TSV_ESCAPES[c]!) : text;
}

const asIs = (text: string) => text;

const QUOTED_SPECIAL = /[\\'\t\n\r\0]/;

/** A string inside a Map value: single-quoted, with the quote escaped too. */
function quoted(text: string): string {
  return "'" + (QUOTED_SPECIAL.test(text) ? text.replace(/[\\'\t\n\r\0]/g, (c) => (c === "'" ? "\\'" : TSV_ESCAPES[c]!)) : text) + "'";
}

function map(props: Record<string, string>): string {
  let out = '{';
  for (const key in props) out += (out.length > 1 ? ',' : '') + quoted(key) + ':' + quoted(props[key]!);
  return out + '}';
}
