// The checkouts' side of sales (Stripe, Hotmart, Kiwify): the webhook deliveries already processed
// (platforms resend until they get a 2xx) and each payment, keyed on the platform's transaction,
// with what was refunded of it, in minor units.
import type { Db } from './database.ts';

export class CheckoutLedger {
  constructor(private readonly db: Db) {}

  /** Records a webhook delivery's key; false when it was seen before. */
  fresh(eventKey: string, now = Date.now()): boolean {
    return this.db.prepare('INSERT OR IGNORE INTO checkout_events (id, received_at) VALUES (?, ?)').run(eventKey, now).changes === 1;
  }

  /** When a webhook of this platform last arrived (its delivery keys: hotmart:…, kiwify:…, Stripe's evt_…). */
  lastReceived(platform: 'stripe' | 'hotmart' | 'kiwify'): number | undefined {
    const pattern = platform === 'stripe' ? 'evt\\_%' : `${platform}:%`;
    return (this.db.prepare("SELECT max(received_at) FROM checkout_events WHERE id LIKE ? ESCAPE '\\'").pluck().get(pattern) as number | null) ?? undefined;
  }

  /** Records a payment of a lead; false when this payment was already recorded. */
  addPayment(key: string, leadId: string, amount: number, currency: string, now = Date.now()): boolean {
    return this.db.prepare('INSERT OR IGNORE INTO checkout_payments (key, lead_id, amount, currency, updated_at) VALUES (?, ?, ?, ?, ?)').run(key, leadId, amount, currency, now).changes === 1;
  }

  payment(key: string): { lead_id: string; amount: number; currency: string } | undefined {
    return this.db.prepare('SELECT lead_id, amount, currency FROM checkout_payments WHERE key = ?').get(key) as { lead_id: string; amount: number; currency: string } | undefined;
  }

  setRefunded(key: string, refunded: number, now = Date.now()): void {
    this.db.prepare('UPDATE checkout_payments SET refunded = ?, updated_at = ? WHERE key = ?').run(refunded, now, key);
  }

  /** What a lead's payments in this currency brought, minus refunds (minor units). */
  net(leadId: string, currency: string): number {
    return this.db.prepare('SELECT coalesce(sum(amount - refunded), 0) FROM checkout_payments WHERE lead_id = ? AND currency = ?').pluck().get(leadId, currency) as number;
  }
}
