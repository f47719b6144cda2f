/**
 * The policy model. A bundle is a directory of YAML documents; each document may hold a policy (rules for some
 * event types), named review routes, and the bundle's settings. Conditions are CEL expressions.
 */
import type { EventType } from '../events/schema.js';

export const OUTCOMES = ['allow', 'challenge', 'review', 'deny'] as const;
export type Outcome = (typeof OUTCOMES)[number];

/** Most restrictive wins when several rules fire: deny > review > challenge > allow. */
export const OUTCOME_SEVERITY: Record<Outcome, number> = { allow: 0, challenge: 1, review: 2, deny: 3 };

export type FallbackOutcome = 'deny' | 'review';
export type TimeoutOutcome = 'deny' | 'allow' | 'escalate';

/** Where a deferred decision goes, and what a valid human answer requires. */
export interface Route {
  name: string;
  reviewers: {
    /** Any of these roles may review. */
    roles: string[];
    /** CEL over `case` and `reviewer`: which cases of those roles' members this route reaches. */
    scope?: string;
  };
  /** Distinct people who must approve. */
  quorum: number;
  /** When true, the approvers must hold distinct roles from `reviewers.roles`. */
  distinct_roles: boolean;
  /** Assurance a reviewer must have proven recently to give a verdict (RFC 9470 acr_values / max_age). */
  assurance?: { acr_values: string[]; max_age?: number };
  /** Seconds until the case times out. */
  timeout: number;
  /** Seconds before the timeout when a warning is sent. */
  warn_before?: number;
  on_timeout: TimeoutOutcome;
  escalate_to?: { roles: string[]; timeout?: number };
}

/** What the end user must do for a `challenge` outcome. */
export interface Challenge {
  acr_values: string[];
  max_age?: number;
}

export interface Rule {
  id: string;
  description?: string;
  when: string;
  outcome: Outcome;
  challenge?: Challenge;
  /** Name of the route, for `review`. */
  route?: string;
}

export interface PolicyDocument {
  name: string;
  description?: string;
  /** Event types this policy applies to; `*` = all. */
  events: Array<EventType | '*'>;
  rules: Rule[];
  /** Source file (relative to the bundle directory) and content hash: the policy's version. */
  file: string;
  version: string;
}

export interface BundleSettings {
  /** Outcome when no rule fires, per event type with a `default`. */
  default_outcome: Partial<Record<EventType, Outcome>> & { default: Outcome };
  /** Outcome when evaluation fails (a condition errors, the model fails): never allow. */
  fallback: Partial<Record<EventType, FallbackOutcome>> & { default: FallbackOutcome };
  /** Route for cases opened by a `review` fallback. */
  fallback_route?: string;
  /** Route for `review` rules that name none. */
  default_route?: string;
}

export interface PolicyBundle {
  /** Hash over every file's path and content hash. */
  version: string;
  files: Array<{ path: string; version: string }>;
  policies: PolicyDocument[];
  routes: Map<string, Route>;
  settings: BundleSettings;
}

export interface PolicyError {
  file: string;
  line: number;
  column: number;
  message: string;
}
