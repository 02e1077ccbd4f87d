// A small cache for the ingest path's lookups by text (page URLs, client addresses): cleared when
// full, so that a flood of fresh keys costs a lookup each rather than memory. Keys are stored as
// copies: a key cut from a longer string (a URL before its query, an address out of
// X-Forwarded-For) would otherwise keep that whole string alive.
export class TextCache<V> {
  private readonly entries = new Map<string, V>();

  constructor(private readonly maxEntries: number, private readonly maxKeyLength = Infinity) {}

  get(key: string): V | undefined {
    return this.entries.get(key);
  }

  set(key: string, value: V): void {
    if (key.length > this.maxKeyLength) return;
    if (this.entries.size >= this.maxEntries) this.entries.clear();
    this.entries.set(Buffer.from(key, 'utf16le').toString('utf16le'), value);
  }

  clear(): void {
    this.entries.clear();
  }
}
