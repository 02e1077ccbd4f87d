// Seeds an embedded data directory with N generated events (over the last 90 days) and measures
// the bare export of them as JSONEachRow: the baseline of bench/backup.ts. Runs in its own
// process (chdb opens one data directory per process): tsx bench/seed-events.ts <dataDir> <n>
import { openEmbedded } from '../src/events/embedded.ts';
import { migrate } from '../src/events/schema.ts';
const db = await openEmbedded(process.argv[2] + '/clickhouse', 'lean_capture');
await migrate(db);
await db.exec(`INSERT INTO events (event_id, event_time, received_at, type, visitor_id, session_id, url, path, hostname, referrer_host, utm_source, utm_campaign, gclid, country, city, browser, os, device, screen_width, screen_height, language, props)
  SELECT generateUUIDv4(number), toDateTime64(now() - (number * 7919) % 7776000, 3, 'UTC') AS t, t + toIntervalMillisecond(number % 900),
    ['pageview', 'pageview', 'pageview', 'click', 'call', 'form_submit'][number % 6 + 1], concat('v', toString(number % 60000)), concat('s', toString(number % 250000)),
    concat('https://usta.example.com/', ['kombi', 'petek', 'klima'][number % 3 + 1], '?utm_campaign=c', toString(number % 20)), concat('/', ['kombi', 'petek', 'klima'][number % 3 + 1]),
    'usta.example.com', ['google.com', '', 'instagram.com'][number % 3 + 1], ['google', '', 'meta'][number % 3 + 1], concat('c', toString(number % 20)),
    if(number % 5 = 0, concat('Cj0KCQiA', hex(cityHash64(number))), ''), 'TR', ['Istanbul', 'Ankara', 'Izmir', 'Bursa'][number % 4 + 1],
    ['Chrome', 'Safari', 'Samsung Internet'][number % 3 + 1], ['Android', 'iOS', 'Windows'][number % 3 + 1], ['mobile', 'mobile', 'desktop'][number % 3 + 1],
    [390, 412, 1920][number % 3 + 1], [844, 915, 1080][number % 3 + 1], 'tr-TR', map('variant', toString(number % 3))
  FROM numbers(${Number(process.argv[3])})`);
const started = performance.now();
let bytes = 0;
for (const { id } of await db.query<{ id: string }>("SELECT DISTINCT partition_id AS id FROM system.parts WHERE database = 'lean_capture' AND table = 'events' AND active")) {
  for (const { day } of await db.query<{ day: string }>('SELECT DISTINCT toString(toDate(event_time)) AS day FROM events WHERE _partition_id = {p:String}', { p: id })) {
    bytes += (await db.queryText('SELECT * FROM events WHERE _partition_id = {p:String} AND toDate(event_time) = {d:Date}', { p: id, d: day })).length;
  }
}
process.stdout.write(JSON.stringify({ exportMs: performance.now() - started, exportBytes: bytes }));
await db.close();
