import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseCollect } from '../../src/collect/beacon.ts';
import { AgentParser } from '../../src/collect/user-agent.ts';

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

