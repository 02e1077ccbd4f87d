// What the connections check says: one line per thing tried, ok / warn / fail, and for anything
// not ok the fix in one sentence. The CLI prints these lines; the PWA shows the same objects.

export type Verdict = 'ok' | 'warn' | 'fail';

export interface Check {
  status: Verdict;
  /** Server, ClickHouse, GeoIP, Google Ads, Meta, Telegram, Web push, Backups, Website, … */
  integration: string;
  /** What was tried and what came back, in words. */
  tried: string;
  /** For warn and fail: what to change, where, or which command to run. */
  fix?: string;
}

export interface DoctorReport {
  at: string;
  /** No check failed. */
  ok: boolean;
  checks: Check[];
}

export const ok = (integration: string, tried: string): Check => ({ status: 'ok', integration, tried });
export const warn = (integration: string, tried: string, fix: string): Check => ({ status: 'warn', integration, tried, fix });
export const fail = (integration: string, tried: string, fix: string): Check => ({ status: 'fail', integration, tried, fix });

export function report(checks: Check[], at = new Date()): DoctorReport {
  return { at: at.toISOString(), ok: checks.every((c) => c.status !== 'fail'), checks };
}

/** `ok   Google Ads   OAuth refresh: …` and, indented below, `→ fix`. */
export function formatReport(r: DoctorReport): string {
  const width = Math.max(...r.checks.map((c) => c.integration.length), 8);
  const lines = r.checks.map((c) => `${c.status.padEnd(4)} ${c.integration.padEnd(width)}  ${c.tried}${c.fix ? `\n${' '.repeat(width + 7)}→ ${c.fix}` : ''}`);
  const counts = (['ok', 'warn', 'fail'] as const).map((s) => `${r.checks.filter((c) => c.status === s).length} ${s}`).join(', ');
  return `${lines.join('\n')}\n\n${counts}${r.ok ? '' : ': fix the failures above, then run the check again'}\n`;
}
