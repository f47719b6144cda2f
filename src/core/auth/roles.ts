/**
 * Roles and what they permit. A role binding gives a principal a role, optionally limited by a CEL condition over
 * the case (its scope) and an expiry. Permissions gate endpoints; which cases a reviewer may decide is a matter
 * of the case's route (its reviewer roles) and the scopes of the reviewer's bindings.
 */

export const PERMISSIONS = [
  /** Submit events for decision and use the AuthZEN evaluation endpoints (a policy enforcement point). */
  'decisions:write',
  /** Read a decision by id (callers waiting on a review poll it). */
  'decisions:read',
  /** See every case, whatever its route (read-only). */
  'cases:read_all',
  /** Reassign and cancel cases. */
  'cases:manage',
  /** Read the audit log (entries, proofs, search). */
  'audit:read',
  /** Create and change principals, role bindings, roles and API keys. */
  'principals:manage',
  /** Read the active policy bundle. */
  'policies:read',
  /** Reload the policy bundle. */
  'policies:manage',
  /** Manage webhooks and their dead letters. */
  'webhooks:manage',
  /** Manage risk models (the learning issue). */
  'models:manage',
] as const;
export type Permission = (typeof PERMISSIONS)[number];

export interface RoleDefinition {
  name: string;
  description: string;
  permissions: Permission[];
}

export const BUILTIN_ROLES: RoleDefinition[] = [
  {
    name: 'admin',
    description: 'Runs Loopgate: principals, roles, API keys, policies, webhooks; sees every case and the audit log.',
    permissions: ['decisions:read', 'cases:read_all', 'cases:manage', 'audit:read', 'principals:manage', 'policies:read', 'policies:manage', 'webhooks:manage'],
  },
  // Reviewers see decisions through their cases (scoped), not by id: no decisions:read.
  { name: 'security_analyst', description: 'Reviews risky sign-ins and session signals.', permissions: ['policies:read'] },
  { name: 'fraud_analyst', description: 'Reviews suspicious transactions.', permissions: ['policies:read'] },
  { name: 'manager', description: "Approves their reports' access requests.", permissions: [] },
  { name: 'iam_admin', description: 'Reviews role changes, sensitive access and agents’ high-impact actions.', permissions: ['policies:read'] },
  { name: 'auditor', description: 'Reads the audit log and every case, changes nothing.', permissions: ['decisions:read', 'cases:read_all', 'audit:read', 'policies:read'] },
  { name: 'ml_owner', description: 'Owns the risk models.', permissions: ['decisions:read', 'models:manage', 'policies:read'] },
  {
    name: 'pep',
    description: 'A policy enforcement point: an application, identity provider or agent gateway that asks for decisions.',
    permissions: ['decisions:write', 'decisions:read'],
  },
];

export const ROLE_NAME = /^[a-z][a-z0-9_]{1,62}$/;

export function isPermission(p: string): p is Permission {
  return (PERMISSIONS as readonly string[]).includes(p);
}
