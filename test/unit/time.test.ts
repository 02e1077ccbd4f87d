// The business's days: a moment's calendar day in its zone, and the moment a day starts there,
// across summer-time changes (Berlin's at 02:00, Chile's at midnight) and zones a day off UTC.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { dayIn, dayPlus, startOfDayIn } from '../../src/time.ts';

test("a moment's day and a day's first moment in the business's time zone", () => {
  assert.equal(dayIn(Date.parse('2026-12-02T21:30:00Z'), 'UTC'), '2026-12-02');
  assert.equal(dayIn(Date.parse('2026-12-02T21:30:00Z'), 'Europe/Istanbul'), '2026-12-03');
  assert.equal(dayIn(Date.parse('2026-12-02T09:30:00Z'), 'Pacific/Pago_Pago'), '2026-12-01');
  assert.equal(dayPlus('2026-12-30', 3), '2027-01-02');
  assert.equal(dayPlus('2026-03-01', -1), '2026-02-28');

  const starts: Array<[string, string, string]> = [
    ['2026-12-03', 'UTC', '2026-12-03T00:00:00.000Z'],
    ['2026-12-03', 'Europe/Istanbul', '2026-12-02T21:00:00.000Z'],
    ['2026-12-03', 'Pacific/Kiritimati', '2026-12-02T10:00:00.000Z'],
    ['2026-12-03', 'Pacific/Pago_Pago', '2026-12-03T11:00:00.000Z'],
    // Berlin: winter time before the day's 02:00 change, summer time before the autumn one.
    ['2026-03-29', 'Europe/Berlin', '2026-03-28T23:00:00.000Z'],
    ['2026-10-25', 'Europe/Berlin', '2026-10-24T22:00:00.000Z'],
    // Chile: 00:00 does not exist on 6 September 2026 (the day starts at 01:00, -03), and on
    // 5 April 2026 the clock goes back from 24:00 to 23:00 of the day before (00:00 at -04).
    ['2026-09-06', 'America/Santiago', '2026-09-06T04:00:00.000Z'],
    ['2026-04-05', 'America/Santiago', '2026-04-05T04:00:00.000Z'],
  ];
  for (const [day, zone, start] of starts) {
    const at = startOfDayIn(day, zone);
    assert.equal(new Date(at).toISOString(), start, `${day} in ${zone}`);
    assert.equal(dayIn(at, zone), day);
    assert.equal(dayIn(at - 1, zone), dayPlus(day, -1), `the moment before ${day} starts in ${zone} is the day before`);
  }
});
