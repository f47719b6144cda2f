/**
 * Authentication assurance (NIST SP 800-63B levels as ACR values) and the RFC 9470 step-up check: does the
 * caller's session satisfy what a route requires (acr_values, max_age)?
 */

export const ACR = {
  aal1: 'urn:loopgate:acr:aal1',
  aal2: 'urn:loopgate:acr:aal2',
  aal3: 'urn:loopgate:acr:aal3',
} as const;

const RANK: Record<string, number> = { [ACR.aal1]: 1, [ACR.aal2]: 2, [ACR.aal3]: 3 };

export function acrRank(acr: string | undefined): number {
  return acr === undefined ? 0 : (RANK[acr] ?? 0);
}

export interface Assurance {
  acr: string;
  amr: string[];
  /** When the factor behind `acr` was last proven (ms). */
  authTimeMs: number;
}

export interface AssuranceRequirement {
  acr_values: string[];
  /** Seconds. */
  max_age?: number;
}

/**
 * What is missing, or undefined when the assurance satisfies the requirement. A higher level satisfies a lower
 * one (an AAL3 passkey satisfies a route asking for AAL2): `acr_values` lists acceptable levels, and the lowest of
 * them is the bar.
 */
export function missingAssurance(have: Assurance | undefined, need: AssuranceRequirement | undefined, nowMs: number): AssuranceRequirement | undefined {
  if (need === undefined) return undefined;
  const bar = need.acr_values.length === 0 ? 0 : Math.min(...need.acr_values.map(acrRank));
  const strongEnough = have !== undefined && (need.acr_values.includes(have.acr) || acrRank(have.acr) >= bar);
  const freshEnough = need.max_age === undefined || (have !== undefined && nowMs - have.authTimeMs <= need.max_age * 1000);
  if (strongEnough && freshEnough) return undefined;
  const missing: AssuranceRequirement = { acr_values: need.acr_values };
  if (need.max_age !== undefined) missing.max_age = need.max_age;
  return missing;
}

/** RFC 9470 §3: the WWW-Authenticate challenge for insufficient user authentication. */
export function stepUpChallenge(missing: AssuranceRequirement): string {
  const parts = ['Bearer error="insufficient_user_authentication"', 'error_description="A fresher or stronger authentication is required"'];
  if (missing.acr_values.length > 0) parts.push(`acr_values="${missing.acr_values.join(' ')}"`);
  if (missing.max_age !== undefined) parts.push(`max_age="${missing.max_age}"`);
  return parts.join(', ');
}
