/**
 * Loads a policy bundle from file contents (reading the files is the caller's job): parses the YAML, checks the
 * structure, type-checks every CEL expression, resolves route references, and compiles the conditions. Every
 * problem is reported with its file, line and column; a bundle with any problem is not returned.
 */
import { createHash } from 'node:crypto';
import {
  LineCounter,
  isMap,
  isScalar,
  isSeq,
  parseAllDocuments,
  type Node,
  type Scalar,
} from 'yaml';
import { EVENT_TYPES, isEventType, type EventType } from '../events/schema.js';
import { checkExpression, ruleCheckEnv, ruleRuntimeEnv, scopeEnv } from './cel.js';
import { parseDuration } from './duration.js';
import {
  OUTCOMES,
  type BundleSettings,
  type Challenge,
  type FallbackOutcome,
  type PolicyBundle,
  type PolicyDocument,
  type PolicyError,
  type Route,
  type Rule,
} from './types.js';

export interface PolicySource {
  /** Path relative to the bundle directory, with forward slashes. */
  path: string;
  content: string;
}

export interface CompiledRule {
  policy: string;
  rule: Rule;
  /** Evaluates the condition; throws on a CEL run-time error. */
  evaluate: (activation: Record<string, unknown>) => unknown;
}

export interface CompiledBundle extends PolicyBundle {
  sources: PolicySource[];
  /** Rules that apply to each event type, in bundle order (file path, then position in the file). */
  rulesByType: Map<EventType, CompiledRule[]>;
}

export type LoadResult = { ok: true; bundle: CompiledBundle } | { ok: false; errors: PolicyError[] };

export function sha256Hex(data: string): string {
  return createHash('sha256').update(data, 'utf8').digest('hex');
}

const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;

export function loadBundle(sources: PolicySource[]): LoadResult {
  const errors: PolicyError[] = [];
  const sorted = [...sources].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const policies: Array<{ doc: PolicyDocument; ctx: FileContext; nameNode: Node; ruleNodes: Map<Rule, RuleNodes> }> = [];
  const routes = new Map<string, { route: Route; ctx: FileContext; node: Node }>();
  const invalidRoutes = new Set<string>();
  let settings: { value: BundleSettings; ctx: FileContext; node: Node; refs: SettingsRefs } | undefined;

  for (const source of sorted) {
    const ctx = new FileContext(source.path, source.content, errors);
    const version = sha256Hex(source.content);
    const docs = parseAllDocuments(source.content, { lineCounter: ctx.lc, uniqueKeys: true });
    const list = Array.isArray(docs) ? docs : [];
    for (const doc of list) {
      for (const e of doc.errors) {
        const pos = e.linePos?.[0];
        errors.push({ file: source.path, line: pos?.line ?? 1, column: pos?.col ?? 1, message: e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '') });
      }
      if (doc.errors.length > 0 || doc.contents === null) continue;
      const top = ctx.map(doc.contents, 'a policy document');
      if (top === undefined) continue;
      ctx.allowOnly(top, ['policy', 'description', 'events', 'rules', 'routes', 'settings']);

      if (top.has('routes')) {
        const routeMap = ctx.map(top.get('routes')!.value, 'routes (a map of route name to route)');
        for (const [name, entry] of routeMap ?? []) {
          if (!ID_PATTERN.test(name)) ctx.error(entry.key, `route name "${name}" must be letters, digits and _.:-`);
          if (routes.has(name)) {
            ctx.error(entry.key, `route "${name}" is defined twice (also in ${routes.get(name)!.ctx.file})`);
            continue;
          }
          const route = parseRoute(name, entry.value, ctx);
          // An invalid route is still known by name, so that rules naming it are not reported a second time.
          if (route !== undefined) routes.set(name, { route, ctx, node: entry.key });
          else invalidRoutes.add(name);
        }
      }

      if (top.has('settings')) {
        const entry = top.get('settings')!;
        if (settings !== undefined) {
          ctx.error(entry.key, `settings are defined twice (also in ${settings.ctx.file}); a bundle has one settings block`);
        } else {
          const parsed = parseSettings(entry.value, ctx);
          if (parsed !== undefined) settings = { value: parsed.settings, ctx, node: entry.key, refs: parsed.refs };
        }
      }

      const hasRules = top.has('rules');
      if (hasRules || top.has('policy')) {
        const nameEntry = top.get('policy');
        if (nameEntry === undefined) {
          ctx.error(top.get('rules')!.key, 'a document with rules needs a "policy" name');
          continue;
        }
        const name = ctx.string(nameEntry.value, 'policy name');
        if (name === undefined) continue;
        if (!ID_PATTERN.test(name)) ctx.error(nameEntry.value, `policy name "${name}" must be letters, digits and _.:-`);
        const events = top.has('events') ? parseEvents(top.get('events')!.value, ctx) : ['*' as const];
        const ruleNodes = new Map<Rule, RuleNodes>();
        const rules: Rule[] = [];
        if (hasRules) {
          const seq = ctx.seq(top.get('rules')!.value, 'rules (a list)');
          const ids = new Set<string>();
          for (const item of seq ?? []) {
            const parsed = parseRule(item, ctx);
            if (parsed === undefined) continue;
            if (ids.has(parsed.rule.id)) ctx.error(parsed.nodes.id, `rule id "${parsed.rule.id}" is used twice in policy ${name}`);
            ids.add(parsed.rule.id);
            rules.push(parsed.rule);
            ruleNodes.set(parsed.rule, parsed.nodes);
          }
        }
        const doc: PolicyDocument = { name, events: events ?? ['*'], rules, file: source.path, version };
        const description = top.get('description');
        if (description !== undefined) {
          const d = ctx.string(description.value, 'description');
          if (d !== undefined) doc.description = d;
        }
        const clash = policies.find((p) => p.doc.name === name);
        if (clash !== undefined) ctx.error(nameEntry.value, `policy "${name}" is defined twice (also in ${clash.ctx.file})`);
        policies.push({ doc, ctx, nameNode: nameEntry.value!, ruleNodes });
      }
    }
  }

  const resolvedSettings: BundleSettings = settings?.value ?? { default_outcome: { default: 'allow' }, fallback: { default: 'deny' } };

  // Cross-references: routes named by rules and settings must exist.
  const routeExists = (name: string | undefined) => name !== undefined && (routes.has(name) || invalidRoutes.has(name));
  for (const { doc, ctx, ruleNodes } of policies) {
    for (const rule of doc.rules) {
      const nodes = ruleNodes.get(rule)!;
      if (rule.outcome !== 'review') continue;
      if (rule.route !== undefined && !routeExists(rule.route)) {
        ctx.error(nodes.route ?? nodes.id, `route "${rule.route}" is not defined in this bundle${suggest(rule.route, [...routes.keys()])}`);
      }
      if (rule.route === undefined && !routeExists(resolvedSettings.default_route)) {
        ctx.error(nodes.outcome, 'a review rule needs a "route", or the bundle settings need a "default_route"');
      }
    }
  }
  if (settings !== undefined) {
    const { ctx, refs, value } = settings;
    for (const key of ['fallback_route', 'default_route'] as const) {
      const name = value[key];
      if (name !== undefined && !routeExists(name)) ctx.error(refs[key] ?? settings.node, `route "${name}" is not defined in this bundle`);
    }
    if (Object.values(value.default_outcome).includes('review') && !routeExists(value.default_route)) {
      ctx.error(settings.node, 'a "review" default_outcome needs a "default_route" in settings');
    }
    const usesReviewFallback = Object.values(value.fallback).includes('review');
    if (usesReviewFallback && !routeExists(value.fallback_route) && !routeExists(value.default_route)) {
      ctx.error(refs.fallback ?? settings.node, 'a "review" fallback needs a "fallback_route" (or "default_route") in settings');
    }
  }
  for (const { route, ctx, node } of routes.values()) {
    if (route.distinct_roles && route.reviewers.roles.length < route.quorum) {
      ctx.error(node, `route "${route.name}" asks for ${route.quorum} approvers from distinct roles but lists only ${route.reviewers.roles.length} role(s)`);
    }
  }

  if (errors.length > 0) return { ok: false, errors: sortErrors(errors) };

  const rulesByType = new Map<EventType, CompiledRule[]>(EVENT_TYPES.map((t) => [t, []]));
  for (const { doc } of policies) {
    for (const rule of doc.rules) {
      const compiled = ruleRuntimeEnv.parse(rule.when);
      const entry: CompiledRule = { policy: doc.name, rule, evaluate: (activation) => compiled(activation) };
      for (const type of EVENT_TYPES) {
        if (doc.events.includes('*') || doc.events.includes(type)) rulesByType.get(type)!.push(entry);
      }
    }
  }
  const files = sorted.map((s) => ({ path: s.path, version: sha256Hex(s.content) }));
  const version = sha256Hex(files.map((f) => `${f.path}\n${f.version}\n`).join(''));
  return {
    ok: true,
    bundle: {
      version,
      files,
      sources: sorted,
      policies: policies.map((p) => p.doc),
      routes: new Map([...routes].map(([k, v]) => [k, v.route])),
      settings: resolvedSettings,
      rulesByType,
    },
  };
}

// ---- pieces ----

interface RuleNodes {
  id: Node;
  outcome: Node;
  route?: Node;
}

interface SettingsRefs {
  fallback?: Node;
  fallback_route?: Node;
  default_route?: Node;
}

function parseEvents(node: Node | null, ctx: FileContext): Array<EventType | '*'> | undefined {
  const list = ctx.stringList(node, 'events');
  if (list === undefined) return undefined;
  const out: Array<EventType | '*'> = [];
  for (const [value, at] of list) {
    if (value === '*' || isEventType(value)) out.push(value);
    else ctx.error(at, `unknown event type "${value}"; known: ${EVENT_TYPES.join(', ')}, or "*"${suggest(value, [...EVENT_TYPES])}`);
  }
  return out;
}

function parseRule(node: Node, ctx: FileContext): { rule: Rule; nodes: RuleNodes } | undefined {
  const m = ctx.map(node, 'a rule');
  if (m === undefined) return undefined;
  ctx.allowOnly(m, ['id', 'description', 'when', 'outcome', 'challenge', 'route']);
  // Each field is checked on its own, so that one missing field does not hide the errors of the others.
  const idEntry = ctx.required(m, node, 'id');
  const whenEntry = ctx.required(m, node, 'when');
  const outcomeEntry = ctx.required(m, node, 'outcome');
  const id = idEntry === undefined ? undefined : ctx.string(idEntry.value, 'rule id');
  if (id !== undefined && !ID_PATTERN.test(id)) ctx.error(idEntry!.value, `rule id "${id}" must be letters, digits and _.:-`);
  const when = whenEntry === undefined ? undefined : ctx.expression(whenEntry.value, ruleCheckEnv, 'condition');
  const outcome = outcomeEntry === undefined ? undefined : ctx.oneOf(outcomeEntry.value, OUTCOMES, 'outcome');
  const description = m.get('description');
  const descriptionText = description === undefined ? undefined : ctx.string(description.value, 'description');
  const challenge = m.get('challenge');
  let challengeValue: Challenge | undefined;
  if (challenge !== undefined) {
    if (outcome !== undefined && outcome !== 'challenge') ctx.error(challenge.key, '"challenge" only applies to outcome: challenge');
    challengeValue = parseChallenge(challenge.value, ctx);
  }
  const route = m.get('route');
  const routeName = route === undefined ? undefined : ctx.string(route.value, 'route');
  if (route !== undefined && outcome !== undefined && outcome !== 'review') ctx.error(route.key, '"route" only applies to outcome: review');
  if (id === undefined || when === undefined || outcome === undefined) return undefined;

  const rule: Rule = { id, when, outcome };
  const nodes: RuleNodes = { id: idEntry!.value!, outcome: outcomeEntry!.value! };
  if (descriptionText !== undefined) rule.description = descriptionText;
  if (outcome === 'challenge') rule.challenge = challengeValue ?? { acr_values: [] };
  if (routeName !== undefined) {
    rule.route = routeName;
    nodes.route = route!.value!;
  }
  return { rule, nodes };
}

function parseChallenge(node: Node | null, ctx: FileContext): Challenge | undefined {
  const m = ctx.map(node, 'a challenge');
  if (m === undefined) return undefined;
  ctx.allowOnly(m, ['acr_values', 'max_age']);
  const out: Challenge = { acr_values: [] };
  const acr = m.get('acr_values');
  if (acr !== undefined) out.acr_values = (ctx.stringList(acr.value, 'acr_values') ?? []).map(([v]) => v);
  const maxAge = m.get('max_age');
  if (maxAge !== undefined) {
    const s = ctx.duration(maxAge.value, 'max_age');
    if (s !== undefined) out.max_age = s;
  }
  return out;
}

function parseRoute(name: string, node: Node | null, ctx: FileContext): Route | undefined {
  const m = ctx.map(node, `route ${name}`);
  if (m === undefined) return undefined;
  ctx.allowOnly(m, ['reviewers', 'quorum', 'distinct_roles', 'assurance', 'timeout', 'warn_before', 'on_timeout', 'escalate_to']);
  // Every key is checked even when an earlier one is wrong, so that one run reports every problem.
  const reviewersEntry = ctx.required(m, node!, 'reviewers');
  const timeoutEntry = ctx.required(m, node!, 'timeout');
  const reviewers = reviewersEntry === undefined ? undefined : parseReviewers(reviewersEntry.value, ctx);
  const timeout = timeoutEntry === undefined ? undefined : ctx.duration(timeoutEntry.value, 'timeout');
  if (timeout === 0) ctx.error(timeoutEntry!.value, 'timeout must be longer than 0');
  const route: Route = { name, reviewers: reviewers ?? { roles: [] }, quorum: 1, distinct_roles: false, timeout: timeout ?? 0, on_timeout: 'deny' };
  const quorum = m.get('quorum');
  if (quorum !== undefined) {
    const q = ctx.integer(quorum.value, 'quorum', 1, 25);
    if (q !== undefined) route.quorum = q;
  }
  const distinct = m.get('distinct_roles');
  if (distinct !== undefined) {
    const d = ctx.boolean(distinct.value, 'distinct_roles');
    if (d !== undefined) route.distinct_roles = d;
  }
  const assurance = m.get('assurance');
  if (assurance !== undefined) {
    const a = ctx.map(assurance.value, 'assurance');
    if (a !== undefined) {
      ctx.allowOnly(a, ['acr', 'max_age']);
      const acr = a.get('acr');
      const maxAge = a.get('max_age');
      const value: NonNullable<Route['assurance']> = { acr_values: [] };
      if (acr !== undefined) value.acr_values = (ctx.stringList(acr.value, 'acr') ?? []).map(([v]) => v);
      if (maxAge !== undefined) {
        const s = ctx.duration(maxAge.value, 'max_age');
        if (s !== undefined) value.max_age = s;
      }
      if (acr === undefined && maxAge === undefined) ctx.error(assurance.key, 'assurance needs "acr", "max_age" or both');
      route.assurance = value;
    }
  }
  const warn = m.get('warn_before');
  if (warn !== undefined) {
    const w = ctx.duration(warn.value, 'warn_before');
    if (w !== undefined && timeout !== undefined && w >= timeout) ctx.error(warn.value, 'warn_before must be shorter than timeout');
    if (w !== undefined) route.warn_before = w;
  }
  const onTimeout = m.get('on_timeout');
  if (onTimeout !== undefined) {
    const o = ctx.oneOf(onTimeout.value, ['deny', 'allow', 'escalate'] as const, 'on_timeout');
    if (o !== undefined) route.on_timeout = o;
  }
  const escalate = m.get('escalate_to');
  if (escalate !== undefined) {
    const e = ctx.map(escalate.value, 'escalate_to');
    if (e !== undefined) {
      ctx.allowOnly(e, ['roles', 'timeout']);
      const rolesEntry = ctx.required(e, escalate.value!, 'roles');
      const roles = rolesEntry === undefined ? undefined : ctx.stringList(rolesEntry.value, 'roles');
      if (roles !== undefined) {
        route.escalate_to = { roles: roles.map(([v]) => v) };
        const t = e.get('timeout');
        if (t !== undefined) {
          const s = ctx.duration(t.value, 'timeout');
          if (s !== undefined) route.escalate_to.timeout = s;
        }
      }
    }
  }
  if (route.on_timeout === 'escalate' && escalate === undefined) {
    ctx.error(onTimeout!.value, 'on_timeout: escalate needs "escalate_to" (the roles to escalate to)');
  }
  return reviewers === undefined || timeout === undefined ? undefined : route;
}

function parseReviewers(node: Node | null, ctx: FileContext): Route['reviewers'] | undefined {
  const m = ctx.map(node, 'reviewers');
  if (m === undefined) return undefined;
  ctx.allowOnly(m, ['roles', 'scope']);
  const rolesEntry = ctx.required(m, node!, 'roles');
  if (rolesEntry === undefined) return undefined;
  const roles = ctx.stringList(rolesEntry.value, 'roles');
  if (roles === undefined) return undefined;
  if (roles.length === 0) ctx.error(rolesEntry.value, 'roles must name at least one role');
  const out: Route['reviewers'] = { roles: roles.map(([v]) => v) };
  const scope = m.get('scope');
  if (scope !== undefined) {
    const s = ctx.expression(scope.value, scopeEnv, 'scope');
    if (s !== undefined) out.scope = s;
  }
  return out;
}

function parseSettings(node: Node | null, ctx: FileContext): { settings: BundleSettings; refs: SettingsRefs } | undefined {
  const m = ctx.map(node, 'settings');
  if (m === undefined) return undefined;
  ctx.allowOnly(m, ['default_outcome', 'fallback', 'fallback_route', 'default_route']);
  const settings: BundleSettings = { default_outcome: { default: 'allow' }, fallback: { default: 'deny' } };
  const refs: SettingsRefs = {};
  const byType = <T extends string>(n: Node | null, allowed: readonly T[], what: string): (Partial<Record<EventType, T>> & { default: T }) | undefined => {
    if (isScalar(n)) {
      const v = ctx.oneOf(n, allowed, what);
      return v === undefined ? undefined : { default: v };
    }
    const mm = ctx.map(n, `${what} (an outcome, or a map of event type to outcome with a "default")`);
    if (mm === undefined) return undefined;
    const out: Partial<Record<EventType | 'default', T>> = {};
    for (const [key, entry] of mm) {
      if (key !== 'default' && !isEventType(key)) {
        ctx.error(entry.key, `unknown event type "${key}"${suggest(key, [...EVENT_TYPES])}`);
        continue;
      }
      const v = ctx.oneOf(entry.value, allowed, `${what} for ${key}`);
      if (v !== undefined) out[key] = v;
    }
    if (out.default === undefined) {
      ctx.error(n!, `${what} needs a "default"`);
      return undefined;
    }
    return out as Partial<Record<EventType, T>> & { default: T };
  };
  const dOut = m.get('default_outcome');
  if (dOut !== undefined) {
    const v = byType(dOut.value, OUTCOMES, 'default_outcome');
    if (v !== undefined) settings.default_outcome = v;
  }
  const fb = m.get('fallback');
  if (fb !== undefined) {
    refs.fallback = fb.key;
    // Never allow: a failure must not turn into permission.
    const v = byType<FallbackOutcome>(fb.value, ['deny', 'review'], 'fallback');
    if (v !== undefined) settings.fallback = v;
  }
  for (const key of ['fallback_route', 'default_route'] as const) {
    const e = m.get(key);
    if (e === undefined) continue;
    const v = ctx.string(e.value, key);
    if (v !== undefined) {
      settings[key] = v;
      refs[key] = e.value!;
    }
  }
  return { settings, refs };
}

// ---- positions and typed reads ----

interface Entry {
  key: Node;
  value: Node | null;
}

class FileContext {
  readonly lc = new LineCounter();

  constructor(
    readonly file: string,
    readonly src: string,
    private readonly errors: PolicyError[],
  ) {}

  error(node: Node | null | undefined, message: string, offsetInSource?: number): void {
    const offset = offsetInSource ?? node?.range?.[0] ?? 0;
    const pos = this.lc.linePos(offset);
    this.errors.push({ file: this.file, line: pos.line, column: pos.col, message });
  }

  map(node: Node | null, what: string): Map<string, Entry> | undefined {
    if (!isMap(node)) {
      this.error(node, `expected ${what}`);
      return undefined;
    }
    const out = new Map<string, Entry>();
    for (const pair of node.items) {
      const key = pair.key as Node;
      if (!isScalar(key) || typeof key.value !== 'string') {
        this.error(key, 'keys must be strings');
        continue;
      }
      out.set(key.value, { key, value: (pair.value as Node | null) ?? null });
    }
    return out;
  }

  seq(node: Node | null, what: string): Node[] | undefined {
    if (!isSeq(node)) {
      this.error(node, `expected ${what}`);
      return undefined;
    }
    return node.items as Node[];
  }

  allowOnly(m: Map<string, Entry>, allowed: string[]): void {
    for (const [key, entry] of m) {
      if (!allowed.includes(key)) this.error(entry.key, `unknown key "${key}"; expected one of: ${allowed.join(', ')}${suggest(key, allowed)}`);
    }
  }

  required(m: Map<string, Entry>, owner: Node, key: string): Entry | undefined {
    const e = m.get(key);
    if (e === undefined || e.value === null) {
      this.error(e?.key ?? owner, `"${key}" is required`);
      return undefined;
    }
    return e;
  }

  string(node: Node | null, what: string): string | undefined {
    if (!isScalar(node) || typeof node.value !== 'string' || node.value.length === 0) {
      this.error(node, `${what} must be a non-empty string`);
      return undefined;
    }
    return node.value;
  }

  stringList(node: Node | null, what: string): Array<[string, Node]> | undefined {
    if (isScalar(node) && typeof node.value === 'string') return [[node.value, node]];
    if (!isSeq(node)) {
      this.error(node, `${what} must be a string or a list of strings`);
      return undefined;
    }
    const out: Array<[string, Node]> = [];
    for (const item of node.items as Node[]) {
      const s = this.string(item, `each of ${what}`);
      if (s !== undefined) out.push([s, item]);
    }
    return out;
  }

  oneOf<T extends string>(node: Node | null, allowed: readonly T[], what: string): T | undefined {
    const s = isScalar(node) ? node.value : undefined;
    if (typeof s !== 'string' || !(allowed as readonly string[]).includes(s)) {
      this.error(node, `${what} must be one of: ${allowed.join(', ')}${typeof s === 'string' ? suggest(s, [...allowed]) : ''}`);
      return undefined;
    }
    return s as T;
  }

  integer(node: Node | null, what: string, min: number, max: number): number | undefined {
    const v = isScalar(node) ? node.value : undefined;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      this.error(node, `${what} must be a whole number from ${min} to ${max}`);
      return undefined;
    }
    return v;
  }

  boolean(node: Node | null, what: string): boolean | undefined {
    const v = isScalar(node) ? node.value : undefined;
    if (typeof v !== 'boolean') {
      this.error(node, `${what} must be true or false`);
      return undefined;
    }
    return v;
  }

  duration(node: Node | null, what: string): number | undefined {
    const v = parseDuration(isScalar(node) ? node.value : undefined);
    if (v === undefined) this.error(node, `${what} must be a duration such as 300, "90s", "30m", "4h" or "2d"`);
    return v;
  }

  /** A CEL expression: type-checked, and errors placed at the exact character in the YAML file. */
  expression(node: Node | null, env: typeof ruleCheckEnv, what: string): string | undefined {
    const expr = this.string(node, what);
    if (expr === undefined) return undefined;
    const problem = checkExpression(env, expr, true);
    if (problem !== undefined) {
      this.error(node, `${what}: ${problem.message}`, sourceOffset(node as Scalar, problem.offset, this.src));
      return undefined;
    }
    return expr;
  }
}

/**
 * Maps an offset inside a scalar's value to an offset in the file, so that a CEL error points at the exact
 * character in the YAML source. Follows YAML's rules for each scalar style: escapes in double quotes (`\"` is
 * one character), doubled quotes in single quotes, line folding in flow scalars (a line break becomes a space,
 * empty lines become line feeds, indentation is dropped), and the literal (`|`) and folded (`>`) block rules.
 */
export function sourceOffset(scalar: Scalar, offset: number, src: string): number {
  const start = scalar.range?.[0] ?? 0;
  const end = scalar.range?.[1] ?? src.length;
  let positions: number[];
  switch (scalar.type) {
    case 'QUOTE_DOUBLE':
      positions = flowPositions(src, start + 1, end - 1, 'double');
      break;
    case 'QUOTE_SINGLE':
      positions = flowPositions(src, start + 1, end - 1, 'single');
      break;
    case 'BLOCK_LITERAL':
    case 'BLOCK_FOLDED':
      positions = blockPositions(src, start, end, scalar.type === 'BLOCK_FOLDED');
      break;
    default:
      positions = flowPositions(src, start, end, 'plain');
  }
  if (offset < positions.length) return positions[offset]!;
  // The end of the expression ("unexpected end of input"): just after its last character.
  return positions.length > 0 ? positions[positions.length - 1]! + 1 : start;
}

const isBreak = (c: string | undefined) => c === '\n' || c === '\r';
const isBlank = (c: string | undefined) => c === ' ' || c === '\t';

/** Source offset of each value character of a plain, single- or double-quoted scalar. */
function flowPositions(src: string, from: number, to: number, kind: 'plain' | 'single' | 'double'): number[] {
  const out: number[] = [];
  const chars: string[] = [];
  let i = from;
  while (i < to) {
    const c = src[i]!;
    if (isBreak(c)) {
      // Trailing white space before a line break is not part of the value.
      while (chars.length > 0 && isBlank(chars[chars.length - 1])) {
        chars.pop();
        out.pop();
      }
      let j = i + (c === '\r' && src[i + 1] === '\n' ? 2 : 1);
      let empty = 0;
      for (;;) {
        while (isBlank(src[j])) j++;
        if (!isBreak(src[j])) break;
        empty++;
        j += src[j] === '\r' && src[j + 1] === '\n' ? 2 : 1;
      }
      // One break folds into a space; each empty line becomes a line feed.
      for (let k = 0; k < Math.max(1, empty); k++) {
        out.push(i);
        chars.push(empty === 0 ? ' ' : '\n');
      }
      i = j;
      continue;
    }
    if (kind === 'double' && c === '\\') {
      const next = src[i + 1];
      if (isBreak(next)) {
        // An escaped line break joins the lines without a space.
        i += 2;
        while (isBlank(src[i])) i++;
        continue;
      }
      out.push(i);
      chars.push('x');
      i += next === 'x' ? 4 : next === 'u' ? 6 : next === 'U' ? 10 : 2;
      continue;
    }
    if (kind === 'single' && c === "'" && src[i + 1] === "'") {
      out.push(i);
      chars.push("'");
      i += 2;
      continue;
    }
    out.push(i);
    chars.push(c);
    i++;
  }
  return out;
}

/** Source offset of each value character of a literal or folded block scalar. */
function blockPositions(src: string, start: number, end: number, folded: boolean): number[] {
  const out: number[] = [];
  let pos = src.indexOf('\n', start) + 1; // the content starts after the header line ("|", ">-", …)
  if (pos <= 0) return out;
  const lines: Array<{ start: number; end: number }> = [];
  while (pos < end && pos < src.length) {
    const nl = src.indexOf('\n', pos);
    const lineEnd = nl === -1 ? src.length : nl;
    lines.push({ start: pos, end: lineEnd });
    pos = lineEnd + 1;
  }
  const firstContent = lines.find((l) => src.slice(l.start, l.end).trim() !== '');
  if (firstContent === undefined) return out;
  const indent = src.slice(firstContent.start, firstContent.end).length - src.slice(firstContent.start, firstContent.end).trimStart().length;
  let previous: { end: number; moreIndented: boolean } | undefined;
  let empty = 0;
  for (const line of lines) {
    const text = src.slice(line.start, line.end);
    if (text.trim() === '') {
      empty++;
      continue;
    }
    const moreIndented = isBlank(text[indent]);
    if (previous !== undefined) {
      // Literal: every line break is kept. Folded: a break between two ordinary lines is one space, a break
      // followed by empty lines becomes one line feed per empty line, and breaks next to more-indented lines stay.
      const separators = !folded || previous.moreIndented || moreIndented ? 1 + empty : Math.max(1, empty);
      for (let k = 0; k < separators; k++) out.push(previous.end);
    }
    for (let k = indent; k < text.length; k++) out.push(line.start + k);
    previous = { end: line.end, moreIndented };
    empty = 0;
  }
  return out;
}

function sortErrors(errors: PolicyError[]): PolicyError[] {
  return errors.sort((a, b) => (a.file === b.file ? a.line - b.line || a.column - b.column : a.file < b.file ? -1 : 1));
}

/** ` (did you mean "x"?)` for a close match by edit distance. */
function suggest(value: string, options: string[]): string {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const o of options) {
    const d = editDistance(value.toLowerCase(), o.toLowerCase());
    if (d < bestDistance) {
      bestDistance = d;
      best = o;
    }
  }
  return best !== undefined && bestDistance > 0 && bestDistance <= Math.max(2, Math.floor(value.length / 4))
    ? ` (did you mean "${best}"?)`
    : '';
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length]!;
}
