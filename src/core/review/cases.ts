/**
 * Cases, the pure part: the state machine's vocabulary, the route after an escalation, the machine's
 * recommendation a reviewer may override (with a reason), the verdict payload a reviewer signs, and the variables
 * a scope condition sees. No I/O: the case service (services/cases.ts) stores and enforces.
 */
import { createHash } from 'node:crypto';
import { canonicalize } from '../../verify/canonical-json.js';
import type { Decision } from '../decision.js';
import type { Route } from '../policy/types.js';
import type { VerdictKind, VerdictLabel } from './quorum.js';

/**
 * open → claimed → decided | escalated | expired | cancelled. An escalated case waits for the escalation's
 * reviewers (it can be claimed again); decided, expired and cancelled are closed.
 */
export const CASE_STATUSES = ['open', 'claimed', 'escalated', 'decided', 'expired', 'cancelled'] as const;
export type CaseStatus = (typeof CASE_STATUSES)[number];

export function isClosed(status: string): boolean {
  return status === 'decided' || status === 'expired' || status === 'cancelled';
}

/** The status a case returns to when its lease ends without a decision. */
export function unclaimedStatus(escalations: number): CaseStatus {
  return escalations > 0 ? 'escalated' : 'open';
}

/**
 * The route after an escalation: the escalation's roles decide, with its timeout; there is no second escalation,
 * and a case nobody decides after it is denied (failures never allow).
 */
export function escalatedRoute(route: Route): Route | undefined {
  if (route.escalate_to === undefined) return undefined;
  const next: Route = {
    ...route,
    reviewers: { roles: route.escalate_to.roles },
    timeout: route.escalate_to.timeout ?? route.timeout,
    on_timeout: 'deny',
  };
  delete next.escalate_to;
  // The escalation's reviewers are a different group: the original scope (e.g. a region) need not apply to them.
  if (next.warn_before !== undefined && next.warn_before >= next.timeout) delete next.warn_before;
  return next;
}

export interface Recommendation {
  verdict: 'approve' | 'deny';
  why: string;
}

/**
 * What the machine would have done had it been allowed to act alone: deny when the risk is high or worse, or
 * when the model failed (a fallback opened the case); approve otherwise. A verdict against it needs a reason.
 */
export function recommendationOf(decision: Pick<Decision, 'risk' | 'fallback'>): Recommendation {
  if (decision.fallback !== undefined || decision.risk.level === 'unknown') {
    return { verdict: 'deny', why: 'the risk model or the policy failed on this event: nothing vouches for it' };
  }
  const level = decision.risk.level;
  if (level === 'high' || level === 'critical') return { verdict: 'deny', why: `the risk is ${level}` };
  return { verdict: 'approve', why: `the risk is only ${level}; the policy asks a person anyway` };
}

/** Exactly what a reviewer signs: RFC 8785 canonical JSON of these members. */
export interface VerdictPayload {
  case_id: string;
  decision_id: string;
  verdict: VerdictKind;
  label: VerdictLabel;
  reason: string;
  /** SHA-256 (base64url) of the canonical event being approved or denied: the exact thing decided. */
  approved_sha256: string;
  reviewer_id: string;
  nonce: string;
  /** When the payload was issued (ISO 8601). */
  time: string;
}

export function canonicalPayload(payload: VerdictPayload): string {
  return canonicalize(payload);
}

/** The WebAuthn challenge for a verdict: SHA-256 of the canonical payload. An assertion over it signs the verdict. */
export function verdictChallenge(payload: VerdictPayload): Uint8Array {
  return new Uint8Array(createHash('sha256').update(canonicalPayload(payload)).digest());
}

/** The hash that binds a verdict to one exact event (any change to the event changes it). */
export function eventDigest(event: unknown): string {
  return createHash('sha256').update(canonicalize(event)).digest('base64url');
}

/** The variables a scope condition (route scope, role-binding condition) sees. */
export function scopeActivation(
  c: { id: string; decision: Pick<Decision, 'event' | 'risk'>; route: Route; status: string },
  reviewer: { id: string; kind: string; roles: string[]; attributes: Record<string, unknown> },
): { case: Record<string, unknown>; reviewer: Record<string, unknown> } {
  const e = c.decision.event;
  return {
    case: {
      id: c.id,
      type: e.type,
      status: c.status,
      subject: e.subject,
      actor: e.actor,
      event: e,
      risk: { score: c.decision.risk.score, level: c.decision.risk.level },
      route: c.route.name,
    },
    // Attributes first: `id`, `kind` and `roles` are the account's own and cannot be shadowed by an attribute.
    reviewer: { ...reviewer.attributes, id: reviewer.id, kind: reviewer.kind, roles: reviewer.roles },
  };
}
