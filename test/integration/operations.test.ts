/**
 * Operations: health and readiness, the OpenAPI document, real IP enrichment, and the configuration
 * reference kept in step with the code.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultGeoIpOptions, FileGeoIp } from '../../src/adapters/geoip.js';
import { renderConfigReference } from '../../src/config/docs.js';
import { T0, login, startTestLoopgate, type TestLoopgate } from '../helpers/app.js';

describe('operations', () => {
  let t: TestLoopgate;
  beforeAll(async () => {
    t = await startTestLoopgate({ store: 'sqlite' });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('reports liveness and readiness, and not ready while closing', async () => {
    expect((await t.get('/healthz')).json()).toEqual({ status: 'ok' });
    const ready = await t.get('/readyz');
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toEqual({ status: 'ready', store: 'sqlite', policy_version: t.lg.policies.current().version });
  });

  it('serves an OpenAPI 3.1 document describing every route, with the event schemas', async () => {
    const res = await t.get('/openapi.json');
    expect(res.statusCode).toBe(200);
    const doc = res.json();
    expect(doc.openapi).toBe('3.1.0');
    for (const path of ['/v1/decisions', '/v1/decisions/{id}', '/access/v1/evaluation', '/access/v1/evaluations', '/.well-known/authzen-configuration', '/healthz', '/readyz', '/v1/policies', '/v1/policies/reload']) {
      expect(Object.keys(doc.paths)).toContain(path);
    }
    for (const name of ['LoginEvent', 'MfaEvent', 'TransactionEvent', 'RoleChangeEvent', 'AccessRequestEvent', 'AgentActionEvent', 'SessionSignalEvent', 'Problem', 'Decision']) {
      expect(Object.keys(doc.components.schemas)).toContain(name);
    }
    const event = doc.paths['/v1/decisions'].post.requestBody.content['application/json'].schema.properties.event;
    expect(event.oneOf).toHaveLength(7);
    expect(doc.paths['/v1/decisions'].post.responses['400'].content['application/problem+json']).toBeDefined();
  });

  it('refuses requests while shutting down', async () => {
    const other = await startTestLoopgate({ store: 'sqlite' });
    const closing = other.lg.close();
    const res = await other.post('/v1/decisions', { event: login('late', T0 - 1000) });
    expect(res.statusCode).toBe(503);
    expect(res.json().code).toBe('LOOPGATE_ERR_SHUTTING_DOWN');
    expect((await other.get('/readyz')).statusCode).toBe(503);
    await closing;
    await other.close();
  });
});

describe('IP enrichment from the shipped offline databases', () => {
  it('resolves country, city, coordinates and ASN for IPv4 and IPv6', async () => {
    const geo = await FileGeoIp.open(defaultGeoIpOptions());
    const google = geo.lookup('8.8.8.8');
    expect(google).toMatchObject({ country: 'US', asn: 15169 });
    expect(google?.as_org).toMatch(/Google/);
    expect(google?.latitude).toBeTypeOf('number');
    expect(geo.lookup('2001:4860:4860::8888')).toMatchObject({ asn: 15169 });
    expect(geo.lookup('81.2.69.160')).toMatchObject({ country: 'GB' });
    expect(geo.lookup('10.1.2.3')).toBeUndefined(); // private range
  });
});

describe('configuration reference', () => {
  it('docs/configuration.md is generated from the schema and up to date (npm run docs:config)', () => {
    expect(readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8')).toBe(renderConfigReference());
  });
});
