import { describe, it, expect } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { isMap, isScalar, parseDocument, type Scalar } from 'yaml';
import { loadBundle, sha256Hex, sourceOffset, type PolicySource } from '../../src/core/policy/load.js';
import type { PolicyError } from '../../src/core/policy/types.js';

const BUNDLE_DIR = fileURLToPath(new URL('../../policies/default/', import.meta.url));

function shipped(): PolicySource[] {
  return readdirSync(BUNDLE_DIR)
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => ({ path: f, content: readFileSync(BUNDLE_DIR + f, 'utf8') }));
}

function errorsOf(...sources: Array<[string, string]>): PolicyError[] {
  const r = loadBundle(sources.map(([path, content]) => ({ path, content })));
  if (r.ok) throw new Error('expected the bundle to be rejected');
  return r.errors;
}

function bundleOf(...sources: Array<[string, string]>) {
  const r = loadBundle(sources.map(([path, content]) => ({ path, content })));
  if (!r.ok) throw new Error(`expected the bundle to load: ${JSON.stringify(r.errors)}`);
  return r.bundle;
}

const lines = (...l: string[]) => l.join('\n') + '\n';

const ROUTE = lines('routes:', '  security-review:', '    reviewers:', '      roles: [security_analyst]', '    timeout: 30m');

describe('loadBundle: the shipped bundle', () => {
  it('loads without errors', () => {
    const r = loadBundle(shipped());
    expect(r.ok ? [] : r.errors).toEqual([]);
  });

  it('has the documented policies, routes and settings', () => {
    const b = bundleOf(...shipped().map((s): [string, string] => [s.path, s.content]));
    expect(b.policies.map((p) => p.name).sort()).toEqual(['access', 'agents', 'authentication', 'sessions', 'transactions']);
    expect([...b.routes.keys()].sort()).toEqual(['fraud-review', 'iam-approval', 'manager-approval', 'privileged-change', 'security-review']);
    expect(b.settings.default_outcome).toEqual({ default: 'allow' });
    expect(b.settings.fallback).toEqual({ default: 'deny', login: 'review', mfa: 'deny', transaction: 'review', 'access.request': 'review' });
    expect(b.settings.fallback_route).toBe('security-review');
    const security = b.routes.get('security-review')!;
    // 30m = 1800 s, 10m = 600 s, 15m = 900 s
    expect(security.timeout).toBe(1800);
    expect(security.warn_before).toBe(600);
    expect(security.assurance).toEqual({ acr_values: ['urn:loopgate:acr:aal2', 'urn:loopgate:acr:aal3'], max_age: 900 });
    expect(b.routes.get('privileged-change')).toMatchObject({ quorum: 2, distinct_roles: true, timeout: 4 * 3600 });
    expect(b.routes.get('fraud-review')!.escalate_to).toEqual({ roles: ['security_analyst'], timeout: 3600 });
    // a single acr string is a list of one
    expect(b.routes.get('iam-approval')!.assurance?.acr_values).toEqual(['urn:loopgate:acr:aal3']);
  });

  it('indexes rules by event type in bundle order', () => {
    const b = bundleOf(...shipped().map((s): [string, string] => [s.path, s.content]));
    expect(b.rulesByType.get('login')!.map((r) => r.rule.id)).toEqual([
      'deny-failed-credential',
      'deny-critical',
      'review-high-risk-login',
      'step-up-medium-risk-login',
      'step-up-new-country',
      'deny-failed-mfa-burst',
    ]);
    expect(b.rulesByType.get('transaction')!.every((r) => r.policy === 'transactions')).toBe(true);
    expect(b.rulesByType.get('role.change')!.map((r) => r.policy)).toEqual(['access', 'access', 'access', 'access']);
  });
});

describe('loadBundle: errors with file, line and column', () => {
  it('reports a YAML syntax error where the parser found it', () => {
    // line 1 "policy: p: q": the nested mapping starts after "policy: " (8 chars) → column 9
    const errors = errorsOf(['a.yaml', 'policy: p: q\n']);
    expect(errors[0]).toMatchObject({ file: 'a.yaml', line: 1, column: 9 });
    expect(errors[0]!.message).toMatch(/nested mappings/i);
  });

  it('reports tabs used as indentation', () => {
    const errors = errorsOf(['a.yaml', lines('policy: p', 'rules:', '\t- id: a')]);
    expect(errors).toEqual([{ file: 'a.yaml', line: 3, column: 1, message: 'Tabs are not allowed as indentation' }]);
  });

  it('reports an unknown key with a suggestion', () => {
    const yaml = lines(
      'policy: p', //
      'rules:',
      '  - id: a',
      '    whne: risk.score > 0.5', // line 4, key at column 5
      '    when: risk.score > 0.5',
      '    outcome: deny',
    );
    expect(errorsOf(['p.yaml', yaml])).toEqual([
      {
        file: 'p.yaml',
        line: 4,
        column: 5,
        message: 'unknown key "whne"; expected one of: id, description, when, outcome, challenge, route (did you mean "when"?)',
      },
    ]);
  });

  it('reports an unknown top-level key with a suggestion', () => {
    const errors = errorsOf(['p.yaml', lines('policy: p', 'rulez: []')]);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ file: 'p.yaml', line: 2, column: 1 });
    expect(errors[0]!.message).toContain('(did you mean "rules"?)');
  });

  it('places a CEL syntax error in a plain scalar', () => {
    // "    when: " is 10 characters, so the expression starts at column 11;
    // ")" is at offset 20 of "risk.score > 0.5 && )" → column 31
    const yaml = lines('policy: p', 'rules:', '  - id: a', '    when: risk.score > 0.5 && )', '    outcome: deny');
    const errors = errorsOf(['p.yaml', yaml]);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ file: 'p.yaml', line: 4, column: 31 });
    expect(errors[0]!.message).toMatch(/^condition: /);
  });

  it('places a CEL syntax error in a double-quoted scalar', () => {
    // the quote is at column 11, the value starts at 12; ")" at offset 20 → column 32
    const yaml = lines('policy: p', 'rules:', '  - id: a', '    when: "risk.score > 0.5 && )"', '    outcome: deny');
    expect(errorsOf(['p.yaml', yaml])[0]).toMatchObject({ file: 'p.yaml', line: 4, column: 32 });
  });

  it('places a CEL syntax error in a single-quoted scalar', () => {
    // value starts at column 12; ")" at offset 25 of 'event.type == "login" && )' → column 37
    const yaml = lines('policy: p', 'rules:', '  - id: a', `    when: 'event.type == "login" && )'`, '    outcome: deny');
    expect(errorsOf(['p.yaml', yaml])[0]).toMatchObject({ file: 'p.yaml', line: 4, column: 37 });
  });

  it('places a CEL syntax error on the right line of a block literal', () => {
    // line 6 is "      risk.level == )": 6 spaces of indentation + "risk.level == " (14) → ")" at column 21
    const yaml = lines(
      'policy: p',
      'rules:',
      '  - id: a',
      '    when: |',
      '      risk.score > 0.5 &&',
      '      risk.level == )',
      '    outcome: deny',
    );
    expect(errorsOf(['p.yaml', yaml])[0]).toMatchObject({ file: 'p.yaml', line: 6, column: 21 });
  });

  it('places a CEL syntax error on the first line of a block literal', () => {
    // line 5 "      ) && true": ")" after 6 spaces → column 7
    const yaml = lines('policy: p', 'rules:', '  - id: a', '    when: |', '      ) && true', '    outcome: deny');
    expect(errorsOf(['p.yaml', yaml])[0]).toMatchObject({ file: 'p.yaml', line: 5, column: 7 });
  });

  it('places a CEL syntax error in a folded block without blank lines', () => {
    const yaml = lines(
      'policy: p',
      'rules:',
      '  - id: a',
      '    when: >-',
      '      risk.score > 0.5 &&',
      '      risk.level == )',
      '    outcome: deny',
    );
    expect(errorsOf(['p.yaml', yaml])[0]).toMatchObject({ file: 'p.yaml', line: 6, column: 21 });
  });

  it('catches risk.scroe with the typed check environment, at the misspelt key', () => {
    // "risk." is 5 characters: "scroe" starts at offset 5 → column 11 + 5 = 16
    const yaml = lines('policy: p', 'rules:', '  - id: a', '    when: risk.scroe > 0.5', '    outcome: deny');
    const errors = errorsOf(['p.yaml', yaml]);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ file: 'p.yaml', line: 4, column: 16 });
    expect(errors[0]!.message).toContain('scroe');
  });

  it('rejects a condition that is not a boolean', () => {
    const yaml = lines('policy: p', 'rules:', '  - id: a', '    when: risk.score', '    outcome: deny');
    expect(errorsOf(['p.yaml', yaml])).toEqual([
      { file: 'p.yaml', line: 4, column: 11, message: 'condition: the condition must be a boolean, but it is of type double' },
    ]);
  });

  it('reports a review rule naming an undefined route, at the route value, with a suggestion', () => {
    // "    route: " is 11 characters → column 12
    const yaml = lines(
      'policy: p',
      'rules:',
      '  - id: a',
      '    when: risk.score > 0.5',
      '    outcome: review',
      '    route: secutiry-review',
    );
    expect(errorsOf(['p.yaml', yaml], ['r.yaml', ROUTE])).toEqual([
      {
        file: 'p.yaml',
        line: 6,
        column: 12,
        message: 'route "secutiry-review" is not defined in this bundle (did you mean "security-review"?)',
      },
    ]);
  });

  it('reports a review rule with no route and no default_route at its outcome', () => {
    // "    outcome: " is 13 characters → column 14
    const yaml = lines('policy: p', 'rules:', '  - id: a', '    when: risk.score > 0.5', '    outcome: review');
    expect(errorsOf(['p.yaml', yaml])).toEqual([
      { file: 'p.yaml', line: 5, column: 14, message: 'a review rule needs a "route", or the bundle settings need a "default_route"' },
    ]);
  });

  it('reports duplicate rule ids at the second id', () => {
    // line 6 "  - id: a": "  - id: " is 8 characters → column 9
    const yaml = lines(
      'policy: p',
      'rules:',
      '  - id: a',
      '    when: risk.score > 0.5',
      '    outcome: deny',
      '  - id: a',
      '    when: risk.score > 0.9',
      '    outcome: deny',
    );
    expect(errorsOf(['p.yaml', yaml])).toEqual([{ file: 'p.yaml', line: 6, column: 9, message: 'rule id "a" is used twice in policy p' }]);
  });

  it('reports on_timeout: escalate without escalate_to at the on_timeout value', () => {
    // "    on_timeout: " is 16 characters → column 17
    const yaml = lines('routes:', '  r1:', '    reviewers:', '      roles: [x]', '    timeout: 1h', '    on_timeout: escalate');
    expect(errorsOf(['r.yaml', yaml])).toEqual([
      { file: 'r.yaml', line: 6, column: 17, message: 'on_timeout: escalate needs "escalate_to" (the roles to escalate to)' },
    ]);
  });

  it('reports distinct_roles with fewer roles than the quorum at the route name', () => {
    const yaml = lines('routes:', '  r1:', '    reviewers:', '      roles: [x]', '    timeout: 1h', '    quorum: 2', '    distinct_roles: true');
    expect(errorsOf(['r.yaml', yaml])).toEqual([
      { file: 'r.yaml', line: 2, column: 3, message: 'route "r1" asks for 2 approvers from distinct roles but lists only 1 role(s)' },
    ]);
  });

  it('rejects a fallback of allow, as a scalar and per event type', () => {
    // "  fallback: " is 12 characters → column 13
    expect(errorsOf(['s.yaml', lines('settings:', '  fallback: allow')])).toEqual([
      { file: 's.yaml', line: 2, column: 13, message: 'fallback must be one of: deny, review' },
    ]);
    // "    login: " is 11 characters → column 12
    expect(errorsOf(['s.yaml', lines('settings:', '  fallback:', '    default: deny', '    login: allow')])).toEqual([
      { file: 's.yaml', line: 4, column: 12, message: 'fallback for login must be one of: deny, review' },
    ]);
  });

  it('reports settings defined twice in the later file', () => {
    const errors = errorsOf(['b.yaml', lines('settings:', '  default_outcome: deny')], ['a.yaml', lines('settings:', '  default_outcome: allow')]);
    expect(errors).toEqual([
      { file: 'b.yaml', line: 1, column: 1, message: 'settings are defined twice (also in a.yaml); a bundle has one settings block' },
    ]);
  });

  it('reports a missing field without hiding the errors of the other fields', () => {
    // rule at line 3 has no id; its condition has a CEL error at offset 20 → column 11 + 20 = 31
    const yaml = lines('policy: p', 'rules:', '  - when: risk.score > 0.5 && )', '    outcome: deny');
    const errors = errorsOf(['p.yaml', yaml]);
    expect(errors.map((e) => [e.line, e.column])).toEqual([
      [3, 5],
      [3, 31],
    ]);
    expect(errors[0]!.message).toBe('"id" is required');
    expect(errors[1]!.message).toMatch(/^condition: /);
  });

  it('sorts errors by file, line and column and reports them all', () => {
    const errors = errorsOf(
      ['b.yaml', lines('policy: q', 'rules:', '  - id: x', '    when: risk.scroe > 1.0', '    outcome: deny')],
      ['a.yaml', lines('policy: p', 'rulez: []', 'descripton: x')],
    );
    expect(errors.map((e) => `${e.file}:${e.line}:${e.column}`)).toEqual(['a.yaml:2:1', 'a.yaml:3:1', 'b.yaml:4:16']);
  });
});

describe('loadBundle: version', () => {
  const A: [string, string] = ['a.yaml', lines('policy: p', 'rules:', '  - id: a', '    when: risk.score > 0.5', '    outcome: deny')];
  const B: [string, string] = ['b.yaml', lines('policy: q', 'rules:', '  - id: b', '    when: risk.score > 0.7', '    outcome: deny')];

  it('is the hash of every path and file hash, in path order', () => {
    const b = bundleOf(B, A);
    const expected = sha256Hex(`a.yaml\n${sha256Hex(A[1])}\nb.yaml\n${sha256Hex(B[1])}\n`);
    expect(b.version).toBe(expected);
    expect(b.files).toEqual([
      { path: 'a.yaml', version: sha256Hex(A[1]) },
      { path: 'b.yaml', version: sha256Hex(B[1]) },
    ]);
    expect(b.policies.map((p) => [p.name, p.version])).toEqual([
      ['p', sha256Hex(A[1])],
      ['q', sha256Hex(B[1])],
    ]);
  });

  it('does not depend on the order of the sources', () => {
    expect(bundleOf(A, B).version).toBe(bundleOf(B, A).version);
  });

  it('changes when one byte changes', () => {
    const changed: [string, string] = [B[0], B[1].replace('0.7', '0.8')];
    expect(bundleOf(A, changed).version).not.toBe(bundleOf(A, B).version);
  });

  it('changes when a file is renamed', () => {
    expect(bundleOf(A, ['c.yaml', B[1]]).version).not.toBe(bundleOf(A, B).version);
  });
});

describe('sourceOffset', () => {
  /** The scalar value of `key` in a one-level YAML map. */
  function scalarAt(src: string, key: string): Scalar {
    const doc = parseDocument(src);
    if (!isMap(doc.contents)) throw new Error('not a map');
    const node = doc.contents.get(key, true);
    if (!isScalar(node)) throw new Error('not a scalar');
    return node as Scalar;
  }

  /** Every non-blank character of the value maps to the same character in the source. */
  function expectExactMapping(src: string, key: string, type: Scalar['type']): void {
    const scalar = scalarAt(src, key);
    expect(scalar.type).toBe(type);
    const value = String(scalar.value);
    for (let i = 0; i < value.length; i++) {
      if (/\s/.test(value[i]!)) continue;
      expect(src[sourceOffset(scalar, i, src)], `offset ${i} of ${JSON.stringify(value)}`).toBe(value[i]);
    }
  }

  it('maps a plain scalar from its start', () => {
    const src = 'when: a && b\n';
    // the value starts at offset 6; offset 5 of the value ("b"... "a && b": index 5) → 11
    expect(sourceOffset(scalarAt(src, 'when'), 5, src)).toBe(11);
    expectExactMapping(src, 'when', 'PLAIN');
  });

  it('skips the opening quote of a double-quoted scalar', () => {
    const src = 'when: "a && b"\n';
    // the quote is at 6, the value at 7: offset 5 → 12
    expect(sourceOffset(scalarAt(src, 'when'), 5, src)).toBe(12);
    expectExactMapping(src, 'when', 'QUOTE_DOUBLE');
  });

  it('skips the opening quote of a single-quoted scalar', () => {
    const src = "when: 'x == \"y\"'\n";
    expectExactMapping(src, 'when', 'QUOTE_SINGLE');
  });

  it('maps a block literal line by line, without the header and indentation', () => {
    const src = 'when: |\n  first &&\n    indented\n  last\nnext: 1\n';
    // value "first &&\n  indented\nlast\n": "last" at offset 9 + 11 = 20;
    // source: "when: |\n" is 8, "  first &&\n" 11, "    indented\n" 13 → its line starts at 32, plus 2 spaces → 34
    expect(sourceOffset(scalarAt(src, 'when'), 20, src)).toBe(34);
    expectExactMapping(src, 'when', 'BLOCK_LITERAL');
  });

  it('maps a folded block without blank lines', () => {
    const src = 'when: >-\n  first &&\n  second\nnext: 1\n';
    expectExactMapping(src, 'when', 'BLOCK_FOLDED');
  });
});

describe('error positions in every YAML scalar style', () => {
  // Each condition ends in a stray `)`; the error must point at that exact character.
  const cases: Record<string, string> = {
    'double-quoted with escapes': 'policy: p\nrules:\n  - id: a\n    when: "event.type == \\"login\\" && )"\n    outcome: deny\n',
    'plain over two lines': 'policy: p\nrules:\n  - id: a\n    when: risk.score > 0.5 &&\n      risk.level == )\n    outcome: deny\n',
    'folded with a blank line': 'policy: p\nrules:\n  - id: a\n    when: >-\n      risk.score > 0.5 &&\n\n      risk.level == )\n    outcome: deny\n',
    'literal, more indented': 'policy: p\nrules:\n  - id: a\n    when: |\n      risk.score > 0.5 &&\n        risk.level == )\n    outcome: deny\n',
    'single-quoted with a doubled quote': "policy: p\nrules:\n  - id: a\n    when: 'event.type == ''x'' && )'\n    outcome: deny\n",
    'plain on one line': 'policy: p\nrules:\n  - id: a\n    when: risk.level == )\n    outcome: deny\n',
  };
  for (const [name, content] of Object.entries(cases)) {
    it(name, () => {
      const r = loadBundle([{ path: 'x.yaml', content }]);
      expect(r.ok).toBe(false);
      if (r.ok) return;
      expect(r.errors).toHaveLength(1);
      const e = r.errors[0]!;
      expect(content.split('\n')[e.line - 1]![e.column - 1]).toBe(')');
      expect(e.message).toMatch(/^condition: Unexpected token/);
    });
  }
});

describe('an invalid route', () => {
  it('is reported once, not again by the rules that name it', () => {
    const content = [
      'routes:',
      '  fraud-desk:',
      '    reviewers: { roles: [fraud_analyst] }',
      '    timeout: 2 hours',
      'policy: p',
      'rules:',
      '  - id: r',
      '    when: "true"',
      '    outcome: review',
      '    route: fraud-desk',
      '',
    ].join('\n');
    const r = loadBundle([{ path: 'b.yaml', content }]);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors.map((e) => `${e.line}:${e.column} ${e.message}`)).toEqual([
      '4:14 timeout must be a duration such as 300, "90s", "30m", "4h" or "2d"',
    ]);
  });
});
