/**
 * Shared JSON Schemas of the HTTP API (request and response shapes), registered once and referenced by $id so
 * that the OpenAPI document has one component per concept.
 */
import type { FastifyInstance } from 'fastify';
import { ERROR_CODES } from '../core/errors.js';
import { EVENT_SCHEMAS, EVENT_TYPES } from '../core/events/schema.js';
import { OUTCOMES } from '../core/policy/types.js';

export const ref = (id: string) => ({ $ref: `${id}#` });

const Problem = {
  $id: 'Problem',
  type: 'object',
  description: 'RFC 9457 problem details. `code` is stable; `errors` locates each bad field with a JSON Pointer.',
  required: ['type', 'title', 'status', 'code'],
  properties: {
    type: { type: 'string', format: 'uri' },
    title: { type: 'string' },
    status: { type: 'integer' },
    detail: { type: 'string' },
    instance: { type: 'string' },
    code: { type: 'string', enum: ERROR_CODES },
    errors: {
      type: 'array',
      items: {
        type: 'object',
        required: ['detail'],
        description: 'A field of the body (pointer, a JSON Pointer) or a query parameter (parameter, its name).',
        properties: { pointer: { type: 'string' }, parameter: { type: 'string' }, detail: { type: 'string' } },
      },
    },
  },
  additionalProperties: true,
};

const RiskReason = {
  type: 'object',
  required: ['signal', 'contribution', 'sentence'],
  properties: {
    signal: { type: 'string', description: 'Which detector or feature family.' },
    contribution: { type: 'number', description: 'Logit points this signal added to (or took from) the score.' },
    sentence: { type: 'string', description: 'The reason in plain language.' },
    detail: { type: 'object', additionalProperties: true },
  },
};

const Decision = {
  $id: 'Decision',
  type: 'object',
  description: 'A decision with everything that produced it.',
  required: ['id', 'outcome', 'status', 'created_at', 'risk', 'policy'],
  properties: {
    id: { type: 'string', description: 'Decision id (UUIDv7).' },
    outcome: { type: 'string', enum: OUTCOMES, description: "The machine's decision." },
    status: { type: 'string', enum: ['pending', 'final'], description: 'pending while a challenge or a review is open.' },
    created_at: { type: 'string', format: 'date-time' },
    event: { type: 'object', additionalProperties: true, description: 'The event, validated, with defaults applied.' },
    features: { type: 'object', additionalProperties: true, description: 'Context features the risk engine used.' },
    risk: {
      type: 'object',
      required: ['score', 'level', 'reasons'],
      properties: {
        score: { type: ['number', 'null'], minimum: 0, maximum: 1 },
        level: { type: 'string', enum: ['low', 'medium', 'high', 'critical', 'unknown'] },
        reasons: { type: 'array', items: RiskReason },
        facts: { type: 'object', additionalProperties: true },
        baseline: { type: 'object', additionalProperties: true },
        model: { type: 'object', properties: { name: { type: 'string' }, version: { type: 'string' } } },
      },
      additionalProperties: true,
    },
    policy: {
      type: 'object',
      required: ['version', 'rules'],
      properties: {
        version: { type: 'string', description: 'Content hash of the policy bundle.' },
        rules: {
          type: 'array',
          description: 'Every rule that fired.',
          items: {
            type: 'object',
            properties: { policy: { type: 'string' }, rule: { type: 'string' }, outcome: { type: 'string', enum: OUTCOMES } },
          },
        },
        decisive: { type: 'object', properties: { policy: { type: 'string' }, rule: { type: 'string' } } },
      },
    },
    challenge: {
      type: 'object',
      description: 'For outcome challenge: what the end user must prove (acr_values, max_age in seconds).',
      properties: {
        acr_values: { type: 'array', items: { type: 'string' } },
        max_age: { type: 'integer' },
        expires_at: { type: 'string', format: 'date-time' },
      },
    },
    review: { type: 'object', description: 'For outcome review: the route (reviewers, quorum, deadline).', additionalProperties: true },
    fallback: {
      type: 'object',
      description: 'Present when evaluation failed and the fail-closed fallback decided.',
      properties: { outcome: { type: 'string' }, reason: { type: 'string' }, errors: { type: 'array', items: { type: 'object', additionalProperties: true } } },
    },
    resolution: {
      type: 'object',
      description: 'How a pending decision became final.',
      properties: {
        outcome: { type: 'string', enum: ['allow', 'deny'] },
        by: { type: 'string', enum: ['challenge', 'review', 'timeout'] },
        at: { type: 'string', format: 'date-time' },
        reason: { type: 'string' },
        reference: { type: 'string', description: 'The decision (an MFA event) or case that resolved it.' },
        learned: { type: 'boolean', description: "Whether resolving it taught the principal's baseline." },
      },
    },
    answers: {
      type: 'object',
      description: 'For an MFA event that answered a challenge: the challenged decision and its resolution.',
      properties: { decision_id: { type: 'string' }, resolution: { type: 'object', additionalProperties: true } },
    },
    learned: { type: 'boolean', description: "Whether the event entered the actor's baseline at decision time." },
    dry_run: { type: 'boolean', const: true, description: 'Present on a dry run: nothing was stored or learned.' },
  },
  additionalProperties: true,
};

const AuthzenEntity = {
  type: 'object',
  required: ['type', 'id'],
  properties: {
    type: { type: 'string', minLength: 1 },
    id: { type: 'string', minLength: 1 },
    properties: { type: 'object', additionalProperties: true },
  },
  additionalProperties: true,
};

const AuthzenAction = {
  type: 'object',
  required: ['name'],
  properties: { name: { type: 'string', minLength: 1 }, properties: { type: 'object', additionalProperties: true } },
  additionalProperties: true,
};

const AuthzenEvaluationRequest = {
  $id: 'AuthzenEvaluationRequest',
  type: 'object',
  description: 'AuthZEN Access Evaluation request. Unknown fields are ignored, as the specification requires.',
  required: ['subject', 'action', 'resource'],
  properties: {
    subject: AuthzenEntity,
    action: AuthzenAction,
    resource: AuthzenEntity,
    context: { type: 'object', additionalProperties: true },
  },
  additionalProperties: true,
};

const AuthzenEvaluationsRequest = {
  $id: 'AuthzenEvaluationsRequest',
  type: 'object',
  description:
    'AuthZEN Access Evaluations (batch) request; top-level entities are defaults for each item. Without an evaluations array it is a single Access Evaluation.',
  properties: {
    subject: AuthzenEntity,
    action: AuthzenAction,
    resource: AuthzenEntity,
    context: { type: 'object', additionalProperties: true },
    evaluations: {
      type: 'array',
      maxItems: 100,
      items: {
        type: 'object',
        properties: { subject: AuthzenEntity, action: AuthzenAction, resource: AuthzenEntity, context: { type: 'object', additionalProperties: true } },
        additionalProperties: true,
      },
    },
    options: {
      type: 'object',
      properties: { evaluations_semantic: { type: 'string', enum: ['execute_all', 'deny_on_first_deny', 'permit_on_first_permit'] } },
      additionalProperties: true,
    },
  },
  additionalProperties: true,
};

const AuthzenDecision = {
  $id: 'AuthzenDecision',
  type: 'object',
  required: ['decision'],
  properties: { decision: { type: 'boolean' }, context: { type: 'object', additionalProperties: true } },
  additionalProperties: true,
};

export function registerSchemas(app: FastifyInstance): void {
  for (const s of [Problem, Decision, AuthzenEvaluationRequest, AuthzenEvaluationsRequest, AuthzenDecision]) app.addSchema(s);
}

/** The event schemas, keyed by component name, for the OpenAPI document. */
export function eventComponents(): Record<string, unknown> {
  return Object.fromEntries(EVENT_TYPES.map((t) => [eventComponentName(t), EVENT_SCHEMAS[t]]));
}

export function eventComponentName(type: string): string {
  return `${type.split('.').map((p) => p[0]!.toUpperCase() + p.slice(1)).join('')}Event`;
}

const STATUS_TEXT: Record<number, string> = {
  400: 'The request is not valid.',
  404: 'Not found.',
  409: 'Conflicts with the current state.',
  413: 'The body is too large.',
  415: 'The body is not JSON.',
  422: 'Rejected: see errors.',
  503: 'Not ready, or shutting down.',
};

/** Error responses for the OpenAPI document: all are problem+json. */
export const problemResponses = (...statuses: number[]) =>
  Object.fromEntries(
    statuses.map((s) => [
      s,
      { description: STATUS_TEXT[s] ?? 'Error.', content: { 'application/problem+json': { schema: ref('Problem') } } },
    ]),
  );
