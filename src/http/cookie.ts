// Cookie headers as browsers send them ("a=1; b=2"): one reader for the owner's session and the tracker's cookies.

/** The value of one cookie in a Cookie header, or undefined. */
export function cookie(header: string, name: string): string | undefined {
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}
