/**
 * Impossible travel: the distance from the location of the last trusted event to this one, divided by the time
 * between them. Short hops are ignored because IP geolocation is only accurate to a city or a region.
 */
import type { LastTrusted } from './baseline.js';
import type { ContextFeatures } from './features.js';
import type { SignalResult } from './freeman.js';

export interface TravelConfig {
  /** Faster than this (km/h) is impossible travel; airliners cruise at about 900 km/h. */
  maxSpeedKmh: number;
  /** Distances below this (km) are within geolocation error. */
  minDistanceKm: number;
  /** Logit points at exactly the maximum speed; grows with the speed up to twice this. */
  weight: number;
}

const EARTH_RADIUS_KM = 6371.0088;

/** Great-circle distance (haversine). */
export function distanceKm(lat1: number, lon1: number, lat2: number, lon2: number): number {
  const rad = Math.PI / 180;
  const dLat = (lat2 - lat1) * rad;
  const dLon = (lon2 - lon1) * rad;
  const a = Math.sin(dLat / 2) ** 2 + Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_KM * Math.asin(Math.min(1, Math.sqrt(a)));
}

export function formatDuration(ms: number): string {
  const minutes = Math.max(0, Math.round(ms / 60000));
  if (ms < 60_000) return 'a minute';
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  if (hours < 48) return rest === 0 ? `${hours} h` : `${hours} h ${rest} min`;
  return `${Math.round(hours / 24)} days`;
}

export function assessTravel(
  features: ContextFeatures,
  last: LastTrusted | undefined,
  who: string,
  config: TravelConfig,
): { signal: SignalResult; impossible: boolean; speedKmh: number } | undefined {
  if (last?.latitude === undefined || last.longitude === undefined) return undefined;
  if (features.latitude === undefined || features.longitude === undefined) return undefined;
  const km = distanceKm(last.latitude, last.longitude, features.latitude, features.longitude);
  // Events may arrive out of order (a late event older than the last trusted one): the time between the two
  // events is what bounds the travel either way. Under a minute counts as a minute.
  const elapsedMs = Math.abs(features.time_ms - last.time);
  if (km < config.minDistanceKm) return undefined;
  const hours = Math.max(elapsedMs, 60_000) / 3_600_000;
  const speedKmh = km / hours;
  const impossible = speedKmh > config.maxSpeedKmh;
  const from = last.city ?? last.country ?? 'the previous location';
  const to = features.city ?? features.country ?? 'here';
  const route = `${Math.round(km).toLocaleString('en-US')} km between ${from} and ${to} within ${formatDuration(elapsedMs)}`;
  const contribution = impossible ? config.weight * Math.min(2, speedKmh / config.maxSpeedKmh) : 0;
  const sentence = impossible
    ? `impossible travel: ${route} of ${who}'s last trusted event (${Math.round(speedKmh).toLocaleString('en-US')} km/h)`
    : `travelled ${route} of ${who}'s last trusted event (${Math.round(speedKmh).toLocaleString('en-US')} km/h, plausible)`;
  return {
    signal: {
      signal: 'travel',
      contribution,
      sentence,
      detail: { distance_km: km, elapsed_ms: elapsedMs, speed_kmh: speedKmh, from, to },
    },
    impossible,
    speedKmh,
  };
}
