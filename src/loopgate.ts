/**
 * The composition root: builds the adapters and services from a configuration, in dependency order, and
 * closes them in reverse. Every door (HTTP, CLI) starts from here, so they share one service layer.
 */
import { createHash, randomFillSync } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { Clock, Random } from './core/clock.js';
import type { LearningRule } from './core/decision.js';
import type { RiskConfig, RiskLevel } from './core/risk/engine.js';
import type { BehaviourConfig } from './core/behaviour/signals.js';
import { defaultGeoIpOptions, FileGeoIp, noGeoIp, type GeoIp } from './adapters/geoip.js';
import type { Config } from './config/schema.js';
import { LoopgateError } from './core/errors.js';
import { redactConfig } from './config/load.js';
import { AuditService } from './services/audit.js';
import { AuthService } from './services/auth.js';
import { passkeyRelyingParty } from './services/passkey-rp.js';
import { PrincipalService } from './services/principals.js';
import { WebhookService } from './services/webhooks.js';
import { CaseService } from './services/cases.js';
import { StatsService } from './services/stats.js';
import { loadOrCreateApprovalKey } from './adapters/approval-key.js';
import { BaselineService, type BaselineOptions } from './services/baselines.js';
import { ScoringThread } from './services/scoring-thread.js';
import { DecisionService } from './services/decisions.js';
import { silentLogger, type Logger } from './services/logger.js';
import { PolicyService } from './services/policies.js';
import { openStore } from './store/open.js';
import type { Store } from './store/store.js';

export const systemClock: Clock = { now: () => Date.now() };
/** Cryptographically strong bytes, drawn from a pool refilled 4 KiB at a time (one call per id was measurable). */
export function pooledRandom(poolSize = 4096): Random {
  const pool = new Uint8Array(poolSize);
  let offset = poolSize;
  return {
    fill(bytes) {
      if (bytes.length > poolSize) return randomFillSync(bytes);
      if (offset + bytes.length > poolSize) {
        randomFillSync(pool);
        offset = 0;
      }
      bytes.set(pool.subarray(offset, offset + bytes.length));
      // Each byte is handed out once: no id shares random bits with another.
      offset += bytes.length;
      return bytes;
    },
  };
}

export const systemRandom: Random = pooledRandom();

/** The policy bundle that ships with Loopgate. */
export const DEFAULT_POLICY_DIRECTORY = fileURLToPath(new URL('../policies/default', import.meta.url));

export interface LoopgateOptions {
  logger?: Logger;
  clock?: Clock;
  random?: Random;
  /** Replace the IP database (tests use a fixed table). */
  geo?: GeoIp;
  /** Run migrations before starting (default true). */
  migrate?: boolean;
  /** Watch the policy directory (default: the config's policy.watch). */
  watchPolicies?: boolean;
  /** Score in a worker thread (default: the config's risk.scoring_thread). */
  scoringThread?: boolean;
}

export interface Loopgate {
  config: Config;
  store: Store;
  geo: GeoIp;
  logger: Logger;
  clock: Clock;
  decisions: DecisionService;
  policies: PolicyService;
  audit: AuditService;
  baselines: BaselineService;
  principals: PrincipalService;
  auth: AuthService;
  webhooks: WebhookService;
  cases: CaseService;
  stats: StatsService;
  /** True once started and until close() begins. */
  isReady(): boolean;
  close(): Promise<void>;
}

export function riskConfigFrom(config: Config): RiskConfig {
  const r = config.risk;
  return {
    decay: { halfLifeMs: r.half_life_days * 86_400_000 },
    freeman: {
      alpha: r.alpha,
      weights: r.weights,
      levelWeights: r.level_weights,
      maxLogRatio: r.max_log_ratio,
      minLogRatio: r.min_log_ratio,
    },
    travel: { maxSpeedKmh: r.travel.max_speed_kmh, minDistanceKm: r.travel.min_distance_km, weight: r.travel.weight },
    velocity: {
      windowMs: r.velocity.window_minutes * 60_000,
      maxFailures: r.velocity.max_failures,
      maxAccountsPerIp: r.velocity.max_accounts_per_ip,
      failureWeight: r.velocity.failure_weight,
      accountsWeight: r.velocity.accounts_weight,
      maxKeys: r.velocity.max_keys,
    },
    bias: r.bias,
    levels: r.levels,
    subjectValueCap: r.subject_value_cap,
    globalValueCap: r.global_value_cap,
    sessionSignalWeights: r.session_signal_weights,
    behaviour: behaviourConfigFrom(r.behaviour),
  };
}

type SignalWeightSettings = { weight: number; free_deviations: number; max_contribution: number; typical_credit: number };
const weightsFrom = (w: SignalWeightSettings) => ({
  weight: w.weight,
  freeDeviations: w.free_deviations,
  maxContribution: w.max_contribution,
  typicalCredit: w.typical_credit,
});

function behaviourConfigFrom(b: Config['risk']['behaviour']): BehaviourConfig {
  return {
    keystroke: { window: b.keystroke.window, minSamples: b.keystroke.min_samples, ...weightsFrom(b.keystroke) },
    pointer: { minSessions: b.pointer.min_sessions, minActions: b.pointer.min_actions, ...weightsFrom(b.pointer) },
  };
}

/** The model version: a hash of everything that changes how the model scores. */
export function modelVersionOf(risk: RiskConfig): string {
  return `1.${createHash('sha256').update(JSON.stringify(risk)).digest('hex').slice(0, 12)}`;
}

export async function openGeoIp(config: Config): Promise<GeoIp> {
  if (!config.geoip.enabled) return noGeoIp;
  const defaults = defaultGeoIpOptions();
  const options = {
    cityDatabases: config.geoip.city_databases.length > 0 ? config.geoip.city_databases : defaults.cityDatabases,
    asnIpv4Csv: config.geoip.asn_ipv4_csv ?? defaults.asnIpv4Csv,
    asnIpv6Csv: config.geoip.asn_ipv6_csv ?? defaults.asnIpv6Csv,
  };
  return FileGeoIp.open(options);
}

export async function createLoopgate(config: Config, options: LoopgateOptions = {}): Promise<Loopgate> {
  const logger = options.logger ?? silentLogger;
  const clock = options.clock ?? systemClock;
  const random = options.random ?? systemRandom;
  const store = openStore({ url: config.database.url, poolSize: config.database.pool_size });
  let ready = false;
  const opened: Array<() => Promise<void> | void> = [() => store.close()];
  const closeAll = async () => {
    for (const close of opened.reverse()) await close();
  };
  try {
    if (options.migrate ?? true) {
      const { applied } = await store.migrate();
      if (applied.length > 0) logger.info({ applied, store: store.location }, 'database migrated');
    }
    await store.start();
    await store.ping();
    const geoStarted = Date.now();
    const geo = options.geo ?? (await openGeoIp(config));
    logger.info({ geoip: geo.describe(), ms: Date.now() - geoStarted }, 'IP enrichment ready');

    const audit = new AuditService(
      { store, clock, random, logger },
      {
        origin: config.audit.origin,
        keyDirectory: config.audit.key_directory,
        signingKey: config.audit.signing_key,
        trustedKeys: config.audit.trusted_keys,
        checkpointIntervalMs: config.audit.checkpoint_interval_ms,
        maxBatch: config.audit.max_batch,
      },
    );
    await audit.start();
    // Closed after everything that writes entries (closing runs in reverse): its drain signs the last checkpoint.
    opened.push(() => audit.drain());

    const policies = new PolicyService(config.policy.directory ?? DEFAULT_POLICY_DIRECTORY, store, clock, logger);
    const loaded = await policies.reload('start');
    if (!loaded.ok) {
      const lines = loaded.errors.map((e) => `${e.file}:${e.line}:${e.column}: ${e.message}`);
      throw new LoopgateError('LOOPGATE_ERR_POLICY_INVALID', `the policy bundle in ${policies.directory} is not valid:\n  ${lines.join('\n  ')}`);
    }
    if (options.watchPolicies ?? config.policy.watch) policies.watch();
    opened.push(() => policies.stop());

    const risk = riskConfigFrom(config);
    const baselineOptions: BaselineOptions = {
      decay: risk.decay,
      subjectValueCap: risk.subjectValueCap,
      globalValueCap: risk.globalValueCap,
      cacheSize: config.risk.baseline_cache_size,
      snapshotIntervalMs: config.risk.snapshot_interval_seconds * 1000,
      behaviour: risk.behaviour,
    };
    const baselines = new BaselineService(store, baselineOptions, clock, logger);
    await baselines.start();
    opened.push(() => baselines.stop());

    const principals = new PrincipalService({ store, clock, random });
    await principals.start();
    // A relying party that cannot work is reported now and by every passkey endpoint, but does not stop a
    // deployment that does not use passkeys.
    const relyingParty = passkeyRelyingParty(config);
    if (!relyingParty.ok) logger.warn({ problem: relyingParty.problem }, 'passkeys are not available');
    const auth = new AuthService(
      { store, clock, random, logger, principals },
      {
        sessionTtlMs: config.auth.session_ttl_minutes * 60_000,
        maxFailures: config.auth.max_failures,
        maxFailuresPerIp: config.auth.max_failures_per_ip,
        failureWindowMs: config.auth.failure_window_minutes * 60_000,
        lockoutMs: config.auth.lockout_minutes * 60_000,
        setupCodeTtlMs: config.auth.setup_code_ttl_minutes * 60_000,
        issuer: 'Loopgate',
        passkeys: relyingParty,
      },
    );

    const webhooks = new WebhookService(
      { store, clock, random, logger },
      {
        maxAttempts: config.webhooks.max_attempts,
        baseDelayMs: config.webhooks.base_delay_ms,
        maxDelayMs: config.webhooks.max_delay_ms,
        timeoutMs: config.webhooks.timeout_ms,
        pollIntervalMs: 1000,
      },
    );

    const modelVersion = modelVersionOf(risk);
    await audit.recordStartup(redactConfig(config) as unknown as Record<string, unknown>, modelVersion);

    const cases = new CaseService(
      { store, clock, random, logger, principals, auth, webhooks, baselines, approval: await loadOrCreateApprovalKey(config.audit.key_directory),
        passkeyOptions: async (principalId, challenge) => auth.passkeyRequestOptions(await principals.get(principalId), challenge).catch(() => undefined),
      },
      {
        leaseMs: config.review.lease_minutes * 60_000,
        reportingLine: config.review.reporting_line_conflict,
        verdictChallengeTtlMs: config.review.verdict_challenge_ttl_seconds * 1000,
        sweepIntervalMs: config.review.sweep_interval_ms,
      },
    );

    const learning: LearningRule = { maxLevel: config.risk.learn_max_level as RiskLevel };
    const decisions = new DecisionService(
      { store, clock, random, geo, policies, baselines, logger, reviews: cases },
      {
        risk,
        modelVersion,
        learning,
        challengeTtlMs: config.risk.challenge_ttl_seconds * 1000,
        maxBatch: config.database.max_batch,
      },
    );
    if (options.scoringThread ?? config.risk.scoring_thread) {
      if (geo.spec === undefined) {
        logger.warn({ geoip: geo.describe() }, 'this IP resolver cannot be opened in the scoring thread; scoring in the main thread');
      } else {
        const thread = await ScoringThread.start(
          {
            baselines,
            policies,
            logger,
            geo: geo.spec,
            recentAttempts: () => decisions.recentAttempts(),
            challengeTarget: (requestId, decisionId, subjectId, prefix) => decisions.challengeTargetFor(requestId, decisionId, subjectId, prefix),
          },
          { risk, modelVersion, learning, challengeTtlMs: config.risk.challenge_ttl_seconds * 1000 },
          baselineOptions,
        );
        decisions.useScoring(thread);
      }
    }
    opened.push(() => decisions.drain());
    await decisions.start();
    webhooks.start();
    opened.push(() => webhooks.stop());
    cases.start();
    opened.push(() => cases.stop());
    ready = true;

    let closing: Promise<void> | undefined;
    return {
      config,
      store,
      geo,
      logger,
      clock,
      decisions,
      policies,
      baselines,
      audit,
      principals,
      auth,
      webhooks,
      cases,
      stats: new StatsService({ store, clock }),
      isReady: () => ready,
      close: () => {
        ready = false;
        closing ??= closeAll();
        return closing;
      },
    };
  } catch (e) {
    await closeAll().catch(() => undefined);
    throw e;
  }
}
