/**
 * The one error registry. Every error Loopgate reports has a stable code, an HTTP status, a problem type URI
 * (RFC 9457) and a documentation anchor in docs/errors.md. Spec-defined errors (AuthZEN, OAuth, RFC 9470) keep
 * their spec names where the spec defines the wire format; these codes are Loopgate's own.
 */

export const PROBLEM_TYPE_BASE = 'https://loopgate.dev/problems/';

const registry = {
  LOOPGATE_ERR_VALIDATION: { status: 400, title: 'The request is not valid' },
  LOOPGATE_ERR_MALFORMED_JSON: { status: 400, title: 'The request body is not valid JSON' },
  LOOPGATE_ERR_INVALID_EVENT: { status: 400, title: 'The event is not valid' },
  LOOPGATE_ERR_UNKNOWN_EVENT_TYPE: { status: 400, title: 'Unknown event type' },
  LOOPGATE_ERR_UNSUPPORTED_MEDIA_TYPE: { status: 415, title: 'Unsupported media type' },
  LOOPGATE_ERR_BODY_TOO_LARGE: { status: 413, title: 'The request body is too large' },
  LOOPGATE_ERR_NOT_FOUND: { status: 404, title: 'Not found' },
  LOOPGATE_ERR_DECISION_NOT_FOUND: { status: 404, title: 'Decision not found' },
  LOOPGATE_ERR_CONFLICT: { status: 409, title: 'The request conflicts with the current state' },
  LOOPGATE_ERR_POLICY_INVALID: { status: 422, title: 'The policy bundle is not valid' },
  LOOPGATE_ERR_NOT_READY: { status: 503, title: 'Loopgate is not ready' },
  LOOPGATE_ERR_SHUTTING_DOWN: { status: 503, title: 'Loopgate is shutting down' },
  LOOPGATE_ERR_STORE_UNAVAILABLE: { status: 503, title: 'The database is unavailable' },
  LOOPGATE_ERR_CONFIG_INVALID: { status: 500, title: 'The configuration is not valid' },
  LOOPGATE_ERR_AUDIT_DAMAGED: { status: 500, title: 'The audit log is damaged' },
  LOOPGATE_ERR_AUDIT_RANGE: { status: 400, title: 'The requested audit range is not valid' },
  LOOPGATE_ERR_UNAUTHENTICATED: { status: 401, title: 'A valid credential is required' },
  LOOPGATE_ERR_INVALID_CREDENTIALS: { status: 401, title: 'The credentials are not valid' },
  LOOPGATE_ERR_MFA_REQUIRED: { status: 401, title: 'A second factor is required' },
  LOOPGATE_ERR_TOTP_REPLAYED: { status: 401, title: 'This one-time code was already used' },
  LOOPGATE_ERR_PASSKEY_INVALID: { status: 401, title: 'The passkey response is not valid' },
  LOOPGATE_ERR_LOCKED_OUT: { status: 429, title: 'Too many failed attempts; try again later' },
  LOOPGATE_ERR_CSRF: { status: 403, title: 'The request lacks a valid CSRF token' },
  LOOPGATE_ERR_FORBIDDEN: { status: 403, title: 'The caller lacks the required role or scope' },
  LOOPGATE_ERR_SELF_REVIEW: { status: 403, title: 'Nobody decides a case about themselves' },
  LOOPGATE_ERR_OWN_PRIVILEGE_CHANGE: { status: 403, title: 'Nobody decides a change to their own roles or privileges' },
  LOOPGATE_ERR_SPONSOR_CONFLICT: { status: 403, title: 'Nobody decides a case raised by an agent they sponsor' },
  LOOPGATE_ERR_REPORTING_LINE_CONFLICT: { status: 403, title: 'Nobody decides a case about someone in their reporting line' },
  LOOPGATE_ERR_SETUP_DONE: { status: 409, title: 'Loopgate is already set up' },
  LOOPGATE_ERR_PRINCIPAL_NOT_FOUND: { status: 404, title: 'Principal not found' },
  LOOPGATE_ERR_CASE_NOT_FOUND: { status: 404, title: 'Case not found' },
  LOOPGATE_ERR_CASE_CLOSED: { status: 409, title: 'The case is closed' },
  LOOPGATE_ERR_CASE_CLAIMED: { status: 409, title: 'Someone else holds the case' },
  LOOPGATE_ERR_NOT_CLAIMED: { status: 409, title: 'Claim the case before deciding it' },
  LOOPGATE_ERR_LEASE_EXPIRED: { status: 409, title: 'Your claim on the case has expired' },
  LOOPGATE_ERR_ALREADY_VOTED: { status: 409, title: 'You already gave a verdict on this case' },
  LOOPGATE_ERR_ROLE_ALREADY_COUNTED: { status: 409, title: 'An approval from each of your roles is already counted' },
  LOOPGATE_ERR_REASON_REQUIRED: { status: 400, title: 'A reason is required to override the machine' },
  LOOPGATE_ERR_STEP_UP_REQUIRED: { status: 401, title: 'A fresher or stronger authentication is required' },
  LOOPGATE_ERR_CHALLENGE_INVALID: { status: 400, title: 'The verdict challenge is not valid' },
  LOOPGATE_ERR_NONCE_REUSED: { status: 409, title: 'This verdict challenge was already used' },
  LOOPGATE_ERR_PAYLOAD_CHANGED: { status: 409, title: 'The verdict differs from what was signed' },
  LOOPGATE_ERR_INTERNAL: { status: 500, title: 'Internal error' },
} as const satisfies Record<string, { status: number; title: string }>;

export type ErrorCode = keyof typeof registry;

export const ERROR_CODES = Object.keys(registry) as ErrorCode[];

export function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(registry, code);
}

export function errorInfo(code: ErrorCode): { status: number; title: string; type: string } {
  const { status, title } = registry[code];
  return { status, title, type: problemType(code) };
}

/** `LOOPGATE_ERR_UNKNOWN_EVENT_TYPE` → `https://loopgate.dev/problems/unknown-event-type` */
export function problemType(code: ErrorCode): string {
  return PROBLEM_TYPE_BASE + code.replace(/^LOOPGATE_ERR_/, '').toLowerCase().replaceAll('_', '-');
}

/** One field that failed validation, located with a JSON Pointer (RFC 6901) in URI fragment form. */
/** One invalid field: in the body (a JSON Pointer), or a query or path parameter (by name). */
export type FieldError = { pointer: string; detail: string } | { parameter: string; detail: string };

/** An error that is safe to show to the caller: it becomes an RFC 9457 problem document. */
export class LoopgateError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly errors: FieldError[] | undefined;
  readonly extra: Record<string, unknown> | undefined;

  constructor(
    code: ErrorCode,
    detail?: string,
    options: { errors?: FieldError[]; extra?: Record<string, unknown>; cause?: unknown } = {},
  ) {
    super(detail ?? registry[code].title, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'LoopgateError';
    this.code = code;
    this.status = registry[code].status;
    this.errors = options.errors;
    this.extra = options.extra;
  }
}

export interface ProblemDocument {
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance?: string;
  code: ErrorCode;
  errors?: FieldError[];
  [extension: string]: unknown;
}

export function toProblem(err: LoopgateError, instance?: string): ProblemDocument {
  const info = errorInfo(err.code);
  const problem: ProblemDocument = {
    type: info.type,
    title: info.title,
    status: info.status,
    detail: err.message,
    code: err.code,
  };
  if (instance !== undefined) problem.instance = instance;
  if (err.errors !== undefined) problem.errors = err.errors;
  if (err.extra !== undefined) Object.assign(problem, err.extra);
  return problem;
}
