/**
 * CEL environments. Rules see `event`, `subject`, `actor`, `risk` and `context`; route scopes see `case` and
 * `reviewer`. Validation uses a stricter environment in which `risk` has a declared shape, so that a typo such
 * as `risk.scroe` is reported when the policy is loaded instead of failing (closed) at run time.
 */
import { Environment } from '@marcbachmann/cel-js';

const LIMITS = { maxAstNodes: 2000, maxDepth: 64, maxListElements: 1000, maxMapEntries: 1000, maxCallArguments: 32 };

function base(): Environment {
  return new Environment({ enableOptionalTypes: true, unlistedVariablesAreDyn: false, limits: LIMITS });
}

/** For evaluation: plain maps (no per-call conversion), compiled once per policy version. */
export const ruleRuntimeEnv: Environment = base()
  .registerVariable('event', 'map')
  .registerVariable('subject', 'map')
  .registerVariable('actor', 'map')
  .registerVariable('risk', 'map')
  .registerVariable('context', 'map');

/** For validation: the same variables, with `risk` typed. */
export const ruleCheckEnv: Environment = base()
  .registerVariable('event', 'map')
  .registerVariable('subject', 'map')
  .registerVariable('actor', 'map')
  .registerVariable({
    name: 'risk',
    schema: {
      score: 'double',
      level: 'string',
      signals: 'map',
      facts: 'map',
      baseline: 'map',
      reasons: 'list',
    },
  })
  .registerVariable('context', 'map');

export const scopeEnv: Environment = base().registerVariable('case', 'map').registerVariable('reviewer', 'map');

export interface CelProblem {
  message: string;
  /** Offset of the problem inside the expression. */
  offset: number;
}

/** Type-checks an expression; returns undefined when it is valid and of the wanted type. */
export function checkExpression(env: Environment, expression: string, wantBool: boolean): CelProblem | undefined {
  let result: ReturnType<Environment['check']>;
  try {
    result = env.check(expression);
  } catch (e) {
    return toProblem(e);
  }
  if (!result.valid) return toProblem(result.error);
  if (wantBool && result.type !== 'bool' && result.type !== 'dyn') {
    return { message: `the condition must be a boolean, but it is of type ${String(result.type)}`, offset: 0 };
  }
  return undefined;
}

export function toProblem(e: unknown): CelProblem {
  const err = e as { message?: string; node?: { pos?: number } } | undefined;
  const message = (err?.message ?? String(e)).split('\n')[0]!;
  return { message, offset: err?.node?.pos ?? 0 };
}
