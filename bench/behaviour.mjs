// npm run bench:behaviour — the behavioural detectors' scoring cost, each beside a baseline taken in the same run:
//   1. keystroke, per sample (real keypad samples, ../shared/datasets/keystroke-monaco/keypad.csv):
//      baseline = scaled Manhattan scoring a sample against a user enrolled on 10 samples; Loopgate's detector
//      `score` on the same pairs; the production path = assessBehaviour for a login with a 10-keystroke secret
//      field against a subject enrolled via foldBehaviour on 20 entries (cached calibrated model), and the one-off
//      cost of building that calibrated model (the first assessBehaviour after a fold);
//   2. mouse, per 1,000-event session (a synthetic track as the collector sends it: ~4 coalesced events per 16 ms
//      frame, point-and-clicks and one drag): baseline = JSON.parse of the payload text; segmentActions alone;
//      Loopgate = pointerEvents + sessionFeatures + scorePointer against an enrolled profile and a population; and
//      the production path behaviourOf + assessBehaviour.
// Each measurement: warm-up, then ROUNDS rounds of many iterations; the median round is reported.
// Prints a table, writes bench/results/behaviour.json and docs/img/bench-behaviour.svg. Timings are reported, not
// asserted. BENCH_SECONDS (default 3) is the time per measurement, BENCH_ROUNDS (default 7) the rounds in it.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { barChart } from './lib.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const dist = (p) => new URL(`../dist/${p}`, import.meta.url).href;
const { loopgateKeystroke, scaledManhattan, populationModel } = await import(dist('core/behaviour/keystroke.js'));
const { segmentActions, sessionFeatures, MOUSE_FEATURE_NAMES, DEFAULT_SEGMENT_OPTIONS } = await import(dist('core/behaviour/mouse.js'));
const { scorePointer, emptyPointerProfile, foldPointer, POINTER_SUBJECT_CAP, POINTER_POPULATION_CAP } = await import(dist('core/behaviour/pointer-profile.js'));
const { behaviourOf, pointerEvents, foldBehaviour, foldPopulation, emptySubjectBehaviour, assessBehaviour, DEFAULT_BEHAVIOUR_CONFIG } = await import(dist('core/behaviour/signals.js'));
const { parseKeystrokeCsv } = await import(dist('cli/commands/eval.js'));
const { seeded, gaussian } = await import(dist('cli/commands/synthetic-signals.js'));

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const ROUNDS = Math.max(3, Number(process.env.BENCH_ROUNDS ?? 7));
const KEYPAD = process.env.BENCH_KEYPAD ?? join(root, '../shared/datasets/keystroke-monaco/keypad.csv');
const GOALS = { keystrokeUs: 50, mouseMs: 5 };
const ENROL = 10; // baseline and detector: samples per enrolment
const WINDOW = DEFAULT_BEHAVIOUR_CONFIG.keystroke.window; // 20 entries per field in production
const SECRET_LENGTH = 10;
const MOUSE_EVENTS = 1000;

const log = (line) => process.stderr.write(`${line}\n`);
const config = DEFAULT_BEHAVIOUR_CONFIG;
let sink = 0; // every result is added here, so no measured call can be optimised away

/**
 * Median time per operation of `run(iterations)` (which performs `iterations × perCall` operations): a warm-up of
 * a fifth of the time, then ROUNDS rounds each sized to last about SECONDS / ROUNDS.
 */
function measure(label, run, perCall = 1) {
  const budgetMs = SECONDS * 1000;
  log(`${label}…`);
  // Warm-up and calibration: double the iterations until one call of run() takes ≥ 20 ms.
  let iterations = 1;
  const warmUntil = performance.now() + budgetMs / 5;
  let perIter = Infinity;
  for (;;) {
    const t = performance.now();
    run(iterations);
    const ms = performance.now() - t;
    if (ms >= 20) perIter = Math.min(perIter, ms / iterations); // the fastest warm call: a GC pause does not shrink the rounds
    if (ms >= 20 && performance.now() >= warmUntil) break;
    if (ms < 20) iterations *= 2;
  }
  const roundIterations = Math.max(1, Math.round(budgetMs / ROUNDS / perIter));
  const perOp = [];
  for (let r = 0; r < ROUNDS; r++) {
    const t = process.hrtime.bigint();
    run(roundIterations);
    const ns = Number(process.hrtime.bigint() - t);
    perOp.push(ns / (roundIterations * perCall));
  }
  return summarise(perOp, roundIterations * perCall, label);
}

function summarise(perOpNs, opsPerRound, label) {
  const s = [...perOpNs].sort((a, b) => a - b);
  const median = s[(s.length - 1) >> 1];
  const us = (ns) => Math.round(ns) / 1000;
  log(`  ${fmtNs(median)} per op (rounds ${fmtNs(s[0])} … ${fmtNs(s[s.length - 1])}, ${opsPerRound.toLocaleString('en-US')} ops per round)`);
  return { medianUs: us(median), minUs: us(s[0]), maxUs: us(s[s.length - 1]), rounds: s.length, opsPerRound, label };
}

function fmtNs(ns) {
  if (ns < 1000) return `${ns.toFixed(0)} ns`;
  if (ns < 1e6) return `${(ns / 1000).toFixed(2)} µs`;
  return `${(ns / 1e6).toFixed(3)} ms`;
}
const fmtUs = (us) => (us < 1000 ? `${us < 10 ? us.toFixed(2) : us.toFixed(1)} µs` : `${(us / 1000).toFixed(3)} ms`);
const fmtMs = (us) => `${(us / 1000).toFixed(3)} ms`;
const ratio = (a, b) => a / b;

const results = { keystroke: {}, mouse: {} };
const started = performance.now();

// ================= 1. keystroke =================

if (!existsSync(KEYPAD)) throw new Error(`keystroke data not found at ${KEYPAD} (set BENCH_KEYPAD to keypad.csv of the Monaco keystroke dataset)`);
const users = parseKeystrokeCsv(readFileSync(KEYPAD, 'utf8')).filter((u) => u.samples.length >= 2 * ENROL);
const keysPerSample = users[0].samples[0].length;
log(`keystroke: ${users.length} users × ${users[0].samples.length} keypad samples of ${keysPerSample} keys (${KEYPAD})`);
{
  const population = populationModel(users.map((u) => u.samples.slice(0, ENROL)), 'keyed');
  // Every user enrolled on their first 10 samples; each model scores its user's other 10 samples and 10 samples of
  // other users (genuine and impostor attempts alike).
  const sm = [];
  const lg = [];
  for (const [i, u] of users.entries()) {
    const enrol = u.samples.slice(0, ENROL);
    const m1 = scaledManhattan.enrol(enrol, { mode: 'keyed' });
    const m2 = loopgateKeystroke.enrol(enrol, { mode: 'keyed', population });
    const probes = [...u.samples.slice(ENROL, 2 * ENROL), ...Array.from({ length: ENROL }, (_, k) => users[(i + 1 + k) % users.length].samples[ENROL + k])];
    for (const p of probes) {
      sm.push([m1, p]);
      lg.push([m2, p]);
    }
  }
  const scoreAll = (pairs) => (iterations) => {
    for (let it = 0; it < iterations; it++) for (let j = 0; j < pairs.length; j++) sink += pairs[j][0].score(pairs[j][1]);
  };
  results.keystroke.pairs = sm.length;
  results.keystroke.baseline = measure(`keystroke baseline: scaled Manhattan score, ${sm.length} sample/model pairs`, scoreAll(sm), sm.length);
  results.keystroke.detector = measure("keystroke: Loopgate's detector score, same pairs", scoreAll(lg), lg.length);

  // ---- the production path: a 10-keystroke secret field (the first 10 keys of each keypad entry, positions only) ----
  const payloadOf = (sample, timerMs) => ({
    v: 1,
    collector: 'loopgate',
    timer_resolution_ms: timerMs,
    fields: { password: { secret: true, strokes: sample.slice(0, SECRET_LENGTH).map((k, i) => [i, k.press, k.release]) } },
  });
  const production = (timerMs) => {
    // One subject per user, enrolled via foldBehaviour on all 20 of their entries; logins are every user's entries.
    const subjects = users.map((u) => {
      const s = emptySubjectBehaviour();
      for (const x of u.samples.slice(0, WINDOW)) foldBehaviour(s, behaviourOf(payloadOf(x, timerMs)), undefined, config);
      return s;
    });
    const logins = users.flatMap((u) => u.samples.map((x) => behaviourOf(payloadOf(x, timerMs))));
    const pairs = [];
    for (const [i, s] of subjects.entries()) for (let k = 0; k < 20; k++) pairs.push([s, logins[(i * 37 + k * 31) % logins.length]]);
    // First call per subject builds and caches the calibrated model; measured below separately.
    for (const [s, l] of pairs) assessBehaviour(l, s, undefined, 'user', config);
    const check = assessBehaviour(pairs[0][1], pairs[0][0], undefined, 'user', config);
    if (check.length !== 1 || check[0].signal !== 'typing_rhythm' || check[0].detail.deviations === undefined) throw new Error(`unexpected signals: ${JSON.stringify(check)}`);
    const assessed = measure(`keystroke production path (clock ${timerMs} ms): assessBehaviour, cached model, ${pairs.length} logins`, (iterations) => {
      for (let it = 0; it < iterations; it++) for (let j = 0; j < pairs.length; j++) sink += assessBehaviour(pairs[j][1], pairs[j][0], undefined, 'user', config)[0].contribution;
    }, pairs.length);

    // One-off: the first assessBehaviour after a fold (a trusted login folded in drops the cached model). Each
    // iteration folds the next entry (untimed) and times the assessment that rebuilds the model.
    log(`keystroke production path (clock ${timerMs} ms): first call after a fold (builds the calibrated model)…`);
    const per = [];
    const counts = [];
    let n = 0;
    const once = () => {
      const i = n++ % subjects.length;
      const s = subjects[i];
      foldBehaviour(s, logins[(i * 20 + (n % 20)) % logins.length], undefined, config);
      const t = process.hrtime.bigint();
      sink += assessBehaviour(logins[n % logins.length], s, undefined, 'user', config)[0].contribution;
      return Number(process.hrtime.bigint() - t);
    };
    const warmUntil = performance.now() + (SECONDS * 1000) / 5;
    while (performance.now() < warmUntil) once();
    for (let r = 0; r < ROUNDS; r++) {
      const until = performance.now() + (SECONDS * 1000) / ROUNDS;
      let total = 0;
      let calls = 0;
      while (performance.now() < until) {
        total += once();
        calls++;
      }
      per.push(total / calls);
      counts.push(calls);
    }
    const build = summarise(per, Math.min(...counts), 'first call after a fold');
    return { timerMs, logins: pairs.length, enrolled: WINDOW, secretLength: SECRET_LENGTH, assessed, firstCallAfterFold: build };
  };
  results.keystroke.production = production(1);
  results.keystroke.productionCoarse = production(16.7);
}

// ================= 2. mouse =================

/**
 * A collector pointer track (flat `t, x, y, kind` quadruples, t in ms, 0.1 ms resolution) of exactly `count`
 * events: a person moving between targets at ~4 coalesced events per 16 ms frame, resting, clicking; one drag.
 */
function pointerTrack(style, seed, count) {
  const rand = seeded(seed);
  const ev = [];
  let t = 0;
  let x = 200 + 200 * rand();
  let y = 150 + 200 * rand();
  const r1 = (v) => Math.round(v * 10) / 10;
  const push = (kind, px, py) => ev.push(r1(t), Math.round(px), Math.round(py), kind);
  const move = (tx, ty, kind, maxSteps = Infinity) => {
    const length = Math.max(1, Math.hypot(tx - x, ty - y));
    const duration = length / (style.speed * (1 + style.jitter * gaussian(rand)));
    const steps = Math.max(4, Math.min(maxSteps, Math.round(duration / 4))); // an event every ~4 ms
    const bow = style.bow * (1 + style.jitter * gaussian(rand)) * length;
    const [x0, y0, t0] = [x, y, t];
    for (let s = 1; s <= steps; s++) {
      const p = s / steps;
      const ease = p * p * (3 - 2 * p);
      const off = bow * Math.sin(Math.PI * ease);
      t = t0 + p * duration;
      push(kind, x0 + (tx - x0) * ease + (-(ty - y0) / length) * off, y0 + (ty - y0) * ease + ((tx - x0) / length) * off);
    }
    [x, y] = [tx, ty];
  };
  const events = () => ev.length / 4;
  const DRAG_EVENTS = 40;
  let dragged = false;
  while (events() < count) {
    const left = count - events();
    const drag = !dragged && events() > count / 2;
    const need = drag ? DRAG_EVENTS + 2 : 2; // press and release, and the drag's own moves
    if (left <= need + 8) {
      // Not enough room for another point-and-click: a last short movement.
      move(x + 10 + 30 * rand(), y + 10 * rand(), 0, left);
      break;
    }
    // The next target, 100–500 px away, inside a 1280 × 860 viewport.
    const angle = 2 * Math.PI * rand();
    const reach = 100 + 400 * rand();
    const tx = Math.min(1200, Math.max(80, x + reach * Math.cos(angle)));
    const ty = Math.min(800, Math.max(60, y + reach * Math.sin(angle)));
    move(tx, ty, 0, left - need);
    t += style.restMs * (1 + style.jitter * gaussian(rand));
    push(10, x, y);
    t += 80 * (1 + style.jitter * gaussian(rand));
    if (drag) {
      // Drag something ~200 px to the right, the button held (moves while held become Drag events).
      dragged = true;
      move(x + 150 + 100 * rand(), y + 40 * rand(), 0, DRAG_EVENTS);
    }
    push(20, x, y);
    t += 200 + 150 * rand();
  }
  return ev.slice(0, count * 4);
}

const styleOf = (rand) => ({ speed: 0.5 + 2 * rand(), bow: 0.12 * rand(), jitter: 0.08 + 0.08 * rand(), restMs: 40 + 150 * rand() });
const collector = (events) => ({ v: 1, collector: 'loopgate', timer_resolution_ms: 0.1, pointer: { events, viewport: [1280, 860] } });
{
  const people = seeded(7);
  const alice = styleOf(people);
  // The population: 50 other people × 5 sessions; the subject: 20 trusted sessions of their own (via foldBehaviour,
  // which also keeps the pointer scores the production path reads deviations against).
  let population;
  let seed = 1000;
  for (let p = 0; p < 50; p++) {
    const style = styleOf(people);
    for (let s = 0; s < 5; s++) population = foldPopulation(population, behaviourOf(collector(pointerTrack(style, seed++, MOUSE_EVENTS))));
  }
  const subject = emptySubjectBehaviour();
  for (let s = 0; s < 20; s++) {
    const sample = behaviourOf(collector(pointerTrack(alice, seed++, MOUSE_EVENTS)));
    population = foldPopulation(population, sample);
    foldBehaviour(subject, sample, population, config);
  }
  // The sessions measured: 16 new sessions, half the subject's, half others'.
  const sessions = Array.from({ length: 16 }, (_, i) => {
    const payload = collector(pointerTrack(i % 2 === 0 ? alice : styleOf(people), seed++, MOUSE_EVENTS));
    const text = JSON.stringify(payload);
    return { payload, text, events: pointerEvents(payload.pointer.events) };
  });
  const actions = sessions.map((s) => segmentActions(s.events, DEFAULT_SEGMENT_OPTIONS));
  const byType = { MM: 0, PC: 0, DD: 0 };
  for (const a of actions[0]) byType[a.type]++;
  const check = assessBehaviour(behaviourOf(sessions[0].payload), subject, population, 'alice', config);
  if (check.length !== 1 || check[0].signal !== 'pointer_rhythm' || check[0].detail.deviations === undefined) throw new Error(`unexpected signals: ${JSON.stringify(check)}`);
  results.mouse.session = {
    events: sessions[0].payload.pointer.events.length / 4,
    seconds: sessions[0].events.at(-1).t - sessions[0].events[0].t,
    payloadBytes: Math.round(sessions.reduce((a, s) => a + s.text.length, 0) / sessions.length),
    actions: actions[0].length,
    actionsByType: byType,
    subjectSessions: subject.pointer.sessions,
    populationSessions: population.sessions,
    sentence: check[0].sentence,
  };
  log(`mouse: ${results.mouse.session.events} events over ${results.mouse.session.seconds.toFixed(1)} s, ${results.mouse.session.actions} actions (${byType.MM} MM, ${byType.PC} PC, ${byType.DD} DD), payload ${results.mouse.session.payloadBytes} bytes`);
  const each = (fn) => (iterations) => {
    for (let it = 0; it < iterations; it++) for (let j = 0; j < sessions.length; j++) sink += fn(sessions[j], j);
  };
  const N = sessions.length;
  results.mouse.baseline = measure('mouse baseline: JSON.parse of the payload text', each((s) => JSON.parse(s.text).pointer.events.length), N);
  results.mouse.segment = measure('mouse: segmentActions alone', each((s) => segmentActions(s.events, DEFAULT_SEGMENT_OPTIONS).length), N);
  results.mouse.loopgate = measure('mouse: pointerEvents + sessionFeatures + scorePointer', each((s) => scorePointer(subject.pointer, population, sessionFeatures(pointerEvents(s.payload.pointer.events), DEFAULT_SEGMENT_OPTIONS))), N);
  results.mouse.production = measure('mouse production path: behaviourOf + assessBehaviour', each((s) => assessBehaviour(behaviourOf(s.payload), subject, population, 'alice', config)[0].contribution), N);
}

// ================= report =================

const k = results.keystroke;
const m = results.mouse;
const met = {
  keystrokeDetector: k.detector.medianUs < GOALS.keystrokeUs,
  keystrokeProduction: k.production.assessed.medianUs < GOALS.keystrokeUs,
  mouse: m.loopgate.medianUs / 1000 < GOALS.mouseMs,
  mouseProduction: m.production.medianUs / 1000 < GOALS.mouseMs,
};
const yes = (ok) => (ok ? 'met' : 'NOT met');
const kb = k.baseline.medianUs;
const mb = m.baseline.medianUs;
const row = (what, r, base, fmt, goal = '', verdict = '') => `| ${what} | ${fmt(r.medianUs)} | ${fmt(r.minUs)} … ${fmt(r.maxUs)} | ${ratio(r.medianUs, base).toFixed(2)}× | ${goal} | ${verdict} |`;
const p = k.production;
const pc = k.productionCoarse;
const table = [
  '| measurement | median | rounds (min … max) | ratio to baseline | goal | verdict |',
  '|---|---|---|---|---|---|',
  row(`keystroke baseline: scaled Manhattan \`score\`, ${keysPerSample}-key keypad sample, ${ENROL} enrolled`, k.baseline, kb, fmtUs),
  row("keystroke: Loopgate's detector `score`, same pairs", k.detector, kb, fmtUs, `< ${GOALS.keystrokeUs} µs`, yes(met.keystrokeDetector)),
  row(`keystroke production: \`assessBehaviour\`, ${SECRET_LENGTH}-key secret field, ${WINDOW} entries, cached model`, p.assessed, kb, fmtUs, `< ${GOALS.keystrokeUs} µs`, yes(met.keystrokeProduction)),
  row('… the same with a 16.7 ms clock (entry and enrolment rounded)', pc.assessed, kb, fmtUs),
  row('… one-off: first call after a fold (builds the calibrated model)', p.firstCallAfterFold, kb, fmtUs),
  row('… one-off with a 16.7 ms clock', pc.firstCallAfterFold, kb, fmtUs),
  row(`mouse baseline: \`JSON.parse\` of a ${m.session.events}-event payload (${(m.session.payloadBytes / 1024).toFixed(1)} KiB)`, m.baseline, mb, fmtMs),
  row('mouse: `segmentActions` alone', m.segment, mb, fmtMs),
  row('mouse: `pointerEvents` + `sessionFeatures` + `scorePointer`', m.loopgate, mb, fmtMs, `< ${GOALS.mouseMs} ms`, yes(met.mouse)),
  row('mouse production: `behaviourOf` + `assessBehaviour`', m.production, mb, fmtMs, `< ${GOALS.mouseMs} ms`, yes(met.mouseProduction)),
].join('\n');
const cpu = os.cpus()[0]?.model ?? 'unknown';
log(`checksum of every measured result: ${sink.toFixed(3)}`);
const seconds = (performance.now() - started) / 1000;
console.log(`\n${cpu}, ${os.cpus().length} cores, Node ${process.version}; ${SECONDS} s per measurement (${ROUNDS} rounds after a warm-up); ${seconds.toFixed(1)} s in all\n`);
console.log(table);
console.log(
  [
    '',
    `keystroke: ${users.length} keypad users; ${k.pairs} sample/model pairs (each user's 10 held-out samples and 10 of other users); production: ${p.logins} logins against ${users.length} subjects`,
    `mouse: ${m.session.events} events over ${m.session.seconds.toFixed(1)} s, ${m.session.actions} actions (${m.session.actionsByType.MM} MM, ${m.session.actionsByType.PC} PC, ${m.session.actionsByType.DD} DD); subject ${m.session.subjectSessions} sessions, population ${m.session.populationSessions}; e.g. "${m.session.sentence}"`,
  ].join('\n'),
);

mkdirSync(join(root, 'bench/results'), { recursive: true });
const machine = { cpu, cores: os.cpus().length, memoryGiB: Math.round(os.totalmem() / 2 ** 30), platform: `${os.platform()} ${os.release()}`, node: process.version };
const parameters = { seconds: SECONDS, rounds: ROUNDS, enrol: ENROL, window: WINDOW, secretLength: SECRET_LENGTH, mouseEvents: MOUSE_EVENTS, keypadKeys: keysPerSample, users: users.length };
const ratios = {
  keystrokeDetector: k.detector.medianUs / kb,
  keystrokeProduction: p.assessed.medianUs / kb,
  keystrokeBuild: p.firstCallAfterFold.medianUs / kb,
  mouseSegment: m.segment.medianUs / mb,
  mouseLoopgate: m.loopgate.medianUs / mb,
  mouseProduction: m.production.medianUs / mb,
};
writeFileSync(
  join(root, 'bench/results/behaviour.json'),
  `${JSON.stringify({ when: new Date().toISOString(), command: 'npm run bench:behaviour', machine, parameters, goals: GOALS, met, ratios, unit: 'µs per operation', ...results, seconds }, null, 2)}\n`,
);
mkdirSync(join(root, 'docs/img'), { recursive: true });
barChart(join(root, 'docs/img/bench-behaviour.svg'), 'Behavioural detectors: Loopgate vs baselines (one process, same run)', [
  {
    label: 'Scoring one keystroke sample (µs, lower is better)',
    bars: [
      { name: 'scaled Manhattan score', value: kb, text: fmtUs(kb) },
      { name: 'Loopgate detector score', value: k.detector.medianUs, text: `${fmtUs(k.detector.medianUs)} (${ratios.keystrokeDetector.toFixed(2)}×)` },
      { name: 'assessBehaviour (cached)', value: p.assessed.medianUs, text: `${fmtUs(p.assessed.medianUs)} (${ratios.keystrokeProduction.toFixed(2)}×)` },
    ],
    target: GOALS.keystrokeUs,
    targetLabel: `goal: &lt; ${GOALS.keystrokeUs} µs`,
  },
  {
    label: `A ${m.session.events}-event mouse session (ms, lower is better)`,
    bars: [
      { name: 'JSON.parse payload', value: mb / 1000, text: fmtMs(mb) },
      { name: 'segmentActions', value: m.segment.medianUs / 1000, text: `${fmtMs(m.segment.medianUs)} (${ratios.mouseSegment.toFixed(2)}×)` },
      { name: 'features + scorePointer', value: m.loopgate.medianUs / 1000, text: `${fmtMs(m.loopgate.medianUs)} (${ratios.mouseLoopgate.toFixed(2)}×)` },
      { name: 'behaviourOf + assess', value: m.production.medianUs / 1000, text: `${fmtMs(m.production.medianUs)} (${ratios.mouseProduction.toFixed(2)}×)` },
    ],
    target: GOALS.mouseMs,
    targetLabel: `goal: &lt; ${GOALS.mouseMs} ms`,
  },
]);
