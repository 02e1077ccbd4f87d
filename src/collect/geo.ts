// GeoIP enrichment: country, region and city of the client IP from a MaxMind City database
// (GeoLite2 or GeoIP2, read with the `maxmind` package). The file is polled and reloaded when it
// changes (geoipupdate replaces it atomically); a missing or corrupt file is reported once and
// the server keeps running with empty geo fields.
import { readFileSync, statSync, unwatchFile, watchFile } from 'node:fs';
import { Reader, type CityResponse } from 'maxmind';
import { lru } from 'tiny-lru';
import type { Logger } from '../log.ts';
import { TextCache } from './cache.ts';

export interface Geo {
  country: string;
  region: string;
  city: string;
}

export interface GeoStatus {
  path: string;
  loaded: boolean;
  databaseType?: string;
  buildDate?: string;
  error?: string;
}

export const NO_GEO: Geo = Object.freeze({ country: '', region: '', city: '' });
const POLL_MS = 10_000;
const DECODER_CACHE = 10_000;

export class GeoLocator {
  private reader: Reader<CityResponse> | undefined;
  private state: GeoStatus;
  /** mtime, size and inode of the loaded file: geoipupdate renames a new file into place. */
  private loadedVersion = '';
  /** Answers by address (a visitor's beacons come from one: pageview, clicks, leave); cleared on reload. */
  private readonly answers = new TextCache<Geo>(10_000, 64);

  constructor(private readonly path: string, private readonly log: Logger) {
    this.state = { path, loaded: false };
    this.reload();
    watchFile(path, { interval: POLL_MS, persistent: false }, () => this.reload());
  }

  lookup(ip: string): Geo {
    if (this.reader === undefined) return NO_GEO;
    let geo = this.answers.get(ip);
    if (geo === undefined) {
      geo = this.find(this.reader, ip);
      this.answers.set(ip, geo);
    }
    return geo;
  }

  private find(reader: Reader<CityResponse>, ip: string): Geo {
    let found: CityResponse | null;
    try {
      found = reader.get(ip);
    } catch {
      return NO_GEO; // not an IP, or a damaged tree node: no geo rather than no event
    }
    if (found === null) return NO_GEO;
    return Object.freeze({
      country: found.country?.iso_code ?? found.registered_country?.iso_code ?? '',
      region: found.subdivisions?.[0]?.names?.en ?? '',
      city: found.city?.names?.en ?? '',
    });
  }

  status(): GeoStatus {
    return this.state;
  }

  close(): void {
    unwatchFile(this.path);
  }

  /** Loads the file if it changed since the last load; keeps the previous reader on failure. */
  reload(): void {
    let version: string;
    try {
      const stat = statSync(this.path);
      version = `${stat.mtimeMs}:${stat.size}:${stat.ino}`;
    } catch {
      this.fail('database file not found');
      return;
    }
    if (version === this.loadedVersion && this.reader !== undefined) return;
    try {
      const reader = new Reader<CityResponse>(readFileSync(this.path), { cache: lru(DECODER_CACHE) });
      if (!reader.metadata.databaseType.includes('City')) throw new Error(`database type is ${reader.metadata.databaseType}, expected a City database`);
      this.reader = reader;
      this.answers.clear();
      this.loadedVersion = version;
      this.state = {
        path: this.path,
        loaded: true,
        databaseType: reader.metadata.databaseType,
        buildDate: reader.metadata.buildEpoch.toISOString(),
      };
      this.log.info({ geoip: this.state }, 'GeoIP database loaded');
    } catch (err) {
      this.fail(`cannot read database: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  private fail(error: string): void {
    if (this.state.error === error) return; // reported once, not on every poll
    this.state = { ...this.state, loaded: this.reader !== undefined, error };
    this.log.warn({ path: this.path, error }, this.reader ? 'GeoIP database update failed; keeping the loaded one' : 'GeoIP disabled: geo fields stay empty');
  }
}
