// npm run bench:hot: what one beacon costs in JS on the ingest path, step by step (parse, user
// agent with its bot verdict, GeoIP, row encoding, journal append, the batcher's read back), with the beacons and agents
// bench/ingest.ts sends. Each step runs alone over the same inputs; the sum is the JS budget a
// beacon spends on the event loop before ClickHouse. Prints one summary line.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseCollect } from '../src/collect/beacon.ts';
import { GeoLocator } from '../src/collect/geo.ts';
import { newHit, toRows } from '../src/collect/pipeline.ts';
import { AgentParser } from '../src/collect/user-agent.ts';
import { Journal } from '../src/events/journal.ts';
import { encodeRows } from '../src/events/row-format.ts';
import { createLogger } from '../src/log.ts';
import { createMetrics } from '../src/metrics.ts';
import { BEACON_AGENT, benchBeacons, writeBenchCityDb } from './beacons.ts';

const N = Number(process.env.HOT_BEACONS ?? 200_000);
const work = mkdtempSync(join(tmpdir(), 'lc-hot-'));
const log = createLogger('silent');
const cityDb = writeBenchCityDb(work);

// The beacons, agent and addresses bench/ingest.ts sends.
const beacons = benchBeacons();
const bodies = beacons.map((b) => Buffer.from(b.body));
const ips = beacons.map((b) => b.ip);
const agent = BEACON_AGENT;

/**
 * Microseconds per beacon of `step`: the fastest of ten rounds of N/10 beacons (after a warm-up
 * round). The fastest round is the one this machine's neighbours disturbed least.
 */
function measure(step: (i: number) => void): number {
  const round = N / 10;
  let best = Infinity;
  for (let r = 0; r <= 10; r++) {
    const started = process.hrtime.bigint();
    for (let i = 0; i < round; i++) step(r * round + i);
    if (r > 0) best = Math.min(best, Number(process.hrtime.bigint() - started) / 1000 / round);
  }
  return best;
}

const agents = new AgentParser();
const geo = new GeoLocator(cityDb, log);
const parsed = bodies.map((b) => parseCollect('text/plain;charset=UTF-8', b));
const hits = parsed.map((p, n) => {
  if (!p.ok) throw new Error('a bench body does not parse');
  const hit = newHit(p.beacons, agent, ips[n]!, Date.now());
  hit.agent = agents.parse(agent);
  hit.geo = geo.lookup(hit.clientIp);
  return hit;
});
// As the server encodes them: unescaped when the parser says no text needs it (see beacon.ts).
const plainText = parsed.map((p) => p.ok && p.plainText);
const encoded = hits.map((h, n) => encodeRows(toRows(h), plainText[n]));

const steps = {
  parse: measure((i) => parseCollect('text/plain;charset=UTF-8', bodies[i % bodies.length]!)),
  agent: measure(() => agents.parse(agent)),
  geo: measure((i) => geo.lookup(ips[i % ips.length]!)),
  encode: measure((i) => encodeRows(toRows(hits[i % hits.length]!), plainText[i % hits.length])),
  journal: 0,
  readBack: 0,
};

// The journal as the server runs it: appends within one event-loop turn share a record; the
// batcher reads them back (and checks them) in batches of up to 20 000 rows.
const journal = new Journal({ dir: join(work, 'journal'), fsync: 200, maxBytes: 4 * 1024 ** 3 }, log, createMetrics());
const PER_TURN = 64;
{
  let started = process.hrtime.bigint();
  for (let done = 0; done < N; done += PER_TURN) {
    const appends: Array<Promise<void>> = [];
    for (let i = 0; i < PER_TURN; i++) appends.push(journal.append(encoded[(done + i) % encoded.length]!, 1));
    await Promise.all(appends);
  }
  steps.journal = Number(process.hrtime.bigint() - started) / 1000 / N;
  started = process.hrtime.bigint();
  for (let batch = await journal.readBatch(20_000); batch; batch = await journal.readBatch(20_000)) await journal.confirm(batch);
  steps.readBack = Number(process.hrtime.bigint() - started) / 1000 / N;
}
journal.close();
geo.close();
rmSync(work, { recursive: true, force: true });

const total = Object.values(steps).reduce((a, b) => a + b, 0);
const f = (us: number) => us.toFixed(2);
console.log(`bench hot: ${f(total)} µs per beacon in JS | parse ${f(steps.parse)} · user agent + bot ${f(steps.agent)} · GeoIP ${f(steps.geo)} · row encoding ${f(steps.encode)} · journal append ${f(steps.journal)} · read back ${f(steps.readBack)} (µs, ${N} beacons)`);
