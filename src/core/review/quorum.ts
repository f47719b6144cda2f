/**
 * Counting verdicts. One person never counts twice (the database also refuses a second verdict by the same
 * reviewer on a case); with `distinct_roles`, each approval must come from a role no earlier approval used.
 * A single deny by an authorised reviewer decides the case: a change needs every approval it asks for, a refusal
 * needs one.
 */
import type { Route } from '../policy/types.js';

export type VerdictKind = 'approve' | 'deny' | 'escalate';
export const VERDICTS: VerdictKind[] = ['approve', 'deny', 'escalate'];
export const LABELS = ['confirmed_safe', 'confirmed_risk', 'benign_true_positive', 'unsure'] as const;
export type VerdictLabel = (typeof LABELS)[number];

export interface CountedVerdict {
  reviewer_id: string;
  role: string;
  verdict: VerdictKind;
}

export type Tally =
  | { state: 'waiting'; approvals: number; needed: number; rolesUsed: string[] }
  | { state: 'approved'; approvals: number }
  | { state: 'denied'; by: string }
  | { state: 'escalated'; by: string };

export function tally(route: Pick<Route, 'quorum' | 'distinct_roles'>, verdicts: CountedVerdict[]): Tally {
  const seen = new Set<string>();
  const rolesUsed: string[] = [];
  let approvals = 0;
  for (const v of verdicts) {
    if (seen.has(v.reviewer_id)) continue;
    seen.add(v.reviewer_id);
    if (v.verdict === 'deny') return { state: 'denied', by: v.reviewer_id };
    if (v.verdict === 'escalate') return { state: 'escalated', by: v.reviewer_id };
    if (route.distinct_roles && rolesUsed.includes(v.role)) continue;
    rolesUsed.push(v.role);
    approvals++;
  }
  if (approvals >= route.quorum) return { state: 'approved', approvals };
  return { state: 'waiting', approvals, needed: route.quorum, rolesUsed };
}

/**
 * The role a reviewer's approval counts under: one of the route's roles they hold, preferring one no earlier
 * approval used. Undefined when they hold none, or (with distinct roles) only roles already counted.
 */
export function countingRole(route: Pick<Route, 'distinct_roles'>, routeRoles: string[], held: string[], rolesUsed: string[]): string | undefined {
  const eligible = routeRoles.filter((r) => held.includes(r));
  if (!route.distinct_roles) return eligible[0];
  return eligible.find((r) => !rolesUsed.includes(r));
}
