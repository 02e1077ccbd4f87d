// The owner's sessions, stored by the hash of their cookie token (the token itself is never kept).
import type { Db } from './database.ts';

export interface Session {
  id: string;
  created_at: number;
  last_seen_at: number;
  expires_at: number;
}

export class Sessions {
  constructor(private readonly db: Db) {}

  create(session: Session & { user_agent: string | null }): void {
    this.db.prepare('INSERT INTO sessions (id, created_at, last_seen_at, expires_at, user_agent) VALUES (@id, @created_at, @last_seen_at, @expires_at, @user_agent)').run(session);
  }

  get(id: string): Session | undefined {
    return this.db.prepare('SELECT id, created_at, last_seen_at, expires_at FROM sessions WHERE id = ?').get(id) as Session | undefined;
  }

  touch(id: string, now: number): void {
    this.db.prepare('UPDATE sessions SET last_seen_at = ? WHERE id = ?').run(now, id);
  }

  delete(id: string): void {
    this.db.prepare('DELETE FROM sessions WHERE id = ?').run(id);
  }

  deleteAll(): number {
    return this.db.prepare('DELETE FROM sessions').run().changes;
  }
}
