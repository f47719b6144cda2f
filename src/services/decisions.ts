/**
 * The decision use case: event → features → risk → policy → decision, stored durably.
 *
 * Scoring (validation, enrichment, risk, policy, serialisation) is done by a `ScoringBackend`: in this thread, or
 * in the scoring thread so that the event loop serving HTTP is not held up by it. Either way, this service owns
 * what must happen once and in order: the decision's id and time, the claim on an answered challenge, the case a
 * review opens, the group commit, and the learning that follows it.
 *
 * Failures never allow: a risk model error or an unexpected policy error applies the event type's fallback.
 * A decision is acknowledged only after its group commit is durable; what it teaches the baselines is folded
 * in only after that commit.
 */
import { UUID_PATTERN, uuidv7, type Clock, type Random } from '../core/clock.js';
import type { Decision, LearningRule, Resolution } from '../core/decision.js';
import { challengesExpired, decisionsRecorded } from '../core/audit/records.js';
import type { AuditInput } from '../core/audit/entry.js';
import { LoopgateError } from '../core/errors.js';
import type { Outcome } from '../core/policy/types.js';
import type { RiskConfig } from '../core/risk/engine.js';
import type { Attempt } from '../core/risk/velocity.js';
import type { GeoIp } from '../adapters/geoip.js';
import { GroupCommitter } from '../store/group-commit.js';
import type { CompiledQuery } from 'kysely';
import type { DecisionWrite, DecisionWriteResult, Store } from '../store/store.js';
import type { BaselineService } from './baselines.js';
import { sha256Base64 } from './digest.js';
import type { Logger } from './logger.js';
import type { PolicyService } from './policies.js';
import { Scorer, type ScoreRequest, type Scored, type ScoringState } from './scoring.js';

export interface DecisionServiceOptions {
  risk: RiskConfig;
  /** Version of the risk model (its configuration hash): recorded with every decision. */
  modelVersion: string;
  learning: LearningRule;
  challengeTtlMs: number;
  maxBatch: number;
}

export interface DecisionDeps {
  store: Store;
  clock: Clock;
  random: Random;
  geo: GeoIp;
  policies: PolicyService;
  baselines: BaselineService;
  logger: Logger;
  /** Opens the case of a `review` decision, in the decision's own transaction (the case service). */
  reviews?: ReviewOpener;
}

export interface ReviewOpener {
  opened(decision: Decision, nowMs: number): Promise<{ caseId: string; queries: CompiledQuery[]; audit: AuditInput[] }>;
  /** Called once the decision that opened a case is durable. */
  announceOpened(decisionId: string, caseId: string): void;
}

export interface DecideOptions {
  /** Evaluate without storing anything or learning (what-if, `loopgate decide --dry-run`). */
  dryRun?: boolean;
  /** Where the event sits in the request body, for error pointers (e.g. "/event"). */
  pointerPrefix?: string;
}

/** Scores events: in this thread (`InlineScoring`) or in the scoring thread (`ScoringThread`). */
export interface ScoringBackend {
  score(request: ScoreRequest): Promise<Scored>;
  /** Warms the velocity detector with the attempts of the last window. */
  recordAttempts(attempts: Attempt[]): void;
  stop(): Promise<void>;
}

export interface DecideResult {
  id: string;
  outcome: Outcome;
  /** The decision as stored and returned: serialised once. */
  json: string;
  /** The decision as an object (parsed from `json` on first use). */
  readonly decision: Decision;
}

const RECENT_ATTEMPTS_LIMIT = 200_000;

export class DecisionService {
  private readonly committer: GroupCommitter<DecisionWrite, DecisionWriteResult>;
  /** Challenges being answered right now, so that two answers cannot both resolve one challenge. */
  private readonly resolving = new Set<string>();
  private scoring: ScoringBackend;

  constructor(
    private readonly deps: DecisionDeps,
    private readonly options: DecisionServiceOptions,
  ) {
    this.committer = new GroupCommitter(
      (batch) =>
        deps.store.commitDecisions(batch, { inputs: [batchAudit(batch), ...batch.flatMap((w) => w.audit ?? [])], timeMs: deps.clock.now() }),
      { maxBatch: options.maxBatch },
    );
    this.scoring = new InlineScoring(this.scoringState(), options);
  }

  /** What scoring reads, from this thread's services (the scoring thread mirrors the same). */
  private scoringState(): ScoringState {
    const { baselines, policies, geo, logger } = this.deps;
    return {
      geo,
      logger,
      bundle: () => policies.current(),
      global: () => baselines.globalStats,
      exceptionsFor: (actorKey) => baselines.exceptionsFor(actorKey),
      peekBaseline: (actorKey) => baselines.peek(actorKey),
      loadBaseline: (actorKey) => baselines.load(actorKey),
      challengeTarget: (requestId, decisionId, subjectId, prefix) => this.challengeTargetFor(requestId, decisionId, subjectId, prefix),
    };
  }

  /** Hands scoring to another backend (the scoring thread); call before `start`. */
  useScoring(backend: ScoringBackend): void {
    this.scoring = backend;
  }

  private sweeper: NodeJS.Timeout | undefined;

  /**
   * Resolves challenges nobody answered in time as denied (`resolution.by: "timeout"`), so that a caller polling
   * the decision learns the final answer. Returns how many it resolved.
   */
  async expireChallenges(): Promise<number> {
    const now = this.deps.clock.now();
    const candidates = await this.deps.store.pendingChallenges(now - this.options.challengeTtlMs, 500);
    const updates: Array<{ id: string; body: string }> = [];
    for (const c of candidates) {
      const d = JSON.parse(c.body) as Decision;
      if (d.challenge?.expires_at !== undefined && Date.parse(d.challenge.expires_at) > now) continue;
      // Claimed synchronously, like an MFA answer claims its challenge: exactly one of the two resolves it.
      if (!this.claim(d.id)) continue;
      const resolution: Resolution = {
        outcome: 'deny',
        by: 'timeout',
        at: new Date(now).toISOString(),
        reason: 'the challenge was not answered in time',
        learned: false,
      };
      updates.push({ id: d.id, body: JSON.stringify({ ...d, status: 'final', resolution }) });
    }
    try {
      const audit = challengesExpired(updates.map((u) => [u.id, sha256Base64(u.body)] as const));
      await this.deps.store.resolvePending(updates, { inputs: [audit], timeMs: now });
    } finally {
      for (const u of updates) this.resolving.delete(u.id);
    }
    return updates.length;
  }

  /** Claims a pending challenge for resolution; false if someone else is resolving it. */
  private claim(id: string): boolean {
    if (this.resolving.has(id)) return false;
    this.resolving.add(id);
    return true;
  }

  /** Warms the velocity detector with the attempts of the last window, so a restart does not reset it. */
  async start(): Promise<void> {
    const every = Math.min(30_000, Math.max(1_000, Math.floor(this.options.challengeTtlMs / 10)));
    this.sweeper = setInterval(
      () => void this.expireChallenges().catch((e) => this.deps.logger.error({ err: e }, 'expiring challenges failed')),
      every,
    );
    this.sweeper.unref();
    this.scoring.recordAttempts(await this.recentAttempts());
  }

  /** The login and MFA attempts of the velocity window, oldest first, from the store. */
  async recentAttempts(): Promise<Attempt[]> {
    const since = this.deps.clock.now() - this.options.risk.velocity.windowMs;
    const rows = await this.deps.store.recentAttempts(since, RECENT_ATTEMPTS_LIMIT);
    const attempts: Attempt[] = [];
    for (let i = rows.length - 1; i >= 0; i--) {
      const a = rows[i]!;
      const attempt: Attempt = { timeMs: a.event_time, principal: a.actor_key, failed: a.failed === 1 };
      if (a.ip !== null) attempt.ip = a.ip;
      attempts.push(attempt);
    }
    return attempts;
  }

  async decide(raw: unknown, options: DecideOptions = {}): Promise<DecideResult> {
    const now = this.deps.clock.now();
    const request: ScoreRequest = {
      event: raw,
      id: uuidv7(now, this.deps.random),
      now,
      dryRun: options.dryRun === true,
      pointerPrefix: options.pointerPrefix ?? '',
    };
    try {
      return await this.commit(await this.scoring.score(request), now);
    } finally {
      // Scoring may have claimed a challenge (recorded against the request's id): released once committed or failed.
      this.releaseClaims(request.id);
    }
  }

  private async commit(scored: Scored, now: number): Promise<DecideResult> {
    const result = decideResult(scored);
    if (scored.row === undefined) return result; // a dry run
    const write: DecisionWrite = { decision: scored.row, digest: scored.digest, learning: scored.learning, updates: scored.updates };
    // A review opens its case in the same transaction: no decision waits for a person without a case to decide it.
    const reviews = scored.outcome === 'review' ? this.deps.reviews : undefined;
    const opened = reviews === undefined ? undefined : await reviews.opened(result.decision, now);
    if (opened !== undefined) {
      write.extra = opened.queries;
      write.audit = opened.audit;
    }
    const committed = await this.committer.submit(write);
    if (opened !== undefined) reviews!.announceOpened(scored.id, opened.caseId);
    scored.learning.forEach((l, i) => this.deps.baselines.learn(l.actor_key, committed.learningSeqs[i]!, scored.observations[i]!));
    return result;
  }

  /** The stored decision, as JSON. */
  async get(id: string): Promise<string> {
    // UUIDs compare case-insensitively (RFC 9562); ids are stored in lower case.
    const stored = UUID_PATTERN.test(id) ? await this.deps.store.getDecision(id.toLowerCase()) : undefined;
    if (stored === undefined) throw new LoopgateError('LOOPGATE_ERR_DECISION_NOT_FOUND', `no decision with id ${id}`);
    return stored.body;
  }

  /** Stops background work and waits until every accepted decision is committed. */
  async drain(): Promise<void> {
    clearInterval(this.sweeper);
    await this.committer.drain();
    await this.scoring.stop();
  }

  /** Claims by request: the challenge a request's mfa event answers, released once its decision is committed. */
  private readonly claims = new Map<string, string>();

  private releaseClaims(requestId: string): void {
    const claimed = this.claims.get(requestId);
    if (claimed === undefined) return;
    this.claims.delete(requestId);
    this.resolving.delete(claimed);
  }

  /** Reads and claims the pending challenge an mfa event answers (for the request whose decision id is given). */
  async challengeTargetFor(requestId: string, decisionId: string, subjectId: string, prefix: string): Promise<Decision> {
    const pointer = `#${prefix}/decision_id`;
    const bad = (detail: string, code: 'LOOPGATE_ERR_INVALID_EVENT' | 'LOOPGATE_ERR_CONFLICT' = 'LOOPGATE_ERR_INVALID_EVENT') =>
      new LoopgateError(code, `decision_id ${detail}`, { errors: [{ pointer, detail }] });
    const stored = await this.deps.store.getDecision(decisionId.toLowerCase());
    if (stored === undefined) throw bad('names no decision');
    const target = JSON.parse(stored.body) as Decision;
    if (target.event.subject.id !== subjectId) throw bad('names a decision about another subject');
    if (target.outcome !== 'challenge') throw bad('names a decision that did not ask for a challenge');
    if (target.status !== 'pending') {
      throw bad(
        target.resolution?.by === 'timeout' ? 'names a challenge that expired unanswered' : 'names a challenge that was already answered',
        'LOOPGATE_ERR_CONFLICT',
      );
    }
    // Claimed before anything else can happen on the event loop: a second answer, or the expiry sweep, is refused.
    if (!this.claim(target.id)) throw bad('names a challenge that is being answered right now', 'LOOPGATE_ERR_CONFLICT');
    this.claims.set(requestId, target.id);
    return target;
  }
}

/** Scoring in this thread, on this thread's services. */
class InlineScoring implements ScoringBackend {
  private readonly scorer: Scorer;

  constructor(state: ScoringState, options: DecisionServiceOptions) {
    this.scorer = new Scorer(state, options);
  }

  score(request: ScoreRequest): Promise<Scored> {
    return this.scorer.score(request);
  }

  recordAttempts(attempts: Attempt[]): void {
    for (const a of attempts) this.scorer.recordAttempt(a);
  }

  async stop(): Promise<void> {}
}

/**
 * The result of `decide`: the decision object is parsed only when a caller asks for it.
 *
 * A class, not an object literal with a getter: with the literal (a new getter closure per call, holding the JSON),
 * each request's result survived young-generation collections and was promoted to the old generation, about 480
 * bytes per request by this alone (`--trace-gc-nvp` at 2,000 paced requests/s, docs/benchmarks.md "Hidden
 * classes"); with the class, whose getter is one function on the prototype, it is not.
 */
class ScoredResult implements DecideResult {
  private parsed: Decision | undefined;

  constructor(
    readonly id: string,
    readonly outcome: Outcome,
    readonly json: string,
  ) {}

  get decision(): Decision {
    return (this.parsed ??= JSON.parse(this.json) as Decision);
  }
}

export function decideResult(scored: Pick<Scored, 'id' | 'outcome' | 'json'>): DecideResult {
  return new ScoredResult(scored.id, scored.outcome, scored.json);
}

/** The audit entry of a group commit: every decision and every resolved challenge, by id and digest. */
function batchAudit(batch: DecisionWrite[]): AuditInput {
  return decisionsRecorded(
    batch.map((w) => [w.decision.id, w.digest ?? sha256Base64(w.decision.body)] as const),
    batch.flatMap((w) => w.updates.map((u) => [u.id, u.digest ?? sha256Base64(u.body)] as const)),
  );
}
