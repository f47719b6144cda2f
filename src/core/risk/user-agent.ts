/**
 * User-agent parsing for the back-off levels of the client feature: browser family, OS family, device type.
 * Parsing costs tens of microseconds while a deployment sees few distinct strings, so results are memoised in
 * a bounded map (deterministic: the same string always parses the same way).
 */
import { UAParser } from 'ua-parser-js';

export interface ParsedUserAgent {
  browser: string;
  os: string;
  deviceType: string;
}

const CACHE_LIMIT = 10_000;
const cache = new Map<string, ParsedUserAgent>();

export function parseUserAgent(ua: string): ParsedUserAgent {
  const hit = cache.get(ua);
  if (hit !== undefined) return hit;
  const r = new UAParser(ua).getResult();
  const parsed: ParsedUserAgent = {
    browser: r.browser.name ?? 'unknown browser',
    os: r.os.name ?? 'unknown OS',
    // ua-parser leaves device.type empty for desktops.
    deviceType: r.device.type ?? (looksLikeBot(ua) ? 'bot' : 'desktop'),
  };
  if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value as string);
  cache.set(ua, parsed);
  return parsed;
}

function looksLikeBot(ua: string): boolean {
  return /bot|crawler|spider|curl|wget|python-requests|httpclient|okhttp|go-http-client/i.test(ua);
}
