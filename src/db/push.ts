// The owner's devices for web push: one row per browser subscription (endpoint and keys).
import type { Db } from './database.ts';

export interface PushSubscription {
  endpoint: string;
  p256dh: string;
  auth: string;
}

export interface DeviceRow {
  id: number;
  endpoint: string;
  user_agent: string | null;
  created_at: number;
}

export class PushSubscriptions {
  constructor(private readonly db: Db) {}

  ids(): number[] {
    return this.db.prepare('SELECT id FROM push_subscriptions ORDER BY id').pluck().all() as number[];
  }

  list(): DeviceRow[] {
    return this.db.prepare('SELECT id, endpoint, user_agent, created_at FROM push_subscriptions ORDER BY id').all() as DeviceRow[];
  }

  get(id: number): PushSubscription | undefined {
    return this.db.prepare('SELECT endpoint, p256dh, auth FROM push_subscriptions WHERE id = ?').get(id) as PushSubscription | undefined;
  }

  /** Adds a device, or renews the keys of a known endpoint; returns its id and whether it is new. */
  save(sub: PushSubscription, userAgent: string | null, now = Date.now()): { id: number; added: boolean } {
    const existing = this.db.prepare('SELECT id FROM push_subscriptions WHERE endpoint = ?').pluck().get(sub.endpoint) as number | undefined;
    if (existing !== undefined) {
      this.db.prepare('UPDATE push_subscriptions SET p256dh = ?, auth = ? WHERE id = ?').run(sub.p256dh, sub.auth, existing);
      return { id: existing, added: false };
    }
    const id = this.db.prepare('INSERT INTO push_subscriptions (endpoint, p256dh, auth, user_agent, created_at) VALUES (?, ?, ?, ?, ?)').run(sub.endpoint, sub.p256dh, sub.auth, userAgent, now).lastInsertRowid;
    return { id: Number(id), added: true };
  }

  remove(id: number): boolean {
    return this.db.prepare('DELETE FROM push_subscriptions WHERE id = ?').run(id).changes === 1;
  }
}
