// The process logger: pino JSON lines on stdout, or readable lines (pino-pretty) when stdout is a
// terminal. Raw IPs, phones, emails and secrets are redacted wherever they appear as fields, so a
// careless log call cannot leak them.
import { createRequire } from 'node:module';
import { pino, type Logger } from 'pino';

export type { Logger };

const REDACT = [
  'ip', '*.ip', 'clientIp', '*.clientIp', 'phone', '*.phone', 'email', '*.email',
  'password', '*.password', 'token', '*.token', 'authorization', '*.authorization',
  'headers.authorization', 'headers["x-forwarded-for"]', 'headers["cf-connecting-ip"]',
];

/** sd-daemon(3) priorities for pino's levels: journald reads a leading "<N>", so `journalctl -p err` works. */
const PRIORITY: Record<string, number> = { 10: 7, 20: 7, 30: 6, 40: 4, 50: 3, 60: 2 };

/**
 * `journald`: stdout is the systemd journal (JOURNAL_STREAM is set): each line starts with its
 * priority. `terminal`: someone reads stdout (npm start in a shell): readable lines, not JSON.
 */
export function createLogger(level: string, journald = false, terminal = false): Logger {
  const options = { level, redact: { paths: REDACT, censor: '[redacted]' }, base: { app: 'lean-capture' } };
  if (terminal && !journald) {
    // Loaded only for a terminal: servers under systemd or Docker never need it.
    const pretty = createRequire(import.meta.url)('pino-pretty') as (o: object) => NodeJS.WritableStream;
    return pino(options, pretty({ colorize: true, sync: true, translateTime: 'SYS:HH:MM:ss', ignore: 'pid,hostname,app' }) as never);
  }
  if (!journald) return pino(options);
  const stream = {
    write(line: string) {
      const priority = PRIORITY[/"level":(\d+)/.exec(line)?.[1] ?? '30'] ?? 6;
      process.stdout.write(`<${priority}>${line}`);
    },
    flush() {},
  };
  return pino(options, stream);
}
