// The beacons the benchmarks send, shaped as the real tracker (/t.js) sends them from Chromium: an
// array of one event with the visitor's stored attribution and consent (test/tracker.test.ts checks
// the shape against what a browser sent). 50 visitors from Google and Meta ads: one in five
// requests is a landing with the ad's query string, the rest are later pages of the same visit.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cityRecord, writeMmdb } from '../test/support/mmdb.ts';

export const BEACON_AGENT = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1';
const IPS = ['81.214.10.20', '81.214.200.7', '2a02:e0::55', '198.51.100.9', '81.214.33.1'];

export interface BenchBeacon {
  /** The client address, sent as X-Forwarded-For by one trusted proxy hop. */
  ip: string;
  body: string;
}

export function benchBeacons(now = Date.now()): BenchBeacon[] {
  return Array.from({ length: 50 }, (_, n) => {
    const site = 'https://plumber.example.com';
    const fromMeta = n % 4 === 1;
    const query = fromMeta
      ? `fbclid=IwAR2x${n}Kq7vB3mZ&utm_source=facebook&utm_medium=paid&utm_campaign=emergency`
      : `gclid=Cj0KCQiA${n}wKSxBhC8ARIsA&utm_source=google&utm_medium=cpc&utm_campaign=emergency&utm_term=acil+tesisatci`;
    const landing = `${site}/services/${n % 7}?${query}`;
    // The tracker's attribution(): the stored touch, the _fbp cookie, then each platform's click ids.
    const touch = fromMeta
      ? { fbclid: `IwAR2x${n}Kq7vB3mZ`, landing, utm_source: 'facebook', utm_medium: 'paid', utm_campaign: 'emergency', fbc: `fb.1.${now - 60_000}.IwAR2x${n}Kq7vB3mZ` }
      : { gclid: `Cj0KCQiA${n}wKSxBhC8ARIsA`, landing, utm_source: 'google', utm_medium: 'cpc', utm_campaign: 'emergency', utm_term: 'acil tesisatci' };
    const attribution = fromMeta
      ? { ...touch, fbp: `fb.1.${now - 60_000}.${1_000_000_000 + n}`, gclid: '', gbraid: '', wbraid: '' }
      : { ...touch, fbp: '', fbclid: '', fbc: '' };
    const isLanding = n % 5 === 0;
    const event = {
      type: 'pageview',
      url: isLanding ? landing : `${site}/services/${(n + 1) % 7}`,
      referrer: isLanding ? (fromMeta ? 'https://m.facebook.com/' : 'https://www.google.com/') : landing,
      visitorId: `k${(n * 7919).toString(36).padStart(10, '7')}`,
      sessionId: `s${(n * 104729).toString(36).padStart(10, '3')}`,
      ts: now,
      lang: 'tr-TR',
      attribution,
      consent: true,
    };
    return { ip: IPS[n % IPS.length]!, body: JSON.stringify([event]) };
  });
}

/** Writes the beacons for bench/beacons.lua (one "ip<TAB>body" a line) and returns the file's path. */
export function writeWrkBeacons(dir: string): string {
  const path = join(dir, 'beacons.tsv');
  writeFileSync(path, benchBeacons().map((b) => `${b.ip}\t${b.body}\n`).join(''));
  return path;
}

/**
 * Writes a GeoIP City database holding the beacons' client networks among 3000 others, so lookups
 * walk a real tree, and returns its path.
 */
export function writeBenchCityDb(dir: string): string {
  const networks: Record<string, ReturnType<typeof cityRecord>> = { '81.214.0.0/16': cityRecord('TR', 'Istanbul', 'Istanbul'), '2a02:e0::/32': cityRecord('DE', 'Bavaria', 'Munich') };
  for (let i = 0; i < 3000; i++) networks[`${11 + (i % 60)}.${(i * 7) % 256}.${(i * 13) % 256}.0/24`] = cityRecord('US', `State ${i % 50}`, `City ${i}`);
  const path = join(dir, 'city.mmdb');
  writeFileSync(path, writeMmdb(networks));
  return path;
}
