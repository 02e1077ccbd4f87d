// One request of a check, with a deadline, and the reason it failed in words an owner can act on.

const TIMEOUT_MS = 10_000;

export type Answer = { res: Response; text: string } | { error: string };

export async function ask(url: string, init: RequestInit = {}, timeoutMs = TIMEOUT_MS): Promise<Answer> {
  try {
    const res = await fetch(url, { ...init, redirect: init.redirect ?? 'follow', signal: AbortSignal.timeout(timeoutMs) });
    return { res, text: await res.text() };
  } catch (err) {
    return { error: networkReason(err, timeoutMs) };
  }
}

const CERTIFICATE_CODES: Record<string, string> = {
  CERT_HAS_EXPIRED: 'the TLS certificate has expired',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'the TLS certificate is self-signed',
  SELF_SIGNED_CERT_IN_CHAIN: 'the TLS certificate chain holds a self-signed certificate',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'the TLS certificate is not signed by a known authority (missing intermediate?)',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'the TLS certificate is not signed by a known authority',
  ERR_TLS_CERT_ALTNAME_INVALID: 'the TLS certificate is for another name',
  CERT_NOT_YET_VALID: 'the TLS certificate is not valid yet (clock?)',
};

function networkReason(err: unknown, timeoutMs = TIMEOUT_MS): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError' || e.name === 'AbortError') return `no answer within ${Math.round(timeoutMs / 1000)} s`;
  const code = e.cause?.code ?? '';
  if (CERTIFICATE_CODES[code]) return CERTIFICATE_CODES[code];
  if (code === 'ECONNREFUSED') return 'connection refused';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'the name does not resolve (DNS)';
  if (code === 'ECONNRESET') return 'the connection was reset';
  return e.cause?.message ?? e.message ?? String(err);
}
