import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { loadBundle, type CompiledBundle } from '../../src/core/policy/load.js';
import { evaluatePolicy, fallbackOutcome, fallbackResult } from '../../src/core/policy/evaluate.js';
import { OUTCOMES, OUTCOME_SEVERITY, type Outcome } from '../../src/core/policy/types.js';

const lines = (...l: string[]) => l.join('\n') + '\n';

function bundle(...sources: Array<[string, string]>): CompiledBundle {
  const r = loadBundle(sources.map(([path, content]) => ({ path, content })));
  if (!r.ok) throw new Error(`bundle does not load: ${JSON.stringify(r.errors)}`);
  return r.bundle;
}

function route(name: string, role: string): string[] {
  return [`  ${name}:`, '    reviewers:', `      roles: [${role}]`, '    timeout: 1h'];
}

const ROUTES = lines('routes:', ...route('r-rule', 'a'), ...route('r-default', 'b'), ...route('r-fallback', 'c'));

/** The variables a condition sees; `fire` lists which rules should fire. */
function activation(fire: string[], extra: Record<string, unknown> = {}) {
  return { event: { fire, ...extra }, subject: {}, actor: {}, context: {}, risk: { score: 0.1, level: 'low' } };
}

/** A rule that fires when its id is in event.fire. */
function rule(id: string, outcome: Outcome, more: string[] = []): string[] {
  return [`  - id: ${id}`, `    when: '"${id}" in event.fire'`, `    outcome: ${outcome}`, ...more.map((m) => `    ${m}`)];
}

const SETTINGS = lines(
  'settings:',
  '  default_outcome:',
  '    default: allow',
  '    transaction: review',
  '    mfa: challenge',
  '  fallback:',
  '    default: deny',
  '    login: review',
  '  fallback_route: r-fallback',
  '  default_route: r-default',
);

describe('evaluatePolicy: combining rules', () => {
  const FOUR = bundle(
    [
      'p.yaml',
      lines(
        'policy: p',
        'rules:',
        ...rule('allow-1', 'allow'),
        ...rule('challenge-1', 'challenge', ['challenge:', '  acr_values: [aal2]', '  max_age: 5m']),
        ...rule('review-1', 'review', ['route: r-rule']),
        ...rule('deny-1', 'deny'),
        ...rule('deny-2', 'deny'),
        ...rule('allow-2', 'allow'),
      ),
    ],
    ['routes.yaml', ROUTES],
    ['settings.yaml', SETTINGS],
  );
  const IDS = ['allow-1', 'challenge-1', 'review-1', 'deny-1', 'deny-2', 'allow-2'];
  const OUTCOME_OF: Record<string, Outcome> = {
    'allow-1': 'allow',
    'challenge-1': 'challenge',
    'review-1': 'review',
    'deny-1': 'deny',
    'deny-2': 'deny',
    'allow-2': 'allow',
  };

  it('lets deny win over everything', () => {
    const r = evaluatePolicy(FOUR, 'login', activation(['allow-1', 'challenge-1', 'review-1', 'deny-2']));
    expect(r.outcome).toBe('deny');
    expect(r.decisive).toEqual({ policy: 'p', rule: 'deny-2' });
    expect(r.route).toBeUndefined();
    expect(r.challenge).toBeUndefined();
  });

  it('lets review win over challenge and allow, with the rule route', () => {
    const r = evaluatePolicy(FOUR, 'login', activation(['allow-2', 'challenge-1', 'review-1']));
    expect(r.outcome).toBe('review');
    expect(r.route?.name).toBe('r-rule');
    expect(r.route?.reviewers.roles).toEqual(['a']);
  });

  it('lets challenge win over allow, with its parameters', () => {
    const r = evaluatePolicy(FOUR, 'login', activation(['allow-1', 'challenge-1']));
    expect(r.outcome).toBe('challenge');
    // 5m = 300 s
    expect(r.challenge).toEqual({ acr_values: ['aal2'], max_age: 300 });
    expect(r.decisive).toEqual({ policy: 'p', rule: 'challenge-1' });
  });

  it('records every fired rule in bundle order and picks the first of the winning outcome', () => {
    const r = evaluatePolicy(FOUR, 'login', activation(['deny-2', 'allow-2', 'deny-1', 'allow-1']));
    expect(r.rules).toEqual([
      { policy: 'p', rule: 'allow-1', outcome: 'allow' },
      { policy: 'p', rule: 'deny-1', outcome: 'deny' },
      { policy: 'p', rule: 'deny-2', outcome: 'deny' },
      { policy: 'p', rule: 'allow-2', outcome: 'allow' },
    ]);
    expect(r.decisive).toEqual({ policy: 'p', rule: 'deny-1' });
  });

  it('always returns the most severe fired outcome (property)', () => {
    fc.assert(
      fc.property(fc.subarray(IDS, { minLength: 1 }), (fire) => {
        const r = evaluatePolicy(FOUR, 'login', activation(fire));
        const severest = Math.max(...fire.map((id) => OUTCOME_SEVERITY[OUTCOME_OF[id]!]));
        expect(OUTCOME_SEVERITY[r.outcome]).toBe(severest);
        expect(r.rules.map((x) => x.rule)).toEqual(IDS.filter((id) => fire.includes(id)));
        expect(r.decisive?.rule).toBe(IDS.find((id) => fire.includes(id) && OUTCOME_OF[id] === r.outcome));
        expect(r.fallback).toBeUndefined();
      }),
    );
  });

  it('orders rules across files by path', () => {
    const b = bundle(
      ['b.yaml', lines('policy: second', 'rules:', ...rule('x', 'deny'))],
      ['a.yaml', lines('policy: first', 'rules:', ...rule('y', 'deny'))],
    );
    const r = evaluatePolicy(b, 'login', activation(['x', 'y']));
    expect(r.rules.map((x) => `${x.policy}/${x.rule}`)).toEqual(['first/y', 'second/x']);
    expect(r.decisive).toEqual({ policy: 'first', rule: 'y' });
  });

  it('only applies a policy to its event types', () => {
    const b = bundle(['a.yaml', lines('policy: p', 'events: [transaction]', 'rules:', ...rule('x', 'deny'))]);
    expect(evaluatePolicy(b, 'transaction', activation(['x'])).outcome).toBe('deny');
    expect(evaluatePolicy(b, 'login', activation(['x']))).toEqual({ outcome: 'allow', rules: [] });
  });
});

describe('evaluatePolicy: defaults and routes', () => {
  const B = bundle(
    [
      'p.yaml',
      lines(
        'policy: p',
        'rules:',
        ...rule('review-default-route', 'review'),
        ...rule('challenge-bare', 'challenge'),
        ...rule('review-own-route', 'review', ['route: r-rule']),
      ),
    ],
    ['routes.yaml', ROUTES],
    ['settings.yaml', SETTINGS],
  );

  it('uses default_route for a review rule that names none', () => {
    const r = evaluatePolicy(B, 'login', activation(['review-default-route']));
    expect(r.outcome).toBe('review');
    expect(r.route?.name).toBe('r-default');
  });

  it('gives a challenge rule without parameters empty acr_values', () => {
    const r = evaluatePolicy(B, 'login', activation(['challenge-bare']));
    expect(r.challenge).toEqual({ acr_values: [] });
  });

  it('applies the default outcome per event type when no rule fires', () => {
    expect(evaluatePolicy(B, 'login', activation([]))).toEqual({ outcome: 'allow', rules: [] });
    const tx = evaluatePolicy(B, 'transaction', activation([]));
    expect(tx.outcome).toBe('review');
    expect(tx.route?.name).toBe('r-default');
    expect(tx.decisive).toBeUndefined();
    const mfa = evaluatePolicy(B, 'mfa', activation([]));
    expect(mfa).toEqual({ outcome: 'challenge', rules: [], challenge: { acr_values: [] } });
  });

  it('falls back to the default outcome when only false conditions ran', () => {
    const r = evaluatePolicy(B, 'access.request', activation(['nothing-matches']));
    expect(r).toEqual({ outcome: 'allow', rules: [] });
  });
});

describe('evaluatePolicy: failures', () => {
  const B = bundle(
    [
      'p.yaml',
      lines(
        'policy: p',
        'rules:',
        '  - id: broken',
        '    when: event.missing == 1',
        '    outcome: allow',
        '  - id: not-boolean',
        '    when: event.flag',
        '    outcome: deny',
        ...rule('deny-1', 'deny'),
        ...rule('review-1', 'review', ['route: r-rule']),
        ...rule('challenge-1', 'challenge'),
      ),
    ],
    ['routes.yaml', ROUTES],
    ['settings.yaml', SETTINGS],
  );
  const withFlag = (fire: string[], flag: unknown = false) => activation(fire, { missing: 0, flag });
  /** event.missing is absent, so the "broken" rule throws "No such key". */
  const broken = (fire: string[]) => activation(fire, { flag: false });

  it('applies the review fallback with the fallback route when a condition throws', () => {
    const r = evaluatePolicy(B, 'login', broken([]));
    expect(r.outcome).toBe('review');
    expect(r.route?.name).toBe('r-fallback');
    expect(r.decisive).toBeUndefined();
    expect(r.fallback?.outcome).toBe('review');
    expect(r.fallback?.reason).toBe('1 condition(s) failed to evaluate; the login fallback applies');
    expect(r.fallback?.errors).toHaveLength(1);
    expect(r.fallback?.errors?.[0]).toMatchObject({ policy: 'p', rule: 'broken' });
    expect(r.fallback?.errors?.[0]!.message).toContain('missing');
  });

  it('applies the deny fallback for other event types, without a route', () => {
    const r = evaluatePolicy(B, 'transaction', broken([]));
    expect(r.outcome).toBe('deny');
    expect(r.route).toBeUndefined();
    expect(r.fallback?.outcome).toBe('deny');
    expect(r.fallback?.reason).toBe('1 condition(s) failed to evaluate; the transaction fallback applies');
  });

  it('counts a non-boolean result as a failure', () => {
    const r = evaluatePolicy(B, 'transaction', withFlag([], 'yes'));
    expect(r.outcome).toBe('deny');
    expect(r.rules).toEqual([]); // "not-boolean" did not fire even though its outcome is deny
    expect(r.fallback?.errors).toEqual([{ policy: 'p', rule: 'not-boolean', message: 'condition returned string, not a boolean' }]);
  });

  it('evaluates cleanly when every condition is a boolean', () => {
    const r = evaluatePolicy(B, 'transaction', withFlag(['challenge-1']));
    expect(r.fallback).toBeUndefined();
    expect(r.outcome).toBe('challenge');
  });

  it('keeps a fired rule stricter than the fallback, with the fallback recorded', () => {
    const r = evaluatePolicy(B, 'login', broken(['deny-1', 'challenge-1']));
    expect(r.outcome).toBe('deny');
    expect(r.decisive).toEqual({ policy: 'p', rule: 'deny-1' });
    expect(r.fallback?.outcome).toBe('review');
    expect(r.route).toBeUndefined();
    expect(r.rules.map((x) => x.rule)).toEqual(['deny-1', 'challenge-1']);
  });

  it('keeps a fired rule as strict as the fallback with its own route', () => {
    const r = evaluatePolicy(B, 'login', broken(['review-1']));
    expect(r.outcome).toBe('review');
    expect(r.route?.name).toBe('r-rule');
    expect(r.decisive).toEqual({ policy: 'p', rule: 'review-1' });
    expect(r.fallback?.outcome).toBe('review');
  });

  it('overrides a fired rule less strict than the fallback', () => {
    const r = evaluatePolicy(B, 'login', broken(['challenge-1']));
    expect(r.outcome).toBe('review');
    expect(r.route?.name).toBe('r-fallback');
    expect(r.decisive).toBeUndefined();
    expect(r.challenge).toBeUndefined();
    expect(r.rules).toEqual([{ policy: 'p', rule: 'challenge-1', outcome: 'challenge' }]);
  });

  it('counts every failure', () => {
    const r = evaluatePolicy(B, 'mfa', activation([], { flag: 3 }));
    expect(r.fallback?.errors?.map((e) => e.rule)).toEqual(['broken', 'not-boolean']);
    expect(r.fallback?.reason).toBe('2 condition(s) failed to evaluate; the mfa fallback applies');
  });

  it('uses default_route for a review fallback when there is no fallback_route', () => {
    const b = bundle(
      ['p.yaml', lines('policy: p', 'rules:', '  - id: broken', '    when: event.missing == 1', '    outcome: deny')],
      ['routes.yaml', ROUTES],
      ['settings.yaml', lines('settings:', '  fallback: review', '  default_route: r-default')],
    );
    const r = evaluatePolicy(b, 'login', activation([]));
    expect(r.outcome).toBe('review');
    expect(r.route?.name).toBe('r-default');
  });
});

describe('fallbackResult and fallbackOutcome', () => {
  const B = bundle(['routes.yaml', ROUTES], ['settings.yaml', SETTINGS]);

  it('returns the event type fallback with its route and the reason', () => {
    expect(fallbackResult(B, 'login', 'risk model failed')).toEqual({
      outcome: 'review',
      rules: [],
      fallback: { outcome: 'review', reason: 'risk model failed' },
      route: B.routes.get('r-fallback'),
    });
    expect(fallbackResult(B, 'transaction', 'risk model failed')).toEqual({
      outcome: 'deny',
      rules: [],
      fallback: { outcome: 'deny', reason: 'risk model failed' },
    });
  });

  it('uses the default fallback for unlisted types', () => {
    expect(fallbackOutcome(B.settings, 'login')).toBe('review');
    expect(fallbackOutcome(B.settings, 'agent.action')).toBe('deny');
  });

  it('defaults to deny without any settings', () => {
    const empty = bundle(['p.yaml', lines('policy: p', 'rules: []')]);
    expect(fallbackResult(empty, 'login', 'x').outcome).toBe('deny');
    expect(evaluatePolicy(empty, 'login', activation([])).outcome).toBe('allow');
  });

  it('never falls back to allow', () => {
    for (const type of ['login', 'mfa', 'transaction', 'role.change', 'access.request', 'agent.action', 'session.signal'] as const) {
      expect(OUTCOMES).toContain(fallbackResult(B, type, 'x').outcome);
      expect(fallbackResult(B, type, 'x').outcome).not.toBe('allow');
    }
  });
});
