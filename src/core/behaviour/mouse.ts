/**
 * Mouse dynamics (pure): raw pointer events → actions → per-action features.
 *
 * Actions follow Antal & Egyed-Zsigmond ("Intrusion detection using mouse dynamics", IET Biometrics 2019):
 * - MM, mouse move: pointer movement that does not end in a click;
 * - PC, point-and-click: a movement ending in a button press and release without dragging;
 * - DD, drag-and-drop: a press, drag events, then the release.
 * A stream is split on pauses (gap > pauseSeconds) and on scroll events; actions with fewer than minEvents points are
 * dropped. No I/O here: parsing takes the file's text.
 */

export type MouseButton = 'NoButton' | 'Left' | 'Right' | 'Middle' | 'Scroll' | string;
export type MouseState = 'Move' | 'Pressed' | 'Released' | 'Drag' | 'Down' | 'Up' | string;

export interface MouseEvent {
  /** Seconds since the start of the session (the client timestamp). */
  t: number;
  button: MouseButton;
  state: MouseState;
  x: number;
  y: number;
}

export type ActionType = 'MM' | 'PC' | 'DD';

export interface MousePoint {
  t: number;
  x: number;
  y: number;
}

export interface MouseAction {
  type: ActionType;
  points: MousePoint[];
  /** PC/DD: index in points of the press. */
  pressIndex?: number;
}

export interface SegmentOptions {
  /** Split when the gap between two events exceeds this (seconds). */
  pauseSeconds: number;
  /** Drop actions with fewer points than this. */
  minEvents: number;
}

export const DEFAULT_SEGMENT_OPTIONS: SegmentOptions = { pauseSeconds: 10, minEvents: 4 };

/** Parses a Balabit session CSV (`record timestamp,client timestamp,button,state,x,y`), using the client time. */
export function parseMouseCsv(text: string): MouseEvent[] {
  const out: MouseEvent[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '' || (i === 0 && line.startsWith('record'))) continue;
    const f = line.split(',');
    if (f.length < 6) continue;
    const t = Number(f[1]);
    const x = Number(f[4]);
    const y = Number(f[5]);
    if (!Number.isFinite(t) || !Number.isFinite(x) || !Number.isFinite(y)) continue;
    out.push({ t, button: f[2]!, state: f[3]!, x, y });
  }
  return out;
}

/** Splits an event stream into MM, PC and DD actions. */
export function segmentActions(events: readonly MouseEvent[], options: SegmentOptions = DEFAULT_SEGMENT_OPTIONS): MouseAction[] {
  const actions: MouseAction[] = [];
  let moves: MousePoint[] = [];
  let press: MousePoint | undefined;
  let pressButton: string | undefined;
  let drags: MousePoint[] = [];
  let lastT = Number.NEGATIVE_INFINITY;

  const emit = (a: MouseAction): void => {
    if (a.points.length >= options.minEvents) actions.push(a);
  };
  const flushMoves = (): void => {
    if (moves.length > 0) emit({ type: 'MM', points: moves });
    moves = [];
  };
  const reset = (): void => {
    flushMoves();
    press = undefined;
    pressButton = undefined;
    drags = [];
  };

  for (const e of events) {
    if (e.t - lastT > options.pauseSeconds) reset();
    lastT = Math.max(lastT, e.t);
    const p: MousePoint = { t: e.t, x: e.x, y: e.y };
    if (e.button === 'Scroll') {
      reset();
      continue;
    }
    switch (e.state) {
      case 'Move':
        if (press !== undefined) {
          // A move while a button is held (should not happen): treat it as a drag.
          drags.push(p);
        } else {
          moves.push(p);
        }
        break;
      case 'Drag':
        if (press === undefined) {
          // A drag without its press (split by a pause): a plain movement.
          moves.push(p);
        } else {
          drags.push(p);
        }
        break;
      case 'Pressed':
        if (press !== undefined) reset();
        press = p;
        pressButton = e.button;
        drags = [];
        break;
      case 'Released':
        if (press === undefined || (pressButton !== undefined && e.button !== pressButton && e.button !== 'NoButton')) {
          reset();
          break;
        }
        if (drags.length > 0) {
          flushMoves();
          emit({ type: 'DD', points: [press, ...drags, p], pressIndex: 0 });
        } else {
          const points = [...moves, press, p];
          emit({ type: 'PC', points, pressIndex: moves.length });
          moves = [];
        }
        press = undefined;
        pressButton = undefined;
        drags = [];
        break;
      default:
        break;
    }
  }
  reset();
  return actions;
}

/** Names of the values actionFeatures returns, in order. */
export const MOUSE_FEATURE_NAMES: readonly string[] = [
  'type_mm', 'type_pc', 'type_dd',
  'dir_0', 'dir_1', 'dir_2', 'dir_3', 'dir_4', 'dir_5', 'dir_6', 'dir_7',
  'points', 'duration', 'distance', 'straight_distance', 'straightness', 'largest_deviation', 'sum_of_angles',
  'mean_vx', 'sd_vx', 'min_vx', 'max_vx',
  'mean_vy', 'sd_vy', 'min_vy', 'max_vy',
  'mean_v', 'sd_v', 'max_v',
  'mean_a', 'sd_a', 'min_a', 'max_a',
  'mean_jerk', 'sd_jerk', 'min_jerk', 'max_jerk',
  'mean_omega', 'sd_omega', 'max_abs_omega',
  'mean_curv', 'sd_curv', 'max_abs_curv',
  'critical_points', 'time_to_max_v', 'accel_time_fraction', 'click_time', 'time_before_press',
  'mean_step', 'sd_dt',
];

function stats(values: readonly number[]): { mean: number; sd: number; min: number; max: number } {
  if (values.length === 0) return { mean: 0, sd: 0, min: 0, max: 0 };
  let sum = 0;
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (const v of values) {
    sum += v;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const mean = sum / values.length;
  let ss = 0;
  for (const v of values) ss += (v - mean) * (v - mean);
  return { mean, sd: Math.sqrt(ss / values.length), min, max };
}

/** Travelled path length (pixels). */
export function pathDistance(points: readonly MousePoint[]): number {
  let d = 0;
  for (let i = 1; i < points.length; i++) d += Math.hypot(points[i]!.x - points[i - 1]!.x, points[i]!.y - points[i - 1]!.y);
  return d;
}

/** Straight-line distance between the first and the last point. */
export function straightDistance(points: readonly MousePoint[]): number {
  if (points.length < 2) return 0;
  const a = points[0]!;
  const b = points[points.length - 1]!;
  return Math.hypot(b.x - a.x, b.y - a.y);
}

/** Straight-line distance / travelled distance, 1 for a straight or motionless action. */
export function straightness(points: readonly MousePoint[]): number {
  const d = pathDistance(points);
  return d === 0 ? 1 : Math.min(1, straightDistance(points) / d);
}

export function duration(points: readonly MousePoint[]): number {
  return points.length < 2 ? 0 : points[points.length - 1]!.t - points[0]!.t;
}

/** Direction of the end-to-end movement, in 8 sectors of 45° (0 = right, counter-clockwise, screen y down). */
export function directionSector(points: readonly MousePoint[]): number {
  if (points.length < 2) return 0;
  const a = points[0]!;
  const b = points[points.length - 1]!;
  let angle = Math.atan2(a.y - b.y, b.x - a.x);
  if (angle < 0) angle += 2 * Math.PI;
  return Math.floor(angle / (Math.PI / 4)) % 8;
}

/** Per-action features, in the order of MOUSE_FEATURE_NAMES. */
export function actionFeatures(action: MouseAction): number[] {
  const all = action.points;
  // Derivatives need distinct times: keep the first point of each run of equal timestamps.
  const pts: MousePoint[] = [];
  for (const p of all) if (pts.length === 0 || p.t > pts[pts.length - 1]!.t) pts.push(p);

  const vx: number[] = [];
  const vy: number[] = [];
  const v: number[] = [];
  const theta: number[] = [];
  const tv: number[] = [];
  const dts: number[] = [];
  const steps: number[] = [];
  for (let i = 1; i < pts.length; i++) {
    const dt = pts[i]!.t - pts[i - 1]!.t;
    const dx = pts[i]!.x - pts[i - 1]!.x;
    const dy = pts[i]!.y - pts[i - 1]!.y;
    dts.push(dt);
    steps.push(Math.hypot(dx, dy));
    vx.push(dx / dt);
    vy.push(dy / dt);
    v.push(Math.hypot(dx, dy) / dt);
    theta.push(Math.atan2(dy, dx));
    tv.push((pts[i]!.t + pts[i - 1]!.t) / 2);
  }
  const acc: number[] = [];
  const ta: number[] = [];
  for (let i = 1; i < v.length; i++) {
    const dt = tv[i]! - tv[i - 1]!;
    if (dt > 0) {
      acc.push((v[i]! - v[i - 1]!) / dt);
      ta.push((tv[i]! + tv[i - 1]!) / 2);
    }
  }
  const jerk: number[] = [];
  for (let i = 1; i < acc.length; i++) {
    const dt = ta[i]! - ta[i - 1]!;
    if (dt > 0) jerk.push((acc[i]! - acc[i - 1]!) / dt);
  }
  const omega: number[] = [];
  const curv: number[] = [];
  let sumAngles = 0;
  let critical = 0;
  for (let i = 1; i < theta.length; i++) {
    let d = theta[i]! - theta[i - 1]!;
    while (d > Math.PI) d -= 2 * Math.PI;
    while (d < -Math.PI) d += 2 * Math.PI;
    if (steps[i] === 0 || steps[i - 1] === 0) continue;
    sumAngles += d;
    const dt = tv[i]! - tv[i - 1]!;
    if (dt > 0) omega.push(d / dt);
    const ds = steps[i]!;
    const c = d / ds;
    curv.push(c);
    if (Math.abs(c) > 0.0005 * 1000 && Math.abs(d) > Math.PI / 6) critical++;
  }

  // Largest perpendicular deviation from the start–end line.
  let deviation = 0;
  if (all.length >= 2) {
    const a = all[0]!;
    const b = all[all.length - 1]!;
    const len = Math.hypot(b.x - a.x, b.y - a.y);
    for (const p of all) {
      const dev = len === 0 ? Math.hypot(p.x - a.x, p.y - a.y) : Math.abs((b.x - a.x) * (a.y - p.y) - (a.x - p.x) * (b.y - a.y)) / len;
      if (dev > deviation) deviation = dev;
    }
  }

  const dur = duration(all);
  let timeToMaxV = 0;
  if (v.length > 0) {
    let best = 0;
    for (let i = 1; i < v.length; i++) if (v[i]! > v[best]!) best = i;
    timeToMaxV = tv[best]! - all[0]!.t;
  }
  let accelTime = 0;
  for (let i = 0; i < acc.length; i++) if (acc[i]! > 0) accelTime += 1;
  const accelFraction = acc.length === 0 ? 0 : accelTime / acc.length;

  // PC: press → release time; DD: the whole drag; and how long the pointer rested before the press.
  let clickTime = 0;
  let beforePress = 0;
  if (action.pressIndex !== undefined) {
    const pi = action.pressIndex;
    clickTime = all[all.length - 1]!.t - all[pi]!.t;
    if (pi > 0) beforePress = all[pi]!.t - all[pi - 1]!.t;
  }

  const sx = stats(vx);
  const sy = stats(vy);
  const sv = stats(v);
  const sa = stats(acc);
  const sj = stats(jerk);
  const so = stats(omega);
  const sc = stats(curv);
  const dir = directionSector(all);
  const dirs = [0, 0, 0, 0, 0, 0, 0, 0];
  dirs[dir] = 1;
  return [
    action.type === 'MM' ? 1 : 0, action.type === 'PC' ? 1 : 0, action.type === 'DD' ? 1 : 0,
    ...dirs,
    all.length, dur, pathDistance(all), straightDistance(all), straightness(all), deviation, sumAngles,
    sx.mean, sx.sd, sx.min, sx.max,
    sy.mean, sy.sd, sy.min, sy.max,
    sv.mean, sv.sd, sv.max,
    sa.mean, sa.sd, sa.min, sa.max,
    sj.mean, sj.sd, sj.min, sj.max,
    so.mean, so.sd, Math.max(Math.abs(so.min), Math.abs(so.max)),
    sc.mean, sc.sd, Math.max(Math.abs(sc.min), Math.abs(sc.max)),
    critical, timeToMaxV, accelFraction, clickTime, beforePress,
    stats(steps).mean, stats(dts).sd,
  ];
}

/** Signed log1p: tames heavy tails (velocities, jerk) so linear models and z-scores behave. */
export function slog(x: number): number {
  return x < 0 ? -Math.log1p(-x) : Math.log1p(x);
}

/** Features of every action of an event stream, signed-log transformed. */
export function sessionFeatures(events: readonly MouseEvent[], options: SegmentOptions = DEFAULT_SEGMENT_OPTIONS): number[][] {
  return segmentActions(events, options).map((a) => actionFeatures(a).map((x) => (Number.isFinite(x) ? slog(x) : 0)));
}
