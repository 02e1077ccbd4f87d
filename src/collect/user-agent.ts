// What the User-Agent header tells: bot or not (isbot's maintained list), browser, OS and device
// class (bowser). Both cost microseconds per call (isbot is one large regex) and a site's
// visitors share few distinct agents, so results are cached (LRU).
import Bowser from 'bowser';
import { isbot } from 'isbot';
import { lru } from 'tiny-lru';

export interface Agent {
  bot: boolean;
  browser: string;
  os: string;
  /** mobile | tablet | desktop | tv, or empty when unknown. */
  device: string;
}

const CACHE_SIZE = 5000;

export class AgentParser {
  private readonly cache = lru<Agent>(CACHE_SIZE);

  parse(userAgent: string): Agent {
    if (userAgent === '') return UNKNOWN; // bowser throws on an empty string
    let agent = this.cache.get(userAgent);
    if (agent === undefined) {
      const parsed = Bowser.parse(userAgent);
      agent = {
        bot: isbot(userAgent),
        browser: parsed.browser.name ?? '',
        os: parsed.os.name ?? '',
        device: parsed.platform.type ?? '',
      };
      this.cache.set(userAgent, agent);
    }
    return agent;
  }
}

const UNKNOWN: Agent = Object.freeze({ bot: true, browser: '', os: '', device: '' });
