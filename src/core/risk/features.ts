/**
 * Context features of an event: where (IP, network, country, city), with what (user agent, browser, OS,
 * device type, device id) and when (hour of day, UTC). Geo values come from the event itself when the caller
 * pre-resolved them, otherwise from the IP enrichment adapter (passed in as `lookup`).
 */
import type { LoopgateEvent } from '../events/schema.js';
import { parseUserAgent } from './user-agent.js';

export interface GeoLookupResult {
  country?: string;
  region?: string;
  city?: string;
  latitude?: number;
  longitude?: number;
  asn?: number;
  as_org?: string;
}

export interface ContextFeatures {
  ip?: string;
  asn?: string;
  as_org?: string;
  country?: string;
  city?: string;
  latitude?: number;
  longitude?: number;
  /** The user-agent string (cut to 256 characters); not stored with the decision, which has it in its event. */
  ua?: string;
  browser?: string;
  os?: string;
  /** Browser and OS together ("Chrome on Windows"): the middle level of the user-agent back-off. */
  client?: string;
  device_type?: string;
  device_id?: string;
  /** Hour of day in UTC, 0–23, as a two-digit string so that it is a map key like the others. */
  hour: string;
  time_ms: number;
}

/** The categorical features a baseline keeps counts for. */
export const TRACKED_FEATURES = [
  'ip',
  'asn',
  'country',
  'city',
  'ua',
  'browser',
  'os',
  'client',
  'device_type',
  'device_id',
  'hour',
] as const;
export type TrackedFeature = (typeof TRACKED_FEATURES)[number];

/** Longest user-agent string kept as a feature value; longer strings are cut (they are still unique enough). */
export const MAX_UA_LENGTH = 256;

export function extractFeatures(event: LoopgateEvent, lookup: GeoLookupResult | undefined): ContextFeatures {
  const ctx = event.context;
  const timeMs = Date.parse(event.time);
  const features: ContextFeatures = {
    hour: String(new Date(timeMs).getUTCHours()).padStart(2, '0'),
    time_ms: timeMs,
  };
  if (ctx.ip !== undefined) features.ip = ctx.ip;
  // Pre-resolved geo wins field by field over the lookup: the caller may know better (e.g. a corporate VPN).
  const geo = { ...lookup, ...ctx.geo };
  if (geo.asn !== undefined) features.asn = `AS${geo.asn}`;
  if (geo.as_org !== undefined) features.as_org = geo.as_org;
  if (geo.country !== undefined) features.country = geo.country;
  if (geo.city !== undefined) features.city = geo.country === undefined ? geo.city : `${geo.city}, ${geo.country}`;
  if (geo.latitude !== undefined && geo.longitude !== undefined) {
    features.latitude = geo.latitude;
    features.longitude = geo.longitude;
  }
  if (ctx.user_agent !== undefined && ctx.user_agent.length > 0) {
    features.ua = ctx.user_agent.slice(0, MAX_UA_LENGTH);
    const ua = parseUserAgent(ctx.user_agent);
    features.browser = ua.browser;
    features.os = ua.os;
    features.client = `${ua.browser} on ${ua.os}`;
    features.device_type = ua.deviceType;
  }
  if (ctx.device_id !== undefined) features.device_id = ctx.device_id;
  return features;
}
