// Small named values the server keeps between starts (the owner's password hash, the setup code,
// generated VAPID keys, the backup instance name and outcomes), one row per key.
import type { Db } from './database.ts';

export class Settings {
  constructor(private readonly db: Db) {}

  get(key: string): string | undefined {
    return this.db.prepare('SELECT value FROM settings WHERE key = ?').pluck().get(key) as string | undefined;
  }

  put(key: string, value: string): void {
    this.db.prepare('INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value').run(key, value);
  }

  /** Stores `value` unless the key has one; returns the value kept (the first writer wins). */
  putIfAbsent(key: string, value: string): string {
    this.db.prepare('INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING').run(key, value);
    return this.get(key)!;
  }

  delete(key: string): boolean {
    return this.db.prepare('DELETE FROM settings WHERE key = ?').run(key).changes === 1;
  }
}
