import { describe, it, expect } from 'vitest';
import { createAjv, fieldErrors, parseEvent, MAX_FUTURE_SKEW_MS } from '../../src/core/events/parse.js';
import { EVENT_TYPES } from '../../src/core/events/schema.js';

const NOW = Date.parse('2026-06-01T09:00:00Z');

function ok(raw: unknown, nowMs = NOW) {
  const r = parseEvent(raw, nowMs);
  if (!r.ok) throw new Error(`expected a valid event, got ${JSON.stringify(r.errors)}`);
  return r.event;
}

function errorsOf(raw: unknown, prefix = '', nowMs = NOW) {
  const r = parseEvent(raw, nowMs, prefix);
  if (r.ok) throw new Error('expected the event to be rejected');
  return r;
}

describe('parseEvent defaults', () => {
  it('defaults the actor to the subject as a human', () => {
    const e = ok({ type: 'login', subject: { id: 'alice' } });
    expect(e.actor).toEqual({ kind: 'human', id: 'alice' });
  });

  it('keeps an explicit actor', () => {
    const e = ok({ type: 'login', subject: { id: 'alice' }, actor: { kind: 'human', id: 'helpdesk-7' } });
    expect(e.actor).toEqual({ kind: 'human', id: 'helpdesk-7' });
  });

  it('defaults time and received_at to now as ISO, version to 1 and context to {}', () => {
    const e = ok({ type: 'login', subject: { id: 'alice' } });
    expect(e.time).toBe('2026-06-01T09:00:00.000Z');
    expect(e.received_at).toBe('2026-06-01T09:00:00.000Z');
    expect(e.version).toBe(1);
    expect(e.context).toEqual({});
  });

  it('normalises a given time to UTC ISO and keeps received_at at now', () => {
    // 11:00 at +02:00 is 09:00Z, minus 30 minutes → 08:30Z
    const e = ok({ type: 'login', subject: { id: 'alice' }, time: '2026-06-01T10:30:00+02:00' });
    expect(e.time).toBe('2026-06-01T08:30:00.000Z');
    expect(e.received_at).toBe('2026-06-01T09:00:00.000Z');
  });

  it('accepts an explicit version 1 and rejects any other version', () => {
    expect(ok({ type: 'login', version: 1, subject: { id: 'a' } }).version).toBe(1);
    const r = errorsOf({ type: 'login', version: 2, subject: { id: 'a' } });
    expect(r.errors).toEqual([{ pointer: '#/version', detail: 'must be 1' }]);
  });
});

describe('parseEvent role.change', () => {
  it('derives added and removed from before and after, keeping order', () => {
    const e = ok({
      type: 'role.change',
      subject: { id: 'alice' },
      roles: { before: ['viewer', 'editor', 'billing'], after: ['editor', 'admin', 'auditor'] },
    });
    if (e.type !== 'role.change') throw new Error('wrong type');
    expect(e.roles.added).toEqual(['admin', 'auditor']);
    expect(e.roles.removed).toEqual(['viewer', 'billing']);
    expect(e.roles.before).toEqual(['viewer', 'editor', 'billing']);
    expect(e.roles.after).toEqual(['editor', 'admin', 'auditor']);
  });

  it('gives empty added/removed when nothing changes', () => {
    const e = ok({ type: 'role.change', subject: { id: 'a' }, roles: { before: ['x'], after: ['x'] } });
    if (e.type !== 'role.change') throw new Error('wrong type');
    expect(e.roles.added).toEqual([]);
    expect(e.roles.removed).toEqual([]);
  });
});

describe('parseEvent errors', () => {
  it('prefixes every pointer with the given prefix', () => {
    const r = errorsOf(
      { type: 'login', subject: { id: 'a' }, result: 'maybe', ammount: 3, context: { ip: 'nope', foo: 1 } },
      '/event',
    );
    expect(r.errors.length).toBe(4);
    for (const e of r.errors) expect(e.pointer.startsWith('#/event/')).toBe(true);
    expect(r.errors.map((e) => e.pointer).sort()).toEqual(
      ['#/event/ammount', '#/event/context/foo', '#/event/context/ip', '#/event/result'].sort(),
    );
  });

  it('uses "#" + path without a prefix', () => {
    const r = errorsOf({ type: 'login' });
    expect(r.errors).toEqual([{ pointer: '#/subject', detail: 'is required' }]);
  });

  it('reports a non-object at the prefix itself', () => {
    for (const raw of [null, 'login', 42, []]) {
      const r = errorsOf(raw, '/events/3');
      expect(r.unknownType).toBe(false);
      expect(r.errors).toEqual([{ pointer: '#/events/3', detail: 'must be a JSON object' }]);
    }
  });

  it('distinguishes a missing type (not unknown) from an unknown one', () => {
    const missing = errorsOf({ subject: { id: 'a' } }, '/e');
    expect(missing.unknownType).toBe(false);
    expect(missing.errors).toEqual([{ pointer: '#/e/type', detail: 'is required' }]);

    const unknown = errorsOf({ type: 'logon', subject: { id: 'a' } }, '/e');
    expect(unknown.unknownType).toBe(true);
    expect(unknown.errors).toHaveLength(1);
    expect(unknown.errors[0]!.pointer).toBe('#/e/type');
    expect(unknown.errors[0]!.detail).toBe(`must be one of: ${EVENT_TYPES.join(', ')} (got "logon")`);
  });

  it('does not quote a non-string unknown type', () => {
    const r = errorsOf({ type: 7, subject: { id: 'a' } });
    expect(r.unknownType).toBe(true);
    expect(r.errors[0]!.detail).toBe(`must be one of: ${EVENT_TYPES.join(', ')}`);
  });

  it('rejects a date-time without a zone', () => {
    const r = errorsOf({ type: 'login', subject: { id: 'a' }, time: '2026-06-01T09:00:00' }, '/event');
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0]!.pointer).toBe('#/event/time');
  });

  it('asks for Z or ±hh:mm when the offset has no colon', () => {
    // "+0200" passes the date-time format but not the zone check
    const r = errorsOf({ type: 'login', subject: { id: 'a' }, time: '2026-06-01T11:00:00+0200' });
    expect(r.errors).toEqual([{ pointer: '#/time', detail: 'must carry a time zone (Z or ±hh:mm)' }]);
  });

  it('rejects a time that is not a date-time with one message', () => {
    const r = errorsOf({ type: 'login', subject: { id: 'a' }, time: 'yesterday' });
    expect(r.errors).toEqual([{ pointer: '#/time', detail: 'must be an RFC 3339 date-time, e.g. 2026-05-01T09:30:00Z' }]);
  });

  it('accepts exactly 5 minutes in the future and rejects one second more', () => {
    expect(MAX_FUTURE_SKEW_MS).toBe(300_000); // 5 × 60 × 1000
    expect(parseEvent({ type: 'login', subject: { id: 'a' }, time: '2026-06-01T09:05:00Z' }, NOW).ok).toBe(true);
    const r = errorsOf({ type: 'login', subject: { id: 'a' }, time: '2026-06-01T09:05:01Z' });
    expect(r.errors).toEqual([{ pointer: '#/time', detail: 'must not be more than 5 minutes in the future' }]);
  });

  it('accepts events from the past', () => {
    expect(ok({ type: 'login', subject: { id: 'a' }, time: '2020-01-01T00:00:00Z' }).time).toBe('2020-01-01T00:00:00.000Z');
  });

  it('requires an actor for agent.action', () => {
    const r = errorsOf({ type: 'agent.action', subject: { id: 'a' }, action: { name: 'role.assign' } }, '/event');
    expect(r.errors).toEqual([{ pointer: '#/event/actor', detail: 'is required for agent.action events (the acting agent)' }]);
  });

  it('requires the agent.action actor to be an agent', () => {
    const r = errorsOf({
      type: 'agent.action',
      subject: { id: 'a' },
      actor: { kind: 'human', id: 'bob' },
      action: { name: 'role.assign' },
    });
    expect(r.errors).toEqual([{ pointer: '#/actor/kind', detail: 'must be "agent" for agent.action events' }]);
  });

  it('accepts agent.action with an agent actor and keeps the actor', () => {
    const e = ok({
      type: 'agent.action',
      subject: { id: 'alice' },
      actor: { kind: 'agent', id: 'bot-1', sponsor: 'bob' },
      action: { name: 'role.assign', impact: 'high' },
    });
    expect(e.actor).toEqual({ kind: 'agent', id: 'bot-1', sponsor: 'bob' });
    expect(e.subject).toEqual({ id: 'alice' });
  });

  it('rejects additional properties at every level, escaping the pointer', () => {
    const r = errorsOf({
      type: 'transaction',
      subject: { id: 'a', nickname: 'x' },
      amount: 10,
      currency: 'EUR',
      payee: { id: 'p', iban: 'x' },
      'a/b~c': 1,
    });
    expect(r.errors.map((e) => e.pointer).sort()).toEqual(['#/a~1b~0c', '#/payee/iban', '#/subject/nickname']);
    // The hint about "properties" appears only where the object has such a bag (the subject does; a payee does not).
    const detail = Object.fromEntries(r.errors.map((e) => [e.pointer, e.detail]));
    expect(detail['#/subject/nickname']).toBe('is not a known field here (free-form data belongs in "properties")');
    expect(detail['#/payee/iban']).toBe('is not a known field here');
    expect(detail['#/a~1b~0c']).toBe('is not a known field here');
  });

  it('accepts free-form data in properties', () => {
    const e = ok({ type: 'login', subject: { id: 'a', properties: { anything: { nested: true } } } });
    expect(e.subject.properties).toEqual({ anything: { nested: true } });
  });

  it('accepts IPv4 and IPv6 and rejects anything else', () => {
    for (const ip of ['192.0.2.1', '::1', '2001:db8::8a2e:370:7334']) {
      expect(ok({ type: 'login', subject: { id: 'a' }, context: { ip } }).context.ip).toBe(ip);
    }
    for (const ip of ['999.1.1.1', '1.2.3', 'localhost', '2001:db8::g']) {
      const r = errorsOf({ type: 'login', subject: { id: 'a' }, context: { ip } });
      expect(r.errors).toEqual([{ pointer: '#/context/ip', detail: 'must be an IPv4 or IPv6 address' }]);
    }
  });

  it('reports a wrong type with an article', () => {
    const r = errorsOf({ type: 'transaction', subject: { id: 'a' }, amount: 'ten', currency: 'EUR', payee: { id: 'p' } });
    expect(r.errors).toEqual([{ pointer: '#/amount', detail: 'must be a number' }]);
    const r2 = errorsOf({ type: 'access.request', subject: { id: 'a' }, entitlement: { id: 'e' }, duration_seconds: 1.5 });
    expect(r2.errors).toEqual([{ pointer: '#/duration_seconds', detail: 'must be an integer' }]);
  });

  it('reports every problem at once', () => {
    const r = errorsOf({ type: 'mfa', subject: {}, result: 'x' }, '/e');
    expect(r.errors).toEqual(
      expect.arrayContaining([
        { pointer: '#/e/subject/id', detail: 'is required' },
        { pointer: '#/e/method', detail: 'is required' },
        { pointer: '#/e/result', detail: 'must be one of: success, failure' },
      ]),
    );
    expect(r.errors).toHaveLength(3);
  });
});

describe('fieldErrors', () => {
  it('collapses a union of literals into one "must be one of" message per pointer', () => {
    const r = errorsOf({ type: 'login', subject: { id: 'a' }, result: 'maybe', actor: { kind: 'robot', id: 'r' } });
    expect(r.errors).toEqual(
      expect.arrayContaining([
        { pointer: '#/result', detail: 'must be one of: success, failure' },
        { pointer: '#/actor/kind', detail: 'must be one of: human, agent' },
      ]),
    );
    expect(r.errors).toHaveLength(2);
  });

  it('turns const + const + anyOf errors from Ajv into a single message', () => {
    const ajv = createAjv();
    const validate = ajv.compile({ anyOf: [{ const: 'a' }, { const: 'b' }, { const: 'c' }] });
    expect(validate('z')).toBe(false);
    // Ajv reports one error per branch and then the anyOf summary
    expect(validate.errors!.map((e) => e.keyword)).toEqual(['const', 'const', 'const', 'anyOf']);
    expect(fieldErrors(validate.errors!, (p) => `#${p}`)).toEqual([{ pointer: '#', detail: 'must be one of: a, b, c' }]);
  });

  it('keeps one message per pointer and one entry per distinct pointer', () => {
    const ajv = createAjv();
    const validate = ajv.compile({
      type: 'object',
      properties: { x: { enum: ['p', 'q'] }, y: { type: 'integer', minimum: 3 } },
      required: ['z'],
    });
    expect(validate({ x: 'r', y: 1 })).toBe(false);
    const errs = fieldErrors(validate.errors!, (p) => `#/pre${p}`);
    expect(errs).toEqual(
      expect.arrayContaining([
        { pointer: '#/pre/x', detail: 'must be one of: p, q' },
        { pointer: '#/pre/z', detail: 'is required' },
      ]),
    );
    expect(errs.find((e) => e.pointer === '#/pre/y')?.detail).toBe('must be >= 3');
    expect(new Set(errs.map((e) => e.pointer)).size).toBe(errs.length);
  });
});

describe('errors for a value of none of several types', () => {
  it('names every allowed type', () => {
    const errors = fieldErrors(
      [{ instancePath: '/x', schemaPath: '#/properties/x/type', keyword: 'type', params: { type: 'string,number' }, message: 'must be string,number' }],
      (path) => `#${path}`,
    );
    expect(errors).toEqual([{ pointer: '#/x', detail: 'must be one of the types: string, number' }]);
  });
});
