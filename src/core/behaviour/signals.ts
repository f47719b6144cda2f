/**
 * Behavioural signals in decisions (pure): the collector's payload → samples → per-subject profiles learned from
 * trusted outcomes → risk signals with reasons.
 *
 * - TYPING. Per subject and per field (the name the login page gave it), the profile is the last `window` trusted
 *   entries of that field. Secret fields are aligned by position (the collector never sends their keys), others by
 *   key (keystroke.ts). A login's entry is scored with Loopgate's keystroke detector enrolled on the profile, and the
 *   score is read against the subject's own usual scores: the leave-one-out scores of the enrolled entries (each
 *   scored by a model of the others, on one shared reference). "Deviations" = (score − median of those) / their
 *   robust spread. The model and its calibration are built once per profile change and timer resolution, and kept.
 * - POINTER. Per subject, a pointer profile (pointer-profile.ts: running per-feature means and variances per action
 *   type) scored against the population's; deviations are read against the scores of the subject's last trusted
 *   sessions (each scored against the profile as it was before that session was folded in).
 * - TIMER RESOLUTION. A browser may coarsen its clock (e.g. to 16.7 ms). When the entry being scored came from a
 *   coarser clock than the enrolment, the enrolment is rounded to that resolution before the model is built, so
 *   coarse timing is not mistaken for a different person.
 * - CONTRIBUTION (logit points) = clamp(weight × (deviations − free_deviations), −typical_credit, max_contribution):
 *   an entry typed as usual lowers the risk a little, an unusual one raises it, and no single signal can decide.
 *   The fields of one login share one cap (scaled down together): one person typed them all.
 *   Until a profile is large enough the signal is reported with contribution 0 and says how many entries it has.
 */
import type { KeySample } from './keystroke.js';
import { extractFeatures, loopgateModelFromRows, referenceOf, type AlignMode, type KeystrokeModel, type Reference } from './keystroke.js';
import { DEFAULT_SEGMENT_OPTIONS, MOUSE_FEATURE_NAMES, sessionFeatures, type MouseEvent } from './mouse.js';
import {
  deserialisePointer,
  emptyPointerProfile,
  foldPointer,
  POINTER_POPULATION_CAP,
  POINTER_SUBJECT_CAP,
  pointerActions,
  scorePointer,
  serialisePointer,
  type PointerProfile,
  type SerialPointerProfile,
} from './pointer-profile.js';

export interface SignalWeights {
  /** Logit points per deviation above `freeDeviations`. */
  weight: number;
  /** Deviations from the usual that carry no risk. */
  freeDeviations: number;
  /** Largest contribution of one signal. */
  maxContribution: number;
  /** Largest risk reduction for a rhythm typical of the subject. */
  typicalCredit: number;
}

export interface BehaviourConfig {
  keystroke: SignalWeights & {
    /** Trusted entries kept per field (the newest). */
    window: number;
    /** Entries needed before a field is scored. */
    minSamples: number;
  };
  pointer: SignalWeights & {
    /** Trusted sessions with pointer actions needed before the pointer is scored. */
    minSessions: number;
    /** Actions a session needs to be scored. */
    minActions: number;
  };
}

export const DEFAULT_BEHAVIOUR_CONFIG: BehaviourConfig = {
  keystroke: { window: 20, minSamples: 5, weight: 0.8, freeDeviations: 1.5, maxContribution: 3, typicalCredit: 0.3 },
  pointer: { minSessions: 5, minActions: 2, weight: 0.6, freeDeviations: 1.5, maxContribution: 2, typicalCredit: 0.3 },
};

/** One field's entry in a login. */
export interface FieldEntry {
  field: string;
  secret: boolean;
  sample: KeySample;
}

/** What a login's collector payload says about its typing and pointer, ready to score and to learn. */
export interface BehaviourSample {
  /** The page clock's observed step, ms. */
  timerMs: number;
  fields: FieldEntry[];
  /** Per-action features of the pointer track (mouse.ts), when it had any actions. */
  pointer?: number[][];
}

/** The collector's payload (validated by the event schema). */
export interface CollectorSignals {
  v: 1;
  timer_resolution_ms: number;
  fields?: Record<string, { secret: boolean; keys?: string[]; strokes: Array<[number, number, number]> }>;
  pointer?: { events: number[] };
}

const BUTTONS = ['Left', 'Middle', 'Right'];

/** The collector's flat pointer track as mouse events (seconds; states as in mouse.ts). */
export function pointerEvents(flat: readonly number[]): MouseEvent[] {
  const out: MouseEvent[] = [];
  let held: string | undefined;
  for (let i = 0; i + 3 < flat.length; i += 4) {
    const t = flat[i]! / 1000;
    const x = flat[i + 1]!;
    const y = flat[i + 2]!;
    const kind = flat[i + 3]!;
    if (!Number.isFinite(t) || !Number.isFinite(x) || !Number.isFinite(y)) continue;
    if (kind === 0) out.push({ t, x, y, button: held ?? 'NoButton', state: held === undefined ? 'Move' : 'Drag' });
    else if (kind === 3) out.push({ t, x, y, button: 'Scroll', state: 'Down' });
    else if (kind >= 10 && kind < 30) {
      const button = BUTTONS[kind % 10] ?? `Button${kind % 10}`;
      if (kind < 20) {
        held = button;
        out.push({ t, x, y, button, state: 'Pressed' });
      } else {
        held = undefined;
        out.push({ t, x, y, button, state: 'Released' });
      }
    }
  }
  return out;
}

/** A field's strokes as a key sample, in the order of their positions. */
export function fieldSample(field: { secret: boolean; keys?: string[]; strokes: ReadonlyArray<readonly [number, number, number]> }): KeySample {
  return [...field.strokes]
    .sort((a, b) => a[0] - b[0] || a[1] - b[1])
    .map(([position, down, up]) => ({ key: field.secret ? null : (field.keys?.[position] ?? null), press: down, release: up }));
}

/** The behavioural sample of a login's signals; undefined when there are none. */
export function behaviourOf(signals: CollectorSignals | undefined): BehaviourSample | undefined {
  if (signals === undefined) return undefined;
  const fields: FieldEntry[] = [];
  for (const [name, f] of Object.entries(signals.fields ?? {})) {
    if (f.strokes.length >= 2) fields.push({ field: name, secret: f.secret, sample: fieldSample(f) });
  }
  const sample: BehaviourSample = { timerMs: signals.timer_resolution_ms, fields };
  if (signals.pointer !== undefined) {
    const rows = sessionFeatures(pointerEvents(signals.pointer.events), DEFAULT_SEGMENT_OPTIONS);
    if (rows.length > 0) sample.pointer = rows;
  }
  return fields.length === 0 && sample.pointer === undefined ? undefined : sample;
}

// ---- profiles ----

interface StoredEntry {
  sample: KeySample;
  timerMs: number;
}

export interface FieldProfile {
  secret: boolean;
  entries: StoredEntry[];
  /** Built models by timer resolution; dropped whenever the entries change. Not serialised. */
  models?: Map<number, CalibratedModel>;
}

export interface SubjectBehaviour {
  fields: Map<string, FieldProfile>;
  pointer?: PointerProfile;
  /** Scores of the last trusted sessions against the profile before each was folded in. */
  pointerScores: number[];
}

/** Fields kept per subject: a login page has two or three; more is a page that changed, or abuse. */
const MAX_FIELDS = 8;
const POINTER_SCORES_KEPT = 20;

export function emptySubjectBehaviour(): SubjectBehaviour {
  return { fields: new Map(), pointerScores: [] };
}

/** Folds a trusted login's behaviour into the subject's profile (and the pointer track into the population's). */
export function foldBehaviour(subject: SubjectBehaviour, sample: BehaviourSample, population: PointerProfile | undefined, config: BehaviourConfig): void {
  for (const e of sample.fields) {
    let profile = subject.fields.get(e.field);
    // A field that changed from secret to not (or back) is another field: start again.
    if (profile === undefined || profile.secret !== e.secret) {
      if (profile === undefined && subject.fields.size >= MAX_FIELDS) continue;
      profile = { secret: e.secret, entries: [] };
      subject.fields.set(e.field, profile);
    }
    profile.entries.push({ sample: e.sample, timerMs: sample.timerMs });
    if (profile.entries.length > config.keystroke.window) profile.entries.splice(0, profile.entries.length - config.keystroke.window);
    profile.models = undefined;
  }
  if (sample.pointer !== undefined && sample.pointer.length >= config.pointer.minActions) {
    const profile = subject.pointer ?? emptyPointerProfile(MOUSE_FEATURE_NAMES.length);
    if (population !== undefined && profile.sessions >= config.pointer.minSessions - 1 && profile.sessions > 0) {
      subject.pointerScores.push(round4(scorePointer(profile, population, sample.pointer)));
      if (subject.pointerScores.length > POINTER_SCORES_KEPT) subject.pointerScores.shift();
    }
    foldPointer(profile, sample.pointer, POINTER_SUBJECT_CAP);
    subject.pointer = profile;
  }
}

/** Folds a trusted login's pointer track into the population's profile. */
export function foldPopulation(population: PointerProfile | undefined, sample: BehaviourSample): PointerProfile | undefined {
  if (sample.pointer === undefined) return population;
  const p = population ?? emptyPointerProfile(MOUSE_FEATURE_NAMES.length);
  foldPointer(p, sample.pointer, POINTER_POPULATION_CAP);
  return p;
}

// ---- typing: calibrated models ----

export interface CalibratedModel {
  model: KeystrokeModel;
  /** Median and robust spread of the enrolled entries' leave-one-out scores. */
  usual: number;
  spread: number;
  entries: number;
}

function median(values: readonly number[]): number {
  const v = [...values].sort((a, b) => a - b);
  const n = v.length;
  return n === 0 ? NaN : n % 2 === 1 ? v[(n - 1) >> 1]! : (v[n / 2 - 1]! + v[n / 2]!) / 2;
}

/** Median and robust spread, the spread floored at 15 % of the median (and at `floor`) so a few near-identical values cannot make every later one look extreme. */
function usualOf(scores: readonly number[], floor: number): { usual: number; spread: number } {
  const m = median(scores);
  const mad = 1.4826 * median(scores.map((s) => Math.abs(s - m)));
  return { usual: m, spread: Math.max(mad, 0.15 * Math.abs(m), floor) };
}

/** Timer steps up to this are treated as fine (no rounding). */
const FINE_TIMER_MS = 1;

function roundTo(x: number, step: number): number {
  return Math.round(x / step) * step;
}

/** Rounds a sample's timings to a clock's step. */
export function roundSample(sample: KeySample, stepMs: number): KeySample {
  if (!(stepMs > FINE_TIMER_MS)) return sample;
  return sample.map((e) => ({ key: e.key, press: roundTo(e.press, stepMs), release: roundTo(e.release, stepMs) }));
}

function calibratedModel(profile: FieldProfile, timerMs: number): CalibratedModel {
  const step = timerMs > FINE_TIMER_MS ? timerMs : 0;
  profile.models ??= new Map();
  const cached = profile.models.get(step);
  if (cached !== undefined) return cached;
  const samples = profile.entries.map((e) => (step > 0 ? roundSample(e.sample, step) : e.sample));
  const mode: AlignMode = profile.secret ? 'positional' : 'keyed';
  const reference: Reference = referenceOf(samples, mode);
  const rows = samples.map((s) => extractFeatures(s, reference));
  const loo = rows.map((row, i) => loopgateModelFromRows(reference, rows.filter((_, j) => j !== i)).scoreFeatures(row));
  const built: CalibratedModel = { model: loopgateModelFromRows(reference, rows), ...usualOf(loo, 0.5), entries: samples.length };
  profile.models.set(step, built);
  return built;
}

// ---- signals ----

export interface BehaviourSignal {
  signal: 'typing_rhythm' | 'pointer_rhythm';
  contribution: number;
  sentence: string;
  detail: Record<string, unknown>;
}

function contributionOf(deviations: number, w: SignalWeights): number {
  const c = w.weight * (deviations - w.freeDeviations);
  return Math.max(-w.typicalCredit, Math.min(w.maxContribution, c));
}

const fmt1 = (x: number): string => (Math.round(x * 10) / 10).toFixed(1);
const round4 = (x: number): number => Math.round(x * 10_000) / 10_000;

function describe(what: string, who: string, deviations: number, basis: string, w: SignalWeights): string {
  if (deviations <= w.freeDeviations) return `${what} as usual for ${who} (${fmt1(Math.max(0, deviations))} deviations; ${basis})`;
  return `${what} ${fmt1(deviations)} deviations from ${who}'s usual (${basis})`;
}

/** The typing and pointer signals of a login, against the subject's profile. */
export function assessBehaviour(
  sample: BehaviourSample,
  subject: SubjectBehaviour | undefined,
  population: PointerProfile | undefined,
  who: string,
  config: BehaviourConfig,
): BehaviourSignal[] {
  const out: BehaviourSignal[] = [];
  for (const e of sample.fields) {
    const profile = subject?.fields.get(e.field);
    const enrolled = profile !== undefined && profile.secret === e.secret ? profile.entries.length : 0;
    const what = `typing rhythm on ${e.field}`;
    if (enrolled < config.keystroke.minSamples) {
      out.push({
        signal: 'typing_rhythm',
        contribution: 0,
        sentence: `${what} not scored: ${enrolled} of ${config.keystroke.minSamples} trusted entries enrolled for ${who}`,
        detail: { field: e.field, enrolled, needed: config.keystroke.minSamples },
      });
      continue;
    }
    // Compare like with like: everything at the coarsest clock among the entry and the enrolment.
    const step = Math.max(sample.timerMs, ...profile!.entries.map((x) => x.timerMs));
    const cal = calibratedModel(profile!, step);
    const score = cal.model.score(step > FINE_TIMER_MS ? roundSample(e.sample, step) : e.sample);
    const deviations = (score - cal.usual) / cal.spread;
    out.push({
      signal: 'typing_rhythm',
      contribution: contributionOf(deviations, config.keystroke),
      sentence: describe(what, who, deviations, `${cal.entries} trusted entries${e.secret ? ', positions only' : ''}`, config.keystroke),
      detail: { field: e.field, deviations: round4(deviations), score: round4(score), usual: round4(cal.usual), enrolled: cal.entries, secret: e.secret, timer_ms: sample.timerMs },
    });
  }
  // The fields of one login were typed by one person: their evidence is not independent, so together they may
  // add at most what one field may.
  const typingTotal = out.reduce((a, s) => a + Math.max(0, s.contribution), 0);
  if (typingTotal > config.keystroke.maxContribution) {
    const f = config.keystroke.maxContribution / typingTotal;
    for (const s of out) if (s.contribution > 0) s.contribution *= f;
  }
  if (sample.pointer !== undefined && sample.pointer.length >= config.pointer.minActions) {
    const profile = subject?.pointer;
    const sessions = profile?.sessions ?? 0;
    const calibration = subject?.pointerScores.length ?? 0;
    const what = 'pointer movement';
    if (profile === undefined || population === undefined || sessions < config.pointer.minSessions || calibration < 3) {
      out.push({
        signal: 'pointer_rhythm',
        contribution: 0,
        sentence: `${what} not scored: ${sessions} of ${config.pointer.minSessions} trusted sessions enrolled for ${who}`,
        detail: { enrolled: sessions, needed: config.pointer.minSessions, actions: sample.pointer.length },
      });
    } else {
      const score = scorePointer(profile, population, sample.pointer);
      const { usual, spread } = usualOf(subject!.pointerScores, 0.02);
      const deviations = (score - usual) / spread;
      out.push({
        signal: 'pointer_rhythm',
        contribution: contributionOf(deviations, config.pointer),
        sentence: describe(what, who, deviations, `${sample.pointer.length} actions; ${sessions} trusted sessions, ${Math.round(pointerActions(profile))} actions`, config.pointer),
        detail: { deviations: round4(deviations), score: round4(score), usual: round4(usual), actions: sample.pointer.length, enrolled: sessions },
      });
    }
  }
  return out;
}

/** What reviewers see of a subject's behavioural profile (no timings, no keys). */
export interface BehaviourSummary {
  fields: Array<{ field: string; secret: boolean; entries: number }>;
  pointer: { sessions: number; actions: number } | null;
}

export function summariseBehaviour(subject: SubjectBehaviour | undefined): BehaviourSummary {
  return {
    fields: [...(subject?.fields ?? new Map<string, FieldProfile>())].map(([field, p]) => ({ field, secret: p.secret, entries: p.entries.length })),
    pointer: subject?.pointer === undefined ? null : { sessions: subject.pointer.sessions, actions: Math.round(pointerActions(subject.pointer)) },
  };
}

// ---- serialisation ----

export interface SerialBehaviour {
  f: Record<string, { s: boolean; e: Array<{ t: number; k: Array<string | null> | null; x: number[] }> }>;
  p?: SerialPointerProfile;
  ps: number[];
}

export function serialiseBehaviour(b: SubjectBehaviour): SerialBehaviour {
  const f: SerialBehaviour['f'] = {};
  for (const [name, p] of b.fields) {
    f[name] = {
      s: p.secret,
      // Timings flat [press, release, …]; keys only for fields that are not secret.
      e: p.entries.map((e) => ({ t: e.timerMs, k: p.secret ? null : e.sample.map((k) => k.key), x: e.sample.flatMap((k) => [k.press, k.release]) })),
    };
  }
  const out: SerialBehaviour = { f, ps: b.pointerScores };
  if (b.pointer !== undefined) out.p = serialisePointer(b.pointer);
  return out;
}

export function deserialiseBehaviour(s: SerialBehaviour): SubjectBehaviour {
  const fields = new Map<string, FieldProfile>();
  for (const [name, p] of Object.entries(s.f)) {
    fields.set(name, {
      secret: p.s,
      entries: p.e.map((e) => ({
        timerMs: e.t,
        sample: Array.from({ length: e.x.length / 2 }, (_, i) => ({ key: e.k?.[i] ?? null, press: e.x[2 * i]!, release: e.x[2 * i + 1]! })),
      })),
    });
  }
  const out: SubjectBehaviour = { fields, pointerScores: [...s.ps] };
  if (s.p !== undefined) out.pointer = deserialisePointer(s.p);
  return out;
}

