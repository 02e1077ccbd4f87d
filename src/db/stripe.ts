// Stripe's side of sales: the event ids already processed (Stripe resends until it gets a 2xx)
// and each payment (keyed on its PaymentIntent) with what was refunded of it, in minor units.
import type { Db } from './database.ts';

export class StripeLedger {
  constructor(private readonly db: Db) {}

  /** Records a Stripe event id; false when it was seen before. */
  fresh(eventId: string, now = Date.now()): boolean {
    return this.db.prepare('INSERT OR IGNORE INTO stripe_events (id, received_at) VALUES (?, ?)').run(eventId, now).changes === 1;
  }

  /** Records a payment of a lead; false when this payment was already recorded. */
  addPayment(key: string, leadId: string, amount: number, currency: string, now = Date.now()): boolean {
    return this.db.prepare('INSERT OR IGNORE INTO stripe_payments (key, lead_id, amount, currency, updated_at) VALUES (?, ?, ?, ?, ?)').run(key, leadId, amount, currency, now).changes === 1;
  }

  payment(key: string): { lead_id: string; amount: number } | undefined {
    return this.db.prepare('SELECT lead_id, amount FROM stripe_payments WHERE key = ?').get(key) as { lead_id: string; amount: number } | undefined;
  }

  setRefunded(key: string, refunded: number, now = Date.now()): void {
    this.db.prepare('UPDATE stripe_payments SET refunded = ?, updated_at = ? WHERE key = ?').run(refunded, now, key);
  }

  /** What a lead's payments in this currency brought, minus refunds (minor units). */
  net(leadId: string, currency: string): number {
    return this.db.prepare('SELECT coalesce(sum(amount - refunded), 0) FROM stripe_payments WHERE lead_id = ? AND currency = ?').pluck().get(leadId, currency) as number;
  }
}
