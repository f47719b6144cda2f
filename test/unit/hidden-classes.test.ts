/**
 * The objects a decision is made of share V8 hidden classes (maps) from one decision to the next.
 *
 * Why a test: in Node 20's V8, an object literal that starts with a spread and then adds a property
 * (`{ ...event, version: 1 }`) gets a map of its own, every time, once the code is warm. Each such map is allocated
 * in the old generation, keeps the request's objects alive through young-generation collections, and makes every
 * property access on those objects megamorphic. Removing them made a dry-run decision about 30% cheaper
 * (docs/benchmarks.md, "Hidden classes"). This test keeps them from coming back: it makes twenty decisions of the
 * same shape with different values and asks V8 whether the last two have the same map, part by part. (Before the
 * fix it named the event, the risk facts and the policy context.)
 */
import { setFlagsFromString } from 'node:v8';
import { describe, expect, it } from 'vitest';
import { assembleDecision, policyActivation } from '../../src/core/decision.js';
import { parseEvent } from '../../src/core/events/parse.js';
import type { LoopgateEvent } from '../../src/core/events/schema.js';
import { evaluatePolicy } from '../../src/core/policy/evaluate.js';
import { loadBundle, type CompiledBundle } from '../../src/core/policy/load.js';
import { emptyBaseline, emptyCounts, fold, foldBaseline, observationOf, type Baseline } from '../../src/core/risk/baseline.js';
import { assessRisk } from '../../src/core/risk/engine.js';
import { extractFeatures } from '../../src/core/risk/features.js';
import { loadConfig } from '../../src/config/load.js';
import { DEFAULT_POLICY_DIRECTORY, modelVersionOf, riskConfigFrom } from '../../src/loopgate.js';
import { decideResult } from '../../src/services/decisions.js';
import { readPolicyDirectory } from '../../src/services/policies.js';

setFlagsFromString('--allow-natives-syntax');
// Compiled after the flag is set, so V8 accepts its intrinsic.
const sameMap = new Function('a', 'b', 'return %HaveSameMap(a, b)') as (a: object, b: object) => boolean;

const risk = riskConfigFrom(loadConfig({ env: {} }));
const NOW = Date.parse('2026-06-01T09:00:00Z');

async function defaultBundle(): Promise<CompiledBundle> {
  const loaded = loadBundle(await readPolicyDirectory(DEFAULT_POLICY_DIRECTORY));
  if (!loaded.ok) throw new Error('the default policy bundle does not load');
  return loaded.bundle;
}

function login(who: string, ip: string, device: string): LoopgateEvent {
  const parsed = parseEvent(
    {
      type: 'login',
      subject: { id: who, department: 'finance' },
      context: { ip, user_agent: 'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0', device_id: device },
      result: 'success',
      method: 'password',
    },
    NOW,
  );
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
  return parsed.event;
}

/** A decision's parts for `who`, whose baseline already holds a few logins (so every fact is computed). */
function decide(bundle: CompiledBundle, who: string, ip: string, device: string) {
  const event = login(who, ip, device);
  const features = extractFeatures(event, { country: 'FR', city: 'Paris', asn: 3215, as_org: 'Orange', latitude: 48.86, longitude: 2.35 });
  const baseline: Baseline = emptyBaseline(`human:${who}`);
  const global = emptyCounts();
  for (const seen of [login(who, '192.0.2.1', 'old-device'), login(who, '192.0.2.2', 'old-device')]) {
    const obs = observationOf(seen, extractFeatures(seen, undefined));
    foldBaseline(baseline, obs, risk.decay, risk.subjectValueCap);
    fold(global, obs, risk.decay, risk.globalValueCap);
  }
  const assessed = assessRisk({ event, features, baseline, global, velocity: { attempts: 1, failures: 0, accountsFromIp: 1 }, nowMs: NOW }, risk, modelVersionOf(risk));
  const activation = policyActivation(event, features, assessed);
  const policy = evaluatePolicy(bundle, 'login', activation);
  const decision = assembleDecision({ id: `id-${who}`, nowMs: NOW, event, features, risk: assessed, policyVersion: bundle.version, policy }, { maxLevel: 'low' });
  const result = decideResult({ id: decision.id, outcome: decision.outcome, json: JSON.stringify(decision) });
  return { event, facts: assessed.facts, context: activation.context as object, policy, decision, result };
}

describe('hidden classes of a decision', () => {
  it('the probe tells objects of different shapes apart and sees one map for one shape', () => {
    expect(sameMap({ a: 1, b: 'x' }, { a: 2, b: 'y' })).toBe(true);
    expect(sameMap({ a: 1 }, { b: 1 })).toBe(false);
  });

  it('two decisions of the same shape share the map of each part: event, facts, policy context, policy result, decision, result', async () => {
    const bundle = await defaultBundle();
    // V8's inline caches take the fast paths that made one map per object only once they have seen a few objects.
    const decisions = Array.from({ length: 20 }, (_, i) => decide(bundle, `user-${i}`, `198.51.100.${i + 1}`, `laptop-${i}`));
    const [first, second] = decisions.slice(-2) as [ReturnType<typeof decide>, ReturnType<typeof decide>];
    const parts = ['event', 'facts', 'context', 'policy', 'decision', 'result'] as const;
    expect(parts.filter((part) => !sameMap(first[part], second[part]))).toEqual([]);
  });
});
