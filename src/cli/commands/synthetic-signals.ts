/**
 * Synthetic collector payloads (the shape src/collector/index.ts produces) for the demo and the tests: a person is a
 * typing rhythm and a pointer style; every entry varies around them with seeded noise, so runs are repeatable.
 */

export interface Style {
  /** Key hold time, ms. */
  holdMs: number;
  /** Time from one key-down to the next, ms. */
  gapMs: number;
  /** Relative jitter of every timing (0.1 = ±10 % typical). */
  jitter: number;
  /** Pointer speed, px per ms. */
  speed: number;
  /** Sideways bow of a pointer movement, as a share of its length. */
  bow: number;
  /** Time the pointer rests before a click, ms. */
  restMs: number;
}

export const ALICE: Style = { holdMs: 95, gapMs: 160, jitter: 0.08, speed: 0.9, bow: 0.08, restMs: 120 };
/** Someone else: faster, shorter holds, straighter and quicker pointer. */
export const MALLORY: Style = { holdMs: 55, gapMs: 95, jitter: 0.08, speed: 2.4, bow: 0.01, restMs: 40 };

/** A person's style from a number (e.g. a hash of their id): typists and pointer habits vary widely. */
export function styleFor(seed: number): Style {
  const rand = seeded(seed);
  const between = (lo: number, hi: number) => lo + (hi - lo) * rand();
  return { holdMs: between(60, 130), gapMs: between(110, 230), jitter: between(0.06, 0.12), speed: between(0.6, 1.8), bow: between(0.02, 0.12), restMs: between(60, 220) };
}

/** A small seeded generator (mulberry32): deterministic noise. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A standard normal draw (Box–Muller) from a uniform generator. */
export function gaussian(rand: () => number): number {
  const u = Math.max(rand(), 1e-9);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
}

const r1 = (x: number) => Math.round(x * 10) / 10;

function strokes(length: number, style: Style, rand: () => number): Array<[number, number, number]> {
  const out: Array<[number, number, number]> = [];
  let t = 0;
  // Each person has a rhythm per position (some digraphs are slower), repeated with jitter.
  for (let i = 0; i < length; i++) {
    const positional = 1 + 0.25 * Math.sin(i * 1.7);
    const hold = style.holdMs * (1 + style.jitter * gaussian(rand));
    out.push([i, r1(t), r1(t + Math.max(10, hold))]);
    t += style.gapMs * positional * (1 + style.jitter * gaussian(rand));
  }
  return out;
}

function pointerTrack(style: Style, rand: () => number): number[] {
  const targets: Array<[number, number]> = [
    [640, 300],
    [640, 380],
    [700, 460],
  ];
  const events: number[] = [];
  let t = 0;
  let [x, y] = [200 + 40 * rand(), 150 + 40 * rand()];
  for (const [tx, ty] of targets) {
    const length = Math.hypot(tx - x, ty - y);
    const duration = length / (style.speed * (1 + style.jitter * gaussian(rand)));
    const steps = Math.max(4, Math.round(duration / 16));
    const bow = style.bow * (1 + style.jitter * gaussian(rand)) * length;
    for (let s = 1; s <= steps; s++) {
      const p = s / steps;
      const ease = p * p * (3 - 2 * p); // accelerate, then slow down
      const nx = -(ty - y) / length;
      const ny = (tx - x) / length;
      const off = bow * Math.sin(Math.PI * ease);
      events.push(r1(t + p * duration), Math.round(x + (tx - x) * ease + nx * off), Math.round(y + (ty - y) * ease + ny * off), 0);
    }
    t += duration + style.restMs * (1 + style.jitter * gaussian(rand));
    events.push(r1(t), tx, ty, 10);
    t += 80 * (1 + style.jitter * gaussian(rand));
    events.push(r1(t), tx, ty, 20);
    t += 200;
    [x, y] = [tx, ty];
  }
  return events;
}

/** A login's signals as the collector sends them: the account name, a 10-keystroke password and the pointer. */
export function collectorPayload(style: Style, seed: number, options: { account?: string; timerMs?: number; pointer?: boolean } = {}) {
  const rand = seeded(seed);
  const account = options.account ?? 'alice';
  const timer = options.timerMs ?? 0.1;
  const coarse = (s: Array<[number, number, number]>) =>
    timer > 1 ? s.map(([p, d, u]) => [p, r1(Math.round(d / timer) * timer), r1(Math.round(u / timer) * timer)] as [number, number, number]) : s;
  const payload: {
    v: 1;
    collector: 'loopgate';
    timer_resolution_ms: number;
    fields: Record<string, { secret: boolean; keys?: string[]; strokes: Array<[number, number, number]> }>;
    pointer?: { events: number[]; viewport: [number, number] };
  } = {
    v: 1,
    collector: 'loopgate',
    timer_resolution_ms: timer,
    fields: {
      account: { secret: false, keys: [...account], strokes: coarse(strokes(account.length, style, rand)) },
      password: { secret: true, strokes: coarse(strokes(10, style, rand)) },
    },
  };
  if (options.pointer !== false) payload.pointer = { events: pointerTrack(style, rand), viewport: [1280, 860] };
  return payload;
}
