// Contact details as ad platforms want them before hashing: SHA-256 of the normalised value, as
// 64 lower-case hex characters. Raw emails and phones never leave the server.
// Google (Data Manager "Format user data"): email without whitespace and lower-cased; for gmail.com
// and googlemail.com, the dots and any "+suffix" of the local part removed; phone in E.164.
// Meta (Conversions API "Customer information parameters"): em trimmed and lower-cased; ph digits
// only, with the country code and no "+"; external_id trimmed and lower-cased.
import { createHash } from 'node:crypto';

export function sha256Hex(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('hex');
}

export function googleEmail(email: string): string {
  const lower = email.replace(/\s+/g, '').toLowerCase();
  const at = lower.lastIndexOf('@');
  const [local, domain] = [lower.slice(0, at), lower.slice(at + 1)];
  if (domain !== 'gmail.com' && domain !== 'googlemail.com') return lower;
  return `${local.replace(/\+.*$/, '').replace(/\./g, '')}@${domain}`;
}

/** Our phones are stored in E.164 already; this keeps exactly "+" and digits. */
export function googlePhone(e164: string): string {
  return '+' + e164.replace(/\D/g, '');
}

export function metaEmail(email: string): string {
  return email.trim().toLowerCase();
}

export function metaPhone(e164: string): string {
  return e164.replace(/\D/g, '');
}

export function metaExternalId(id: string): string {
  return id.trim().toLowerCase();
}
