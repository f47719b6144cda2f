import { prefixGeoIp, type GeoIp } from '../../src/adapters/geoip.js';
import type { GeoLookupResult } from '../../src/core/risk/features.js';

/** A fixed IP table standing in for the offline databases (which take a second and 200 MB to load). */
const NETWORKS: Array<[prefix: string, geo: GeoLookupResult]> = [
  ['81.2.69.', { country: 'GB', city: 'London', latitude: 51.5143, longitude: -0.0912, asn: 20712, as_org: 'Andrews & Arnold Ltd' }],
  ['81.2.70.', { country: 'GB', city: 'London', latitude: 51.5143, longitude: -0.0912, asn: 20712, as_org: 'Andrews & Arnold Ltd' }],
  ['90.84.', { country: 'FR', city: 'Paris', latitude: 48.8566, longitude: 2.3522, asn: 3215, as_org: 'Orange S.A.' }],
  ['200.160.', { country: 'BR', city: 'São Paulo', latitude: -23.5505, longitude: -46.6333, asn: 22548, as_org: 'NIC.BR' }],
  ['8.8.', { country: 'US', city: 'Mountain View', latitude: 37.422, longitude: -122.085, asn: 15169, as_org: 'Google LLC' }],
  ['203.0.113.', { country: 'AU', city: 'Sydney', latitude: -33.8688, longitude: 151.209, asn: 64500, as_org: 'Example AU' }],
];

export const tableGeo: GeoIp = prefixGeoIp(NETWORKS, 'test table');
