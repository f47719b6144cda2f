/**
 * Validates a raw event against its type's schema and applies the defaults: `actor` defaults to the subject,
 * `time` to now, `version` to 1; role changes get `added`/`removed`. Returns every problem found, each located
 * with a JSON Pointer, so that a caller can fix all of them at once.
 */
import { isIP } from 'node:net';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { type FieldError } from '../errors.js';
import { EVENT_SCHEMAS, EVENT_TYPES, isEventType, type EventType, type LoopgateEvent } from './schema.js';

// ajv-formats is CommonJS; its default export arrives wrapped under `default` when imported from ESM.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ??
  addFormatsModule) as unknown as (ajv: Ajv2020, formats: string[]) => void;

/** How far in the future an event time may be (clock skew), so baselines cannot be fed from the future. */
export const MAX_FUTURE_SKEW_MS = 5 * 60 * 1000;

export function createAjv(options: { useDefaults?: boolean } = {}): Ajv2020 {
  const ajv = new Ajv2020({ allErrors: true, verbose: true, strict: false, coerceTypes: false, useDefaults: options.useDefaults ?? false });
  return addEventFormats(ajv);
}

/** The string formats (and annotations) Loopgate's schemas use, for any Ajv instance (Fastify's included). */
export function addEventFormats<T extends Ajv2020>(ajv: T): T {
  addFormats(ajv, ['date-time', 'uri', 'email']);
  ajv.addFormat('ip', { type: 'string', validate: (s: string) => isIP(s) !== 0 });
  // An annotation: what a pattern accepts, in words, for error messages.
  if (ajv.getKeyword('x-expected') === false) ajv.addKeyword({ keyword: 'x-expected', schemaType: 'string' });
  return ajv;
}

const ajv = createAjv();
const validators = Object.fromEntries(
  EVENT_TYPES.map((t) => [t, ajv.compile(EVENT_SCHEMAS[t])]),
) as Record<EventType, ValidateFunction>;

/** A field of a JSON document, by JSON Pointer. */
export type BodyFieldError = Extract<FieldError, { pointer: string }>;

export type ParseResult = { ok: true; event: LoopgateEvent } | { ok: false; unknownType: boolean; errors: BodyFieldError[] };

/**
 * @param raw the event as received
 * @param nowMs the current time (injected; the core never reads the clock)
 * @param pointerPrefix where the event sits in the request document, e.g. `/event`
 */
export function parseEvent(raw: unknown, nowMs: number, pointerPrefix = ''): ParseResult {
  const at = (path: string) => `#${pointerPrefix}${path}`;
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    return { ok: false, unknownType: false, errors: [{ pointer: at(''), detail: 'must be a JSON object' }] };
  }
  const input = raw as Record<string, unknown>;
  if (input.type === undefined) {
    return { ok: false, unknownType: false, errors: [{ pointer: at('/type'), detail: 'is required' }] };
  }
  if (!isEventType(input.type)) {
    return {
      ok: false,
      unknownType: true,
      errors: [
        {
          pointer: at('/type'),
          detail: `must be one of: ${EVENT_TYPES.join(', ')}${typeof input.type === 'string' ? ` (got "${input.type}")` : ''}`,
        },
      ],
    };
  }
  const validate = validators[input.type];
  const errors: BodyFieldError[] = [];
  if (!validate(input)) errors.push(...fieldErrors(validate.errors ?? [], at));
  if (typeof input.time === 'string' && errors.every((e) => e.pointer !== at('/time'))) {
    const t = Date.parse(input.time);
    if (!/(Z|[+-]\d{2}:\d{2})$/i.test(input.time)) {
      errors.push({ pointer: at('/time'), detail: 'must carry a time zone (Z or ±hh:mm)' });
    } else if (t > nowMs + MAX_FUTURE_SKEW_MS) {
      errors.push({ pointer: at('/time'), detail: 'must not be more than 5 minutes in the future' });
    }
  }
  const actor = input.actor as { kind?: string } | undefined;
  if (input.type === 'agent.action' && actor !== undefined && actor.kind !== 'agent') {
    errors.push({ pointer: at('/actor/kind'), detail: 'must be "agent" for agent.action events' });
  }
  if (input.type === 'agent.action' && actor === undefined) {
    errors.push({ pointer: at('/actor'), detail: 'is required for agent.action events (the acting agent)' });
  }
  if (input.type === 'login' && errors.length === 0) errors.push(...signalErrors(input.signals, at));
  if (errors.length > 0) return { ok: false, unknownType: false, errors };
  return { ok: true, event: normalise(input, nowMs) };
}

/** What the schema cannot say about the collector's payload: a secret field never carries its keys. */
function signalErrors(signals: unknown, at: (path: string) => string): BodyFieldError[] {
  const fields = (signals as { fields?: Record<string, { secret: boolean; keys?: unknown }> } | undefined)?.fields;
  if (fields === undefined) return [];
  const errors: BodyFieldError[] = [];
  for (const [name, f] of Object.entries(fields)) {
    if (f.secret && f.keys !== undefined) {
      errors.push({ pointer: at(`/signals/fields/${escapePointer(name)}/keys`), detail: 'must be absent for a secret field: Loopgate never accepts which keys of a secret were pressed' });
    }
  }
  return errors;
}

function normalise(input: Record<string, unknown>, nowMs: number): LoopgateEvent {
  const subject = input.subject as { id: string };
  const receivedAt = new Date(nowMs).toISOString();
  // `type` comes before the spread on purpose: see "Hidden classes" in docs/benchmarks.md. An object literal that
  // starts with a spread and then adds properties gets a hidden class of its own in Node 20's V8, for every event.
  const event: Record<string, unknown> = {
    type: input.type,
    ...input,
    version: 1,
    actor: input.actor ?? { kind: 'human', id: subject.id },
    time: input.time === undefined ? receivedAt : new Date(Date.parse(input.time as string)).toISOString(),
    context: input.context ?? {},
    received_at: receivedAt,
  };
  if (input.type === 'role.change') {
    const roles = input.roles as { before: string[]; after: string[] };
    const before = new Set(roles.before);
    const after = new Set(roles.after);
    event.roles = {
      before: roles.before,
      after: roles.after,
      added: roles.after.filter((r) => !before.has(r)),
      removed: roles.before.filter((r) => !after.has(r)),
    };
  }
  return event as unknown as LoopgateEvent;
}

/** Ajv errors as one readable message per JSON Pointer. */
export function fieldErrors(errors: ErrorObject[], at: (path: string) => string): BodyFieldError[] {
  return dedupe(errors.map((e) => describeAjvError(e, at)));
}

function describeAjvError(e: ErrorObject, at: (path: string) => string): BodyFieldError {
  const path = e.instancePath;
  switch (e.keyword) {
    case 'required':
      return { pointer: at(`${path}/${escapePointer(String(e.params.missingProperty))}`), detail: 'is required' };
    case 'additionalProperties': {
      // Point at the free-form bag only where the object has one ("properties", or an agent action's "parameters").
      const fields = (e.parentSchema as { properties?: Record<string, unknown> } | undefined)?.properties ?? {};
      const bag = 'properties' in fields ? 'properties' : 'parameters' in fields ? 'parameters' : undefined;
      return {
        pointer: at(`${path}/${escapePointer(String(e.params.additionalProperty))}`),
        detail: bag === undefined ? 'is not a known field here' : `is not a known field here (free-form data belongs in "${bag}")`,
      };
    }
    case 'type': {
      const types = String(e.params.type).split(',');
      return { pointer: at(path), detail: types.length === 1 ? `must be ${article(types[0]!)}` : `must be one of the types: ${types.join(', ')}` };
    }
    case 'const':
      return { pointer: at(path), detail: `must be ${JSON.stringify(e.params.allowedValue)}` };
    case 'enum':
      return { pointer: at(path), detail: `must be one of: ${(e.params.allowedValues as unknown[]).join(', ')}` };
    case 'anyOf':
      return { pointer: at(path), detail: describeAlternatives(e) };
    case 'format':
      return { pointer: at(path), detail: formatDetail(String(e.params.format)) };
    case 'pattern': {
      // A schema may say in words what its pattern accepts.
      const expected = (e.parentSchema as { 'x-expected'?: string } | undefined)?.['x-expected'];
      return { pointer: at(path), detail: expected === undefined ? (e.message ?? 'is not valid') : `must be ${expected}` };
    }
    default:
      return { pointer: at(path), detail: e.message ?? 'is not valid' };
  }
}

function describeAlternatives(e: ErrorObject): string {
  const options = (e.parentSchema as { anyOf?: Array<{ const?: unknown }> } | undefined)?.anyOf;
  if (options?.every((o) => o.const !== undefined)) {
    return `must be one of: ${options.map((o) => String(o.const)).join(', ')}`;
  }
  return 'does not match any allowed form';
}

function formatDetail(format: string): string {
  if (format === 'date-time') return 'must be an RFC 3339 date-time, e.g. 2026-05-01T09:30:00Z';
  if (format === 'ip') return 'must be an IPv4 or IPv6 address';
  return `must be a valid ${format}`;
}

function article(type: string): string {
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

function escapePointer(token: string): string {
  return token.replaceAll('~', '~0').replaceAll('/', '~1');
}

/** A union of literals yields one `const` error per branch and then an `anyOf` summary: keep one per pointer. */
function dedupe(errors: BodyFieldError[]): BodyFieldError[] {
  const byPointer = new Map<string, BodyFieldError>();
  for (const e of errors) {
    const prior = byPointer.get(e.pointer);
    if (prior === undefined || e.detail.startsWith('must be one of')) byPointer.set(e.pointer, e);
  }
  return [...byPointer.values()];
}
