/**
 * Conflicts of interest, decided server-side before any verdict counts. Pure: the caller passes what it knows
 * about the case's event and the reviewer (and the sponsor of the acting agent, looked up from its principal).
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

export function conflictOfInterest(event: LoopgateEvent, reviewer: ReviewerFacts, agentSponsor: string | undefined, options: ConflictOptions): Conflict | undefined {
  const privilegeChange = event.type === 'role.change' || event.type === 'access.request';
  if (event.subject.id === reviewer.id) {
    return privilegeChange
      ? { code: 'LOOPGATE_ERR_OWN_PRIVILEGE_CHANGE', detail: `${reviewer.id} cannot decide a change to their own roles or privileges` }
      : { code: 'LOOPGATE_ERR_SELF_REVIEW', detail: `${reviewer.id} cannot decide a case about themselves` };
  }
  if (privilegeTargets(event).includes(reviewer.id)) {
    return { code: 'LOOPGATE_ERR_OWN_PRIVILEGE_CHANGE', detail: `${reviewer.id} cannot decide an action that changes their own roles or credentials` };
  }
  if (event.actor.id === reviewer.id && event.actor.kind === 'human') {
    return { code: 'LOOPGATE_ERR_SELF_REVIEW', detail: `${reviewer.id} cannot decide a case raised by their own action` };
  }
  if (event.actor.kind === 'agent') {
    const sponsor = agentSponsor ?? event.actor.sponsor;
    if (sponsor === reviewer.id) {
      return { code: 'LOOPGATE_ERR_SPONSOR_CONFLICT', detail: `${reviewer.id} sponsors agent ${event.actor.id}, which raised this case` };
    }
  }
  if (options.reportingLine) {
    if (event.subject.manager === reviewer.id || (reviewer.manager !== undefined && reviewer.manager === event.subject.id)) {
      return { code: 'LOOPGATE_ERR_REPORTING_LINE_CONFLICT', detail: `${reviewer.id} and ${event.subject.id} are in one reporting line` };
    }
  }
  return undefined;
}
