import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { parseCollect } from '../../src/collect/beacon.ts';
import { AgentParser } from '../../src/collect/user-agent.ts';
import { newHit, toRows } from '../../src/collect/pipeline.ts';
import { encodeRows } from '../../src/events/row-format.ts';

const parse = (value: unknown, contentType = 'application/json') => parseCollect(contentType, Buffer.from(JSON.stringify(value)));

test('click ids and UTMs come from the page URL first, then from the stored attribution', () => {
  const result = parse({
    type: 'pageview',
    url: 'https://a.example/p?gclid=URL-G&utm_source=bing',
    attribution: { gclid: 'OLD-G', wbraid: 'W', utm_source: 'google', utm_content: 'hero' },
  });
  assert.ok(result.ok);
  const { campaign } = result.beacons[0]!;
  assert.equal(campaign.gclid, 'URL-G');
  assert.equal(campaign.wbraid, 'W');
  assert.equal(campaign.utm_source, 'bing');
  assert.equal(campaign.utm_content, 'hero');
  assert.equal(campaign.msclkid, '');
});

test('a "__proto__" prop stays a plain key and pollutes nothing', () => {
  const result = parseCollect('text/plain', Buffer.from('{"type":"custom","props":{"__proto__":"x","constructor":"y"}}'));
  assert.ok(result.ok);
  const props = result.beacons[0]!.props;
  assert.deepEqual(Object.keys(props).sort(), ['__proto__', 'constructor']);
  assert.equal(JSON.stringify(props), '{"__proto__":"x","constructor":"y"}');
  assert.equal(({} as Record<string, unknown>).x, undefined);
});

test('the error names the field and the event of a batch that is wrong', () => {
  const result = parse([{ type: 'pageview' }, { type: 'click', screen: { w: -1 } }]);
  assert.equal(result.ok, false);
  assert.ok(!result.ok && result.detail.startsWith('[1].screen.w'));
});

test('charset parameters on the content type are accepted', () => {
  assert.ok(parse({ type: 'pageview' }, 'text/plain;charset=UTF-8').ok);
  assert.ok(parse({ type: 'pageview' }, 'Application/JSON; charset=utf-8').ok);
  assert.equal(parse({ type: 'pageview' }, '').ok, false);
});

test('ids are normalised to lower case, and a missing id gets a fresh UUID', () => {
  const result = parse([{ type: 'pageview', id: '3B241101-E2BB-4255-8CAF-4136C566A962' }, { type: 'pageview' }, { type: 'pageview' }]);
  assert.ok(result.ok);
  assert.equal(result.beacons[0]!.id, '3b241101-e2bb-4255-8caf-4136c566a962');
  assert.notEqual(result.beacons[1]!.id, result.beacons[2]!.id);
});

test('the agent parser answers for empty and odd user agents instead of throwing', () => {
  const agents = new AgentParser();
  assert.equal(agents.parse('').bot, true);
  assert.equal(agents.parse('curl/8.5.0').bot, true);
  assert.deepEqual(agents.parse('\u0000\uffff'), agents.parse('\u0000\uffff'));
});


test('page URLs read as the URL parser reads them: 100 000 odd URLs give the same verdict, path, host and campaign as new URL()', () => {
  // Pages and referrers are parsed once per URL before the query, and plain queries are split by
  // hand (beacon.ts): odd spacing, escapes, "+", fragments and repeats must not change a field.
  const keys = ['gclid', 'gbraid', 'wbraid', 'fbclid', 'msclkid', 'utm_source', 'utm_medium', 'utm_campaign', 'utm_term', 'utm_content'] as const;
  const pieces = ['gclid', 'utm_source', 'utm_term', 'fbclid', '=', '&', '&&', '=x', '%20', '%zz', '%4', '+', ' ', '\t', '\n', '\x01', '\x7f', 'ş', '😀', '#', '?', 'a', 'b=c', '%41', '\\', '/', '..', ';', 'gclid=1', 'gclid=2', 'utm_source=', 'GCLID=3',
    '%C5%9F', '%C5', '%9F', '%F0%9F%98%80', '%ED%A0%80', '%C0%AF', '%2B', '%26', '%3D', '%5F', 'utm%5Fsource', '%00', '%25'];
  const heads = ['https://Example.com/p/', ' http://a.example', 'HTTPS://b.example:443/x ', 'ftp://c.example/', 'https://', 'https://d.example/a b', 'android-app://com.google.android.gm/'];
  const piece = fc.constantFrom(...pieces);
  const params = ['gclid=1', 'gclid=2', 'utm_source=a', 'utm_source=', 'gclid', 'fbclid=%41', 'utm_term=a+b', 'utm_term=acil%20tesisat%C3%A7%C4%B1', 'utm%5Fcampaign=x%2By', 'gcl%69d=3', 'utm_content=%E2%82', '=x', ''];
  const urls = fc.oneof(
    // anything in any order
    fc.tuple(fc.constantFrom(...heads), fc.array(piece, { maxLength: 8 })).map(([head, rest]) => head + rest.join('')),
    // a path, then a query of parameters (repeated ones too), then a fragment
    fc
      .tuple(fc.constantFrom(...heads), fc.array(piece, { maxLength: 3 }), fc.array(fc.oneof(fc.constantFrom(...params), piece), { maxLength: 6 }), fc.option(fc.array(piece, { maxLength: 3 })))
      .map(([head, path, query, fragment]) => `${head}${path.join('')}?${query.join('&')}${fragment === null ? '' : `#${fragment.join('')}`}`),
  );
  let pages = 0;
  fc.assert(
    fc.property(urls, (url) => {
      const result = parse({ type: 'pageview', url, referrer: url });
      let expected: URL | undefined;
      try {
        expected = new URL(url);
      } catch {
        expected = undefined;
      }
      if (expected === undefined || (expected.protocol !== 'http:' && expected.protocol !== 'https:')) {
        assert.equal(result.ok, false);
        return;
      }
      assert.ok(result.ok);
      const beacon = result.beacons[0]!;
      assert.deepEqual(
        { path: beacon.path, hostname: beacon.hostname, referrerHost: beacon.referrerHost, campaign: { ...beacon.campaign } },
        { path: expected.pathname, hostname: expected.hostname, referrerHost: expected.hostname, campaign: Object.fromEntries(keys.map((k) => [k, expected.searchParams.get(k)?.toWellFormed() ?? ''])) },
      );
      pages++;
    }),
    { seed: 42, numRuns: 100_000 }, // the same URLs every run
  );
  assert.ok(pages > 30_000, `${pages} URLs were valid pages`);
});

test('rows of a body the parser calls plain text are the rows escaping gives: 20 000 bodies rich in escapes', () => {
  // Written unescaped (row-format.ts) only on the parser's word: a tab, newline, CR, NUL or
  // backslash reaching a row by any path (JSON escapes, a decoded query, \u escapes) must make it false.
  const safe = fc.constantFrom('a', 'é', '😀', ' ', '+', "'", '&', '=', 'utm_term=', 'gclid=', '?', '#');
  const percent = fc.constantFrom('%', '%09', '%0A', '%5C', '%00', '%0D', '%41', '%zz');
  const escaped = fc.constantFrom('\t', '\n', '\\', '\0', '\r', '\u0001'); // JSON.stringify writes NUL and U+0001 as \u escapes
  const piece = fc.oneof({ arbitrary: safe, weight: 60 }, { arbitrary: percent, weight: 3 }, { arbitrary: escaped, weight: 1 });
  const text = fc.array(piece, { maxLength: 5 }).map((parts) => parts.join(''));
  const event = fc.record(
    {
      type: fc.constant('pageview'),
      url: text.map((t) => `https://a.example/p/${t}?utm_term=${t}&gclid=${t}#${t}`),
      referrer: text.map((t) => `https://r.example/${t}`),
      name: text,
      visitorId: text,
      sessionId: text,
      lang: text,
      attribution: fc.record({ gclid: text, utm_source: text, landing: text, fbp: text }, { requiredKeys: [] }),
      props: fc.dictionary(text.filter((k) => k.length > 0), text, { maxKeys: 2 }),
    },
    { requiredKeys: ['type', 'url'] },
  );
  const geo = { country: 'T\tR', region: 'a\\b', city: 'x\ny' }; // enrichment's text is always escaped
  const agent = { bot: false, browser: 'Safari\t', os: 'iOS\r', device: 'mobile\0' };
  const seen = { plain: 0, notPlain: 0 };
  fc.assert(
    fc.property(fc.array(event, { minLength: 1, maxLength: 3 }), (events) => {
      const result = parse(events);
      if (!result.ok) return;
      result.plainText ? seen.plain++ : seen.notPlain++;
      const hit = newHit(result.beacons, 'UA', '203.0.113.9', Date.now());
      hit.geo = geo;
      hit.agent = agent;
      const rows = toRows(hit);
      if (result.plainText) assert.equal(encodeRows(rows, true), encodeRows(rows, false));
    }),
    { seed: 7, numRuns: 20_000 },
  );
  assert.ok(seen.plain > 1000 && seen.notPlain > 1000, `plain ${seen.plain}, not ${seen.notPlain}`);
});
