/**
 * `loopgate/sdk`: a small client for applications, identity providers and agents. It speaks the public HTTP API
 * only, uses the platform's `fetch` (Node 20+, browsers, workers), and surfaces errors as `LoopgateApiError`
 * carrying the server's problem document (RFC 9457) and its stable `code`.
 */

export type Outcome = 'allow' | 'challenge' | 'review' | 'deny';

export interface RiskReason {
  signal: string;
  contribution: number;
  sentence: string;
  detail?: Record<string, unknown>;
}

export interface DecisionResponse {
  id: string;
  outcome: Outcome;
  status: 'pending' | 'final';
  created_at: string;
  risk: { score: number | null; level: string; reasons: RiskReason[]; facts?: Record<string, unknown> };
  policy: { version: string; rules: Array<{ policy: string; rule: string; outcome: Outcome }> };
  challenge?: { acr_values: string[]; max_age?: number; expires_at?: string };
  review?: { route: Record<string, unknown> };
  fallback?: { outcome: 'deny' | 'review'; reason: string };
  resolution?: Resolution;
  /** For an MFA event that answered a challenge. */
  answers?: { decision_id: string; resolution?: Resolution };
  learned: boolean;
  /** Present on a dry run. */
  dry_run?: true;
  [key: string]: unknown;
}

/** How a pending decision became final. */
export interface Resolution {
  outcome: 'allow' | 'deny';
  by: 'challenge' | 'review' | 'timeout';
  at: string;
  reason?: string;
  reference?: string;
  learned?: boolean;
}

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail?: string;
  code: string;
  errors?: Array<{ pointer: string; detail: string }>;
  [key: string]: unknown;
}

export class LoopgateApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly problem: Problem | undefined;

  constructor(status: number, problem: Problem | undefined, fallback: string) {
    super(problem?.detail ?? problem?.title ?? fallback);
    this.name = 'LoopgateApiError';
    this.status = status;
    this.code = problem?.code ?? `HTTP_${status}`;
    this.problem = problem;
  }
}

export interface AuthzenEntity {
  type: string;
  id: string;
  properties?: Record<string, unknown>;
}

export interface AuthzenRequest {
  subject: AuthzenEntity;
  action: { name: string; properties?: Record<string, unknown> };
  resource: AuthzenEntity;
  context?: Record<string, unknown>;
}

export interface AuthzenDecision {
  decision: boolean;
  context?: Record<string, unknown>;
}

export interface ClientOptions {
  /** e.g. http://localhost:7470 */
  baseUrl: string;
  /** Sent as `Authorization: Bearer …` (API keys arrive with the review issue; ignored by servers without auth). */
  apiKey?: string;
  /** A fetch implementation; default: globalThis.fetch. */
  fetch?: typeof fetch;
  /** Per-request timeout in milliseconds (default 10 000). */
  timeoutMs?: number;
}

export interface RequestOptions {
  signal?: AbortSignal;
  /** Correlates the request in Loopgate's logs; echoed back. */
  requestId?: string;
}

export class LoopgateClient {
  private readonly base: string;
  private readonly fetchImpl: typeof fetch;

  constructor(private readonly options: ClientOptions) {
    this.base = options.baseUrl.replace(/\/$/, '');
    this.fetchImpl = options.fetch ?? globalThis.fetch.bind(globalThis);
  }

  /** Scores an event and returns the decision (stored by the server before it answers). */
  decide(event: Record<string, unknown>, options: RequestOptions & { dryRun?: boolean } = {}): Promise<DecisionResponse> {
    const body: Record<string, unknown> = { event };
    if (options.dryRun === true) body.dry_run = true;
    return this.request('POST', '/v1/decisions', body, options);
  }

  getDecision(id: string, options: RequestOptions = {}): Promise<DecisionResponse> {
    return this.request('GET', `/v1/decisions/${encodeURIComponent(id)}`, undefined, options);
  }

  /** AuthZEN Access Evaluation. */
  evaluate(request: AuthzenRequest, options: RequestOptions = {}): Promise<AuthzenDecision> {
    return this.request('POST', '/access/v1/evaluation', request, options);
  }

  /** AuthZEN Access Evaluations (batch). */
  evaluations(
    request: Partial<AuthzenRequest> & {
      evaluations: Array<Partial<AuthzenRequest>>;
      options?: { evaluations_semantic?: 'execute_all' | 'deny_on_first_deny' | 'permit_on_first_permit' };
    },
    options: RequestOptions = {},
  ): Promise<{ evaluations: AuthzenDecision[] }> {
    return this.request('POST', '/access/v1/evaluations', request, options);
  }

  private async request<T>(method: string, path: string, body: unknown, options: RequestOptions): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json, application/problem+json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (this.options.apiKey !== undefined) headers.authorization = `Bearer ${this.options.apiKey}`;
    if (options.requestId !== undefined) headers['x-request-id'] = options.requestId;
    const timeout = AbortSignal.timeout(this.options.timeoutMs ?? 10_000);
    const signal = options.signal === undefined ? timeout : AbortSignal.any([options.signal, timeout]);
    const init: RequestInit = { method, headers, signal };
    if (body !== undefined) init.body = JSON.stringify(body);
    const res = await this.fetchImpl(`${this.base}${path}`, init);
    const text = await res.text();
    if (!res.ok) {
      let problem: Problem | undefined;
      try {
        problem = JSON.parse(text) as Problem;
      } catch {
        problem = undefined;
      }
      throw new LoopgateApiError(res.status, problem, `${method} ${path} failed with HTTP ${res.status}`);
    }
    return JSON.parse(text) as T;
  }
}
