// An install from before sales from checkouts (SQLite schema 12) upgrades in place: its leads,
// history and outbox keep their rows and references, its Stripe ledger becomes the checkout
// ledger, and a lead can then be of source `checkout`.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { MIGRATIONS, openDatabase } from '../../src/db/database.ts';
import { removeDir, tempDir } from '../support/harness.ts';

test('schema 12 → 13 keeps every lead, its history, jobs and Stripe payments', () => {
  const dir = tempDir('sqlite-upgrade');
  const path = join(dir, 'leads.db');
  try {
    const old = new Database(path);
    old.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)');
    for (const m of MIGRATIONS.filter((x) => x.version <= 12)) {
      old.exec(m.sql);
      old.prepare('INSERT INTO schema_migrations VALUES (?, ?, ?)').run(m.version, m.name, 0);
    }
    old.prepare("INSERT INTO leads (id, source, name, phone, gclid, status, sale_value, sale_currency, sold_at, quote_value, created_at, updated_at) VALUES ('L1', 'form', 'Ayşe', '+905321112233', 'Cj0-old', 'SOLD', 1500, 'TRY', 2, 1400, 1, 2)").run();
    old.prepare("INSERT INTO lead_history (lead_id, at, actor, field, old_value, new_value) VALUES ('L1', 1, 'form', 'status', NULL, 'NEW')").run();
    old.prepare("INSERT INTO outbox (destination, dedup_key, lead_id, payload, max_attempts, next_attempt_at, created_at, updated_at) VALUES ('google', 'google:L1', 'L1', '{}', 10, 0, 1, 1)").run();
    old.prepare("INSERT INTO stripe_events (id, received_at) VALUES ('evt_old', 1)").run();
    old.prepare("INSERT INTO stripe_payments (key, lead_id, amount, currency, updated_at) VALUES ('pi_old', 'L1', 150000, 'TRY', 1)").run();
    old.close();

    const db = openDatabase(path);
    assert.equal(db.prepare('SELECT max(version) FROM schema_migrations').pluck().get(), 13);
    const lead = db.prepare("SELECT name, phone, gclid, status, sale_value, quote_value, checkout, checkout_ref FROM leads WHERE id = 'L1'").get();
    assert.deepEqual(lead, { name: 'Ayşe', phone: '+905321112233', gclid: 'Cj0-old', status: 'SOLD', sale_value: 1500, quote_value: 1400, checkout: null, checkout_ref: null });
    assert.equal(db.prepare("SELECT count(*) FROM lead_history WHERE lead_id = 'L1'").pluck().get(), 1);
    assert.equal(db.prepare("SELECT count(*) FROM outbox WHERE lead_id = 'L1'").pluck().get(), 1);
    assert.deepEqual(db.prepare('SELECT key, lead_id, amount FROM checkout_payments').all(), [{ key: 'pi_old', lead_id: 'L1', amount: 150000 }]);
    assert.equal(db.prepare("SELECT count(*) FROM checkout_events WHERE id = 'evt_old'").pluck().get(), 1);
    assert.deepEqual(db.pragma('foreign_key_check'), []);
    // The references still hold: erasing the lead takes its history, jobs and payments with it.
    db.prepare("DELETE FROM leads WHERE id = 'L1'").run();
    assert.deepEqual(['lead_history', 'outbox', 'checkout_payments'].map((t) => db.prepare(`SELECT count(*) FROM ${t}`).pluck().get()), [0, 0, 0]);
    db.prepare("INSERT INTO leads (id, source, created_at, updated_at) VALUES ('L2', 'checkout', 1, 1)").run();
    db.close();
  } finally {
    removeDir(dir);
  }
});
