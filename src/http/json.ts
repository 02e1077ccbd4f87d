// Text a client sent, made well-formed once at the edge: JSON bodies are strict UTF-8, and every
// string in them (keys too) has lone surrogates replaced by U+FFFD. Nothing downstream — SQLite,
// the journal, ClickHouse (which refuses "\ud800" with code 25), Google, Meta — sees ill-formed text.

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Parses a JSON body; throws on invalid UTF-8 or JSON. */
export function readJson(body: Buffer | string): unknown {
  return JSON.parse(typeof body === 'string' ? body : utf8.decode(body), wellFormed);
}

function wellFormed(_key: string, value: unknown): unknown {
  if (typeof value === 'string') return value.toWellFormed();
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return value;
  const keys = Object.keys(value);
  if (keys.every((k) => k.isWellFormed())) return value;
  const fixed: Record<string, unknown> = {};
  for (const k of keys) Object.defineProperty(fixed, k.toWellFormed(), { value: (value as Record<string, unknown>)[k], enumerable: true, writable: true, configurable: true });
  return fixed;
}

/** A JSON body that must be an object; undefined when it is not valid JSON or not an object. */
export function readJsonObject(body: Buffer | string): Record<string, unknown> | undefined {
  try {
    const value = readJson(body);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** The first `max` UTF-16 units of a text, never ending in half a surrogate pair. */
export function clip(text: string, max: number): string {
  return text.length <= max ? text : text.slice(0, max).toWellFormed();
}
