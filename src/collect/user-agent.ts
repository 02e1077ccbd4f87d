// Browser, OS and device class from the User-Agent header (bowser, MIT). Parsing costs tens of
// microseconds, and a site's visitors share few distinct agents, so results are cached (LRU).
import Bowser from 'bowser';
import { lru } from 'tiny-lru';

export interface Agent {
  browser: string;
  os: string;
  /** mobile | tablet | desktop | tv, or empty when unknown. */
  device: string;
}

const CACHE_SIZE = 5000;

export class AgentParser {
  private readonly cache = lru<Agent>(CACHE_SIZE);

  parse(userAgent: string): Agent {
    let agent = this.cache.get(userAgent);
    if (agent === undefined) {
      const parsed = Bowser.parse(userAgent);
      agent = { browser: parsed.browser.name ?? '', os: parsed.os.name ?? '', device: parsed.platform.type ?? '' };
      this.cache.set(userAgent, agent);
    }
    return agent;
  }
}
