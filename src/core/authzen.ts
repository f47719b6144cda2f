/**
 * OpenID AuthZEN Authorization API 1.0: the mapping between an access evaluation (subject, action, resource,
 * context) and a Loopgate event, and between a decision and an AuthZEN decision. Field names are the
 * specification's. A deny is `decision: false` with reasons in `context`; a decision that needs a human is a
 * requestable denial (`reason: "approval_required"`, as in the Access Request & Approval Profile, draft 1).
 * The rules of the mapping are documented in docs/authzen.md.
 */
import type { Decision } from './decision.js';
import type { EventType } from './events/schema.js';
import { isEventType } from './events/schema.js';

export interface AuthzenEntity {
  type: string;
  id: string;
  properties?: Record<string, unknown>;
}

export interface AuthzenAction {
  name: string;
  properties?: Record<string, unknown>;
}

export interface AuthzenEvaluation {
  subject: AuthzenEntity;
  action: AuthzenAction;
  resource: AuthzenEntity;
  context?: Record<string, unknown>;
}

export interface AuthzenDecision {
  decision: boolean;
  context?: Record<string, unknown>;
}

export const EVALUATIONS_SEMANTICS = ['execute_all', 'deny_on_first_deny', 'permit_on_first_permit'] as const;
export type EvaluationsSemantic = (typeof EVALUATIONS_SEMANTICS)[number];

/** Action names understood as an event type (besides the event type names themselves). */
const ACTION_ALIASES: Record<string, EventType> = {
  authenticate: 'login',
  sign_in: 'login',
  signin: 'login',
  verify_mfa: 'mfa',
  step_up: 'mfa',
  transfer: 'transaction',
  pay: 'transaction',
  payment: 'transaction',
  assign_role: 'role.change',
  grant_role: 'role.change',
  change_role: 'role.change',
  revoke_role: 'role.change',
  request_access: 'access.request',
};

const AGENT_SUBJECT_TYPES = new Set(['agent', 'ai_agent', 'service', 'workload']);
const PERSON_RESOURCE_TYPES = new Set(['user', 'account', 'identity', 'person', 'employee']);
/** Subject properties that are fields of a Loopgate subject. */
const SUBJECT_FIELDS = ['display_name', 'email', 'department', 'title', 'manager', 'region', 'location', 'roles'] as const;
/** Context keys that are fields of a Loopgate event context; everything else goes into context.properties. */
const CONTEXT_FIELDS = ['ip', 'user_agent', 'device_id', 'session_id', 'geo'] as const;

export function eventTypeFor(e: AuthzenEvaluation): EventType {
  const explicit = e.action.properties?.event_type;
  if (isEventType(explicit)) return explicit;
  if (isEventType(e.action.name)) return e.action.name;
  const alias = ACTION_ALIASES[e.action.name.toLowerCase()];
  if (alias !== undefined) return alias;
  if (AGENT_SUBJECT_TYPES.has(e.subject.type)) return 'agent.action';
  return 'access.request';
}

function pick(obj: Record<string, unknown> | undefined, keys: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (obj === undefined) return out;
  for (const k of keys) if (obj[k] !== undefined) out[k] = obj[k];
  return out;
}

/** Builds the raw Loopgate event for an evaluation; it is validated like any other event afterwards. */
export function authzenToEvent(e: AuthzenEvaluation): Record<string, unknown> {
  const type = eventTypeFor(e);
  const props = { ...e.resource.properties, ...e.action.properties };
  const isAgent = AGENT_SUBJECT_TYPES.has(e.subject.type);
  const event: Record<string, unknown> = { type };

  if (isAgent) {
    const actor: Record<string, unknown> = { kind: 'agent', id: e.subject.id };
    const sponsor = e.subject.properties?.sponsor;
    if (typeof sponsor === 'string') actor.sponsor = sponsor;
    event.actor = actor;
    event.subject = PERSON_RESOURCE_TYPES.has(e.resource.type)
      ? { id: e.resource.id, ...pick(e.resource.properties, SUBJECT_FIELDS) }
      : { id: typeof e.subject.properties?.on_behalf_of === 'string' ? e.subject.properties.on_behalf_of : e.subject.id };
  } else if (type === 'role.change' && PERSON_RESOURCE_TYPES.has(e.resource.type) && e.resource.id !== e.subject.id) {
    // A person changing someone else's roles (an admin granting Bob a role): the event is about Bob, whose roles
    // change, and the admin is the actor (whose own context habits the risk engine compares against). An access
    // request stays about the requester, whatever the resource is: it is the requester's access that changes.
    event.actor = { kind: 'human', id: e.subject.id };
    event.subject = { id: e.resource.id, ...pick(e.resource.properties, SUBJECT_FIELDS) };
  } else {
    event.subject = { id: e.subject.id, ...pick(e.subject.properties, SUBJECT_FIELDS) };
  }

  const ctx = e.context ?? {};
  const context: Record<string, unknown> = pick(ctx, CONTEXT_FIELDS);
  const rest = Object.fromEntries(
    Object.entries(ctx).filter(([k]) => !(CONTEXT_FIELDS as readonly string[]).includes(k) && !['time', 'signals', 'authorization_details', 'approval'].includes(k)),
  );
  if (Object.keys(rest).length > 0) context.properties = rest;
  if (Object.keys(context).length > 0) event.context = context;
  if (ctx.time !== undefined) event.time = ctx.time;

  switch (type) {
    case 'login':
      Object.assign(event, pick(props, ['result', 'method']));
      if (ctx.signals !== undefined) event.signals = ctx.signals;
      break;
    case 'mfa':
      Object.assign(event, pick(props, ['method', 'result', 'decision_id']));
      break;
    case 'transaction':
      Object.assign(event, pick(props, ['amount', 'currency', 'channel']));
      event.payee = props.payee ?? (e.resource.type === 'payee' || e.resource.type === 'account' ? { id: e.resource.id } : undefined);
      break;
    case 'role.change': {
      const roles = (props.roles as Record<string, unknown> | undefined) ?? pick(props, ['before', 'after']);
      event.roles = roles;
      if (!PERSON_RESOURCE_TYPES.has(e.resource.type)) event.application = e.resource.id;
      Object.assign(event, pick(props, ['justification']));
      break;
    }
    case 'access.request': {
      const entitlement: Record<string, unknown> = {
        id: `${e.resource.type}:${e.resource.id}`,
        name: e.action.name,
        application: e.resource.type,
      };
      const sensitivity = props.sensitivity;
      if (typeof sensitivity === 'string') entitlement.sensitivity = sensitivity;
      event.entitlement = entitlement;
      Object.assign(event, pick(props, ['justification', 'duration_seconds']));
      break;
    }
    case 'agent.action': {
      const action: Record<string, unknown> = {
        name: e.action.name,
        target: { type: e.resource.type, id: e.resource.id },
        ...pick(e.action.properties, ['tool', 'impact', 'parameters']),
      };
      event.action = action;
      if (ctx.authorization_details !== undefined) event.authorization_details = ctx.authorization_details;
      break;
    }
    case 'session.signal':
      event.signal = props.signal ?? { kind: e.action.name, ...pick(props, ['source', 'level', 'reason']) };
      break;
  }
  return event;
}

const REASON_USER: Record<Decision['outcome'], string> = {
  allow: 'Allowed.',
  deny: 'This request is not allowed.',
  challenge: 'Additional verification is required.',
  review: 'This request needs approval by a person.',
};

function reasonAdmin(d: Decision): string {
  const decisive = d.policy.decisive;
  const by =
    decisive !== undefined
      ? `rule ${decisive.policy}/${decisive.rule}`
      : d.fallback !== undefined && d.fallback.outcome === d.outcome
        ? 'the fail-closed fallback'
        : 'the default outcome';
  const top = d.risk.reasons.filter((r) => r.contribution > 0).slice(0, 3).map((r) => r.sentence);
  const parts = [`${d.outcome} by ${by}`, `risk ${d.risk.level}${d.risk.score === null ? '' : ` (${d.risk.score.toFixed(2)})`}`];
  if (d.fallback !== undefined) parts.push(`fallback: ${d.fallback.reason}`);
  if (top.length > 0) parts.push(top.join('; '));
  return parts.join('. ');
}

/** The AuthZEN decision for a Loopgate decision: only `allow` is `true`. */
export function decisionToAuthzen(d: Decision, decisionUrl: string): AuthzenDecision {
  if (d.outcome === 'allow') return { decision: true, context: { id: d.id } };
  const context: Record<string, unknown> = {
    id: d.id,
    reason_admin: { en: reasonAdmin(d) },
    reason_user: { [`en-${d.outcome === 'challenge' ? 401 : 403}`]: REASON_USER[d.outcome] },
    loopgate: { outcome: d.outcome, decision: decisionUrl, risk: { score: d.risk.score, level: d.risk.level } },
  };
  if (d.outcome === 'challenge' && d.challenge !== undefined) {
    if (d.challenge.acr_values.length > 0) context.acr_values = d.challenge.acr_values.join(' ');
    if (d.challenge.max_age !== undefined) context.max_age = d.challenge.max_age;
  }
  if (d.outcome === 'review') {
    // A requestable denial (AuthZEN Access Request & Approval Profile, draft 1): the evaluation id binds a later
    // access request to this denial. The PEP must not treat it as permission.
    context.reason = 'approval_required';
    context.evaluation_id = d.id;
    context.evaluated_at = d.created_at;
  }
  return { decision: false, context };
}
