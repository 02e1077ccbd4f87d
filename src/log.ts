// The process logger: pino JSON lines on stdout. Raw IPs, phones, emails and secrets are
// redacted wherever they appear as fields, so a careless log call cannot leak them.
import { pino, type Logger } from 'pino';

export type { Logger };

const REDACT = [
  'ip', '*.ip', 'clientIp', '*.clientIp', 'phone', '*.phone', 'email', '*.email',
  'password', '*.password', 'token', '*.token', 'authorization', '*.authorization',
  'headers.authorization', 'headers["x-forwarded-for"]', 'headers["cf-connecting-ip"]',
];

export function createLogger(level: string): Logger {
  return pino({ level, redact: { paths: REDACT, censor: '[redacted]' }, base: { app: 'lean-capture' } });
}
