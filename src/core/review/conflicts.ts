/**
 * Conflicts of interest, decided server-side before any verdict counts. Pure: the caller passes what it knows
 * about the case's event and the reviewer, and the sponsors Loopgate has on record for the event's actor and
 * subject (looked up by id, whatever kind the event claims: an event cannot talk its way out of a conflict).
 */
import type { ErrorCode } from '../errors.js';
import type { LoopgateEvent } from '../events/schema.js';

export interface ReviewerFacts {
  id: string;
  /** The reviewer's own manager (attribute `manager`), for the reporting-line rule. */
  manager?: string;
}

export interface ConflictOptions {
  /** Refuse a reviewer who is the subject's manager, or whose manager is the subject (off by default: managers approve their reports' access). */
  reportingLine: boolean;
}

export interface Conflict {
  code: ErrorCode;
  detail: string;
}

/** Who an event changes the privileges of, besides its subject (an agent's role or credential action on a target). */
function privilegeTargets(event: LoopgateEvent): string[] {
  if (event.type === 'agent.action') {
    const name = event.action.name;
    const target = event.action.target?.id;
    if (target !== undefined && (name.startsWith('role.') || name.startsWith('credential.') || name.startsWith('access.'))) return [target];
  }
  return [];
}

/** Sponsors on record (from the principals) of the event's actor and subject, when they are agents or services. */
export interface RecordedSponsors {
  actor?: string;
  subject?: string;
}

export function conflictOfInterest(event: LoopgateEvent, reviewer: ReviewerFacts, sponsors: RecordedSponsors, options: ConflictOptions): Conflict | undefined {
  const privilegeChange = event.type === 'role.change' || event.type === 'access.request';
  if (event.subject.id === reviewer.id) {
    return privilegeChange
      ? { code: 'LOOPGATE_ERR_OWN_PRIVILEGE_CHANGE', detail: `${reviewer.id} cannot decide a change to their own roles or privileges` }
      : { code: 'LOOPGATE_ERR_SELF_REVIEW', detail: `${reviewer.id} cannot decide a case about themselves` };
  }
  if (privilegeTargets(event).includes(reviewer.id)) {
    return { code: 'LOOPGATE_ERR_OWN_PRIVILEGE_CHANGE', detail: `${reviewer.id} cannot decide an action that changes their own roles or credentials` };
  }
  // Principal ids are unique across kinds: whatever kind the event claims, the reviewer's own id is their action.
  if (event.actor.id === reviewer.id) {
    return { code: 'LOOPGATE_ERR_SELF_REVIEW', detail: `${reviewer.id} cannot decide a case raised by their own action` };
  }
  // The sponsor on record wins; the one an agent event names counts only when Loopgate has none.
  const actorSponsor = sponsors.actor ?? (event.actor.kind === 'agent' ? event.actor.sponsor : undefined);
  if (actorSponsor === reviewer.id) {
    return { code: 'LOOPGATE_ERR_SPONSOR_CONFLICT', detail: `${reviewer.id} sponsors ${event.actor.id}, which raised this case` };
  }
  if (sponsors.subject === reviewer.id) {
    return { code: 'LOOPGATE_ERR_SPONSOR_CONFLICT', detail: `${reviewer.id} sponsors ${event.subject.id}, whom this case is about` };
  }
  if (options.reportingLine) {
    if (event.subject.manager === reviewer.id || (reviewer.manager !== undefined && reviewer.manager === event.subject.id)) {
      return { code: 'LOOPGATE_ERR_REPORTING_LINE_CONFLICT', detail: `${reviewer.id} and ${event.subject.id} are in one reporting line` };
    }
  }
  return undefined;
}
