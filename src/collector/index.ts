/**
 * `loopgate/collector`: the browser collector a login page includes (also served by Loopgate at `/collector.js`).
 * Dependency-free ES module. It records, with `performance.now()`:
 * - for chosen fields, each keystroke's key-down and key-up times (and, for fields that are not secret, the key);
 *   for secret fields (passwords) never which key: only the keystroke's position in the sequence and its timings;
 * - pointer movement, presses, releases and wheel turns, with coordinates in CSS pixels;
 * - the timer precision it observed (browsers coarsen `performance.now()`, e.g. to 0.1 ms or 16.7 ms).
 * `payload()` returns a compact object for the login event's `signals`. What is collected, and what is not, is
 * described for a privacy review in docs/collector.md.
 */

export interface CollectorField {
  /** The input element, or a CSS selector for it. */
  element: HTMLElement | string;
  /** A secret field (a password): keys are never recorded, only positions and timings. */
  secret?: boolean;
}

export interface CollectorOptions {
  /** The fields whose typing rhythm is recorded, by a name of your choice (e.g. `username`, `password`). */
  fields?: Record<string, CollectorField>;
  /** Record the pointer over this target (default: the document); false to record none. */
  pointer?: boolean | EventTarget;
  /** Most keystrokes kept per field (default 256). */
  maxKeystrokes?: number;
  /** Most pointer events kept (default 1500). */
  maxPointerEvents?: number;
  /** The clock (default `performance.now`); for tests. */
  now?: () => number;
}

/** One field's typing: `strokes` are `[position, down, up]` in ms from the field's first key-down (0.1 ms steps). */
export interface FieldSignals {
  secret: boolean;
  /** The keys, in order (`KeyboardEvent.key`); absent for a secret field. */
  keys?: string[];
  strokes: Array<[position: number, down: number, up: number]>;
  /** Set when more keystrokes came than were kept. */
  truncated?: true;
}

/** Pointer kinds in `PointerSignals.events`. */
export const POINTER_KIND = { move: 0, down: 1, up: 2, wheel: 3 } as const;

/**
 * The pointer track: `events` is a flat list of quadruples `t, x, y, kind` (t in ms from the first event, 0.1 ms
 * steps; x, y in CSS pixels; kind from POINTER_KIND; for down/up the button is kind*10+button, e.g. 10 = left down).
 */
export interface PointerSignals {
  events: number[];
  viewport: [width: number, height: number];
  truncated?: true;
}

export interface SignalPayload {
  v: 1;
  collector: 'loopgate';
  /** The smallest step `performance.now()` was seen to take, in ms. */
  timer_resolution_ms: number;
  fields?: Record<string, FieldSignals>;
  pointer?: PointerSignals;
}

export interface Collector {
  payload(): SignalPayload;
  /** Forgets everything recorded so far (e.g. after a failed sign-in attempt). */
  reset(): void;
  /** Removes every listener. */
  stop(): void;
}

const round = (ms: number) => Math.round(ms * 10) / 10;

/** The smallest positive step between consecutive readings of the clock, over a few tries (bounded work). */
export function observeTimerResolution(now: () => number = () => performance.now()): number {
  let best = Number.POSITIVE_INFINITY;
  for (let attempt = 0; attempt < 5; attempt++) {
    const start = now();
    let next = start;
    for (let i = 0; i < 100_000 && next === start; i++) next = now();
    if (next > start) best = Math.min(best, next - start);
  }
  return Number.isFinite(best) ? Math.round(best * 1000) / 1000 : 0;
}

interface FieldState {
  secret: boolean;
  origin: number | undefined;
  keys: string[];
  strokes: Array<[number, number, number]>;
  /** Key-downs waiting for their key-up, by physical key (`code`): the code is never sent. */
  open: Map<string, number>;
  truncated: boolean;
}

export function startCollector(options: CollectorOptions = {}): Collector {
  const now = options.now ?? (() => performance.now());
  const maxKeys = options.maxKeystrokes ?? 256;
  const maxPointer = options.maxPointerEvents ?? 1500;
  const resolution = observeTimerResolution(now);
  const removers: Array<() => void> = [];
  const fields = new Map<string, FieldState>();

  const listen = (target: EventTarget, type: string, handler: (e: Event) => void) => {
    const options = { capture: true, passive: true };
    target.addEventListener(type, handler, options);
    removers.push(() => target.removeEventListener(type, handler, options));
  };

  for (const [name, field] of Object.entries(options.fields ?? {})) {
    const element = typeof field.element === 'string' ? document.querySelector<HTMLElement>(field.element) : field.element;
    if (element === null) throw new Error(`loopgate collector: no element for field ${name} (${String(field.element)})`);
    const state: FieldState = { secret: field.secret === true, origin: undefined, keys: [], strokes: [], open: new Map(), truncated: false };
    fields.set(name, state);
    listen(element, 'keydown', (e) => {
      const k = e as KeyboardEvent;
      if (k.repeat || k.isComposing) return;
      const t = now();
      state.origin ??= t;
      if (state.strokes.length >= maxKeys) {
        state.truncated = true;
        return;
      }
      const position = state.strokes.length;
      state.strokes.push([position, round(t - state.origin), -1]);
      if (!state.secret) state.keys.push(k.key);
      state.open.set(k.code || k.key, position);
    });
    listen(element, 'keyup', (e) => {
      const k = e as KeyboardEvent;
      const position = state.open.get(k.code || k.key);
      if (position === undefined || state.origin === undefined) return;
      state.open.delete(k.code || k.key);
      state.strokes[position]![2] = round(now() - state.origin);
    });
  }

  let pointerEvents: number[] = [];
  let pointerOrigin: number | undefined;
  let pointerTruncated = false;
  const record = (x: number, y: number, kind: number) => {
    const t = now();
    pointerOrigin ??= t;
    if (pointerEvents.length >= maxPointer * 4) {
      pointerTruncated = true;
      return;
    }
    pointerEvents.push(round(t - pointerOrigin), Math.round(x), Math.round(y), kind);
  };
  if (options.pointer !== false) {
    const target = options.pointer === undefined || options.pointer === true ? document : options.pointer;
    listen(target, 'pointermove', (e) => {
      const p = e as PointerEvent;
      // Coalesced events keep the full rhythm where the browser batches moves to one per frame.
      const all = typeof p.getCoalescedEvents === 'function' ? p.getCoalescedEvents() : [];
      for (const c of all.length > 0 ? all : [p]) record(c.clientX, c.clientY, POINTER_KIND.move);
    });
    listen(target, 'pointerdown', (e) => {
      const p = e as PointerEvent;
      record(p.clientX, p.clientY, POINTER_KIND.down * 10 + p.button);
    });
    listen(target, 'pointerup', (e) => {
      const p = e as PointerEvent;
      record(p.clientX, p.clientY, POINTER_KIND.up * 10 + p.button);
    });
    listen(target, 'wheel', (e) => {
      const w = e as WheelEvent;
      record(w.clientX, w.clientY, POINTER_KIND.wheel);
    });
  }

  return {
    payload() {
      const out: SignalPayload = { v: 1, collector: 'loopgate', timer_resolution_ms: resolution };
      if (fields.size > 0) {
        out.fields = {};
        for (const [name, s] of fields) {
          // A key still held has no key-up yet: it is left out rather than sent half-measured.
          const complete = s.strokes.filter(([, , up]) => up >= 0);
          const kept = new Set(complete.map(([position]) => position));
          const f: FieldSignals = { secret: s.secret, strokes: complete.map(([, down, up], i) => [i, down, up]) };
          if (!s.secret) f.keys = s.keys.filter((_, i) => kept.has(i));
          if (s.truncated) f.truncated = true;
          out.fields[name] = f;
        }
      }
      if (options.pointer !== false) {
        out.pointer = { events: pointerEvents.slice(), viewport: [window.innerWidth, window.innerHeight] };
        if (pointerTruncated) out.pointer.truncated = true;
      }
      return out;
    },
    reset() {
      for (const s of fields.values()) {
        s.origin = undefined;
        s.keys = [];
        s.strokes = [];
        s.open.clear();
        s.truncated = false;
      }
      pointerEvents = [];
      pointerOrigin = undefined;
      pointerTruncated = false;
    },
    stop() {
      for (const remove of removers.splice(0)) remove();
    },
  };
}
