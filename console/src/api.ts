/**
 * The console's only way to the server: the public HTTP API, same origin, with the session cookie (httpOnly, set
 * at sign-in) and the session's CSRF token in `X-CSRF-Token` on every unsafe request. The token is kept in
 * sessionStorage so a reload keeps working; a new tab asks the tabs already open for it (BroadcastChannel) instead
 * of the token being written anywhere that outlives the tab.
 */

import { ROLE_NAME } from '../../src/core/auth/roles.js';

export interface Problem {
  type?: string;
  title?: string;
  status: number;
  detail?: string;
  code?: string;
  instance?: string;
  errors?: Array<{ pointer?: string; parameter?: string; detail: string }>;
  [extra: string]: unknown;
}

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly problem: Problem;
  constructor(problem: Problem) {
    super(problem.detail ?? problem.title ?? `HTTP ${problem.status}`);
    this.name = 'ApiError';
    this.status = problem.status;
    this.code = problem.code ?? '';
    this.problem = problem;
  }
}

const CSRF_KEY = 'loopgate.csrf';
const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export function csrfToken(): string | null {
  try {
    return sessionStorage.getItem(CSRF_KEY);
  } catch {
    return null;
  }
}

export function setCsrfToken(token: string | null): void {
  try {
    if (token === null) sessionStorage.removeItem(CSRF_KEY);
    else sessionStorage.setItem(CSRF_KEY, token);
  } catch {
    // storage disabled: unsafe requests will be refused with LOOPGATE_ERR_CSRF, which the screens show
  }
  if (token !== null) channel?.postMessage({ type: 'csrf', token });
}

/** Tabs of this console share the token of the session they share (the cookie is per browser, the token per tab). */
const channel: BroadcastChannel | undefined = typeof BroadcastChannel === 'undefined' ? undefined : new BroadcastChannel('loopgate-console');
channel?.addEventListener('message', (e: MessageEvent<{ type?: string; token?: string }>) => {
  if (e.data?.type === 'csrf?') {
    const token = csrfToken();
    if (token !== null) channel.postMessage({ type: 'csrf', token });
  } else if (e.data?.type === 'signed-out') {
    try {
      sessionStorage.removeItem(CSRF_KEY);
    } catch {
      /* ignore */
    }
  }
});

/** In a tab without the token, asks the other tabs for it (answered within a few milliseconds if any is open). */
export function recoverCsrfToken(waitMs = 250): Promise<void> {
  if (csrfToken() !== null || channel === undefined) return Promise.resolve();
  return new Promise((resolve) => {
    const onMessage = (e: MessageEvent<{ type?: string; token?: string }>) => {
      if (e.data?.type === 'csrf' && typeof e.data.token === 'string') {
        try {
          sessionStorage.setItem(CSRF_KEY, e.data.token);
        } catch {
          /* ignore */
        }
        done();
      }
    };
    const done = () => {
      channel.removeEventListener('message', onMessage);
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(done, waitMs);
    channel.addEventListener('message', onMessage);
    channel.postMessage({ type: 'csrf?' });
  });
}

export function announceSignedOut(): void {
  channel?.postMessage({ type: 'signed-out' });
}

export async function api<T = unknown>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
  const h: Record<string, string> = { accept: 'application/json', ...headers };
  if (body !== undefined) h['content-type'] = 'application/json';
  if (UNSAFE.has(method)) {
    const token = csrfToken();
    if (token !== null) h['x-csrf-token'] = token;
  }
  let res: Response;
  try {
    res = await fetch(path, { method, headers: h, credentials: 'same-origin', body: body === undefined ? null : JSON.stringify(body) });
  } catch (e) {
    throw new ApiError({ status: 0, title: 'Network error', detail: `the server could not be reached (${(e as Error).message})`, code: 'NETWORK' });
  }
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let json: unknown;
  try {
    json = text === '' ? undefined : JSON.parse(text);
  } catch {
    json = undefined;
  }
  if (!res.ok) {
    const p = (typeof json === 'object' && json !== null ? json : {}) as Partial<Problem>;
    // The session ended (expired, revoked, signed out elsewhere): the console goes back to the sign-in screen.
    if (res.status === 401 && p.code === 'LOOPGATE_ERR_UNAUTHENTICATED' && !path.startsWith('/v1/auth/')) {
      window.dispatchEvent(new CustomEvent('loopgate:signed-out'));
    }
    throw new ApiError({ ...p, status: res.status, detail: p.detail ?? (text.slice(0, 200) || res.statusText) });
  }
  return json as T;
}

export const get = <T>(path: string) => api<T>('GET', path);
export const post = <T>(path: string, body: unknown = {}) => api<T>('POST', path, body);

/** A problem's message for people: the detail, and the field errors when the detail does not already say them. */
export function describeError(e: unknown): string {
  if (e instanceof ApiError) return e.problem.detail ?? e.message;
  if (e instanceof DOMException && e.name === 'NotAllowedError') return 'the passkey request was cancelled or timed out';
  if (e instanceof Error) return e.message;
  return String(e);
}

// ---- shapes of the API's answers (the parts the console reads) ----

export interface SessionInfo {
  id: string;
  state: 'active' | 'mfa_pending' | string;
  acr: string;
  amr: string[];
  auth_time: string;
  expires_at: string;
}

export interface SignInResponse {
  token: string;
  csrf_token: string;
  state: string;
  factors: string[];
  acr: string;
  amr: string[];
  auth_time: string;
  expires_at: string;
}

export interface RoleBinding {
  id: string;
  role: string;
  condition: string | null;
  expires_at: string | null;
}

export interface Me {
  principal: { id: string; kind: string; display_name: string | null; attributes: Record<string, unknown>; status: string };
  via: string;
  roles: RoleBinding[];
  permissions: string[];
  factors: string[];
  session?: SessionInfo;
}

export interface Ceremony<O = Record<string, unknown>> {
  challenge_id: string;
  expires_at: string;
  options: O;
}

export interface CaseSummary {
  id: string;
  decision_id: string;
  status: string;
  event_type: string;
  subject: { id: string; [k: string]: unknown };
  actor: { kind: string; id: string; [k: string]: unknown };
  risk: { score: number | null; level: string; top_reasons: string[] };
  route: string;
  reviewers: string[];
  quorum: number;
  created_at: string;
  age_seconds: number;
  deadline_at: string;
  escalations: number;
  claimed_by: string | null;
  lease_until: string | null;
  outcome: string | null;
  closed_at: string | null;
}

export interface RiskReason {
  signal: string;
  contribution: number;
  sentence: string;
  detail?: Record<string, unknown>;
}

export interface Assurance {
  acr_values: string[];
  max_age?: number;
}

export interface TimelineEntry {
  seq: number;
  time: string;
  action: string;
  actor: { kind: string; id: string; assurance?: { acr: string; amr: string[]; auth_time: string } };
  reason?: string;
  data?: Record<string, unknown>;
}

export interface CaseDetail extends Omit<CaseSummary, 'route' | 'risk'> {
  route: {
    name: string;
    reviewers: { roles: string[]; scope?: string };
    quorum: number;
    distinct_roles?: boolean;
    timeout: number;
    on_timeout: string;
    assurance?: Assurance;
    escalate_to?: { roles: string[] };
    warn_before?: number;
  };
  event: { type: string; subject: Record<string, unknown>; actor?: Record<string, unknown>; time: string; context?: Record<string, unknown>; [k: string]: unknown };
  risk: { score: number | null; level: string; reasons: RiskReason[]; facts?: Record<string, unknown>; model?: { name: string; version: string } };
  policy: { version: string; rules: Array<{ policy: string; rule: string; outcome: string }>; decisive?: { policy: string; rule: string } };
  fallback?: unknown;
  recommendation: { verdict: string; why: string };
  approved_sha256: string;
  baseline: {
    events: number;
    logins: number;
    first_seen: string | null;
    last_seen: string | null;
    /** Typing and pointer profiles: what is enrolled, never timings or keys (src/core/behaviour/signals.ts summariseBehaviour). */
    behaviour?: {
      fields: Array<{ field: string; secret: boolean; entries: number }>;
      pointer: { sessions: number; actions: number } | null;
    };
    comparison: Array<{ feature: string; value: string; seen: boolean; count: number; last_seen: string | null }>;
    exceptions: Array<{ feature: string; value: string; until: string; reason: string; created_by: string }>;
  };
  verdicts: Array<{ reviewer_id: string; role: string; verdict: string; label: string; reason: string; round: number; proof: string; created_at: string }>;
  resolution?: { outcome: string; by: string; reason: string; at: string; learned?: boolean };
  you: { can_decide: boolean; roles: string[]; conflict?: string };
  timeline: TimelineEntry[];
}

export interface VerdictChallenge {
  payload: Record<string, unknown>;
  canonical: string;
  challenge: string;
  nonce: string;
  expires_at: string;
  passkey?: Record<string, unknown>;
  assurance?: Assurance;
}

export interface VerdictResult {
  case: CaseSummary;
  verdict: { id: string; payload: Record<string, unknown>; proof: { type: string; [k: string]: unknown } };
  tally: { state: string; approvals?: number; [k: string]: unknown };
  decision?: { id: string; status: string; resolution?: { outcome: string; by: string; reason: string } };
}

export interface AuditEntry {
  index: number;
  leaf_hash: string;
  entry: {
    seq: number;
    time: string;
    action: string;
    actor: { kind: string; id: string; assurance?: { acr: string; amr: string[] } };
    target?: { type: string; id: string };
    reason?: string;
    links?: Record<string, string>;
    data?: Record<string, unknown>;
    [k: string]: unknown;
  };
}

export interface Checkpoint {
  origin: string;
  size: number;
  root: string;
  checkpoint: string;
  key_id: string;
  created_at: string;
}

export const del = <T = void>(path: string) => api<T>('DELETE', path);

/** GET /v1/stats/review (src/services/stats.ts). */
export interface ReviewStats {
  window: { since: string; until: string; bucket_seconds: number };
  queue: { open: number; by_status: Record<string, number>; by_age: Array<{ label: string; count: number }>; overdue: number; oldest_age_seconds: number | null };
  decisions: Array<{ bucket: string; allow: number; challenge: number; review: number; deny: number }>;
  time_to_decision: { closed: number; p50_seconds: number | null; p90_seconds: number | null; by: Record<string, number> };
  verdicts: { total: number; overrides: number; by_label: Record<string, number> };
}

/** GET /v1/principals: each principal with its role bindings. */
export interface PrincipalInfo {
  id: string;
  kind: 'human' | 'service' | 'agent' | string;
  display_name: string;
  sponsor: string | null;
  attributes: Record<string, unknown>;
  status: 'active' | 'disabled' | string;
  created_at: string;
  roles: RoleBinding[];
}

export interface NewPrincipalBody {
  id: string;
  kind?: string;
  display_name?: string;
  sponsor?: string;
  password?: string;
  roles?: Array<{ role: string; condition?: string; expires_at?: string }>;
}

/** GET /v1/api-keys (never the secrets); POST answers the same with `key`, shown once. */
export interface ApiKeyInfo {
  id: string;
  principal_id: string;
  roles: string[];
  label: string;
  created_at: string;
  expires_at: string | null;
  revoked_at: string | null;
  last_used_at: string | null;
}

export interface RoleInfo {
  name: string;
  description: string;
  permissions: string[];
  builtin: boolean;
}

/** GET /v1/policies: the active bundle. */
export interface PolicyBundleInfo {
  version: string;
  directory: string;
  files: Array<{ path: string; version: string }>;
  policies: Array<{
    name: string;
    description?: string;
    events: string[];
    rules: Array<{ id: string; description?: string; when: string; outcome: string; route?: string; challenge?: Assurance }>;
    file: string;
    version: string;
  }>;
  routes: Record<string, unknown>;
  settings: Record<string, unknown>;
}

export const put = <T = void>(path: string, body: unknown) => api<T>('PUT', path, body);

// The permission names and the custom-role name rule are the server's own (src/core/auth/roles.ts is pure).
export { PERMISSIONS } from '../../src/core/auth/roles.js';
/** A custom role's name, as an HTML `pattern`. */
export const ROLE_NAME_PATTERN = ROLE_NAME.source;

/** POST /v1/principals/:id/roles: a role binding, optionally scoped (CEL over `case` and `reviewer`) and expiring. */
export interface NewBindingBody {
  role: string;
  condition?: string;
  expires_at?: string;
}

export const addRoleBinding = (principalId: string, body: NewBindingBody) => post<RoleBinding>(`/v1/principals/${encodeURIComponent(principalId)}/roles`, body);
export const removeRoleBinding = (principalId: string, bindingId: string) => del(`/v1/principals/${encodeURIComponent(principalId)}/roles/${encodeURIComponent(bindingId)}`);

/** PUT /v1/roles/:name: define (or redefine) a custom role; built-in roles cannot change. */
export interface RoleDefinitionBody {
  description?: string;
  permissions: string[];
}

export const defineRole = (name: string, body: RoleDefinitionBody) => put(`/v1/roles/${encodeURIComponent(name)}`, body);
