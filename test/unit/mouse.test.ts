import { describe, it, expect } from 'vitest';
import {
  actionFeatures,
  directionSector,
  duration,
  MOUSE_FEATURE_NAMES,
  parseMouseCsv,
  pathDistance,
  segmentActions,
  straightDistance,
  straightness,
  type MouseEvent,
} from '../../src/core/behaviour/mouse.js';
import { aucMannWhitney, fitLogistic, fitOneClass, oneClassSessionScore, twoClassSessionScore } from '../../src/core/behaviour/mouse-model.js';

const ev = (t: number, button: string, state: string, x: number, y: number): MouseEvent => ({ t, button, state, x, y });
const move = (t: number, x: number, y: number) => ev(t, 'NoButton', 'Move', x, y);

// A movement, a scroll, a point-and-click, a drag-and-drop, then a tiny movement cut off by a pause.
const EVENTS: MouseEvent[] = [
  move(0, 0, 0), move(0.1, 3, 4), move(0.2, 6, 8), move(0.3, 9, 12),
  ev(0.4, 'Scroll', 'Down', 9, 12),
  move(1.0, 100, 100), move(1.1, 103, 104), move(1.2, 106, 100),
  ev(1.3, 'Left', 'Pressed', 106, 100), ev(1.4, 'Left', 'Released', 106, 100),
  ev(2.0, 'Left', 'Pressed', 200, 200), ev(2.1, 'NoButton', 'Drag', 210, 200), ev(2.2, 'NoButton', 'Drag', 220, 200),
  ev(2.3, 'NoButton', 'Drag', 230, 200), ev(2.4, 'Left', 'Released', 230, 200),
  move(2.5, 231, 200), move(2.6, 232, 200),
  move(30, 0, 0), move(30.1, 1, 1), move(30.2, 2, 2), move(30.3, 3, 3),
];

describe('segmentActions', () => {
  it('splits the stream into MM, PC and DD, on scroll and pauses, dropping tiny actions', () => {
    const actions = segmentActions(EVENTS);
    expect(actions.map((a) => a.type)).toEqual(['MM', 'PC', 'DD', 'MM']);
    expect(actions.map((a) => a.points.length)).toEqual([4, 5, 5, 4]);
    expect(actions[1]!.pressIndex).toBe(3);
    expect(actions[2]!.points[0]).toEqual({ t: 2.0, x: 200, y: 200 });
    expect(actions[3]!.points[0]).toEqual({ t: 30, x: 0, y: 0 });
  });

  it('keeps short actions when allowed', () => {
    const actions = segmentActions(EVENTS, { pauseSeconds: 10, minEvents: 1 });
    expect(actions.map((a) => a.type)).toEqual(['MM', 'PC', 'DD', 'MM', 'MM']);
  });
});

describe('action features', () => {
  it('computes distance, duration and straightness by hand', () => {
    const [mm, pc, dd] = segmentActions(EVENTS);
    expect(pathDistance(mm!.points)).toBeCloseTo(15);
    expect(straightDistance(mm!.points)).toBeCloseTo(15);
    expect(straightness(mm!.points)).toBeCloseTo(1);
    expect(duration(mm!.points)).toBeCloseTo(0.3);
    // PC: (100,100) → (103,104) → (106,100), then press and release in place: 5 + 5 travelled, 6 straight.
    expect(pathDistance(pc!.points)).toBeCloseTo(10);
    expect(straightDistance(pc!.points)).toBeCloseTo(6);
    expect(straightness(pc!.points)).toBeCloseTo(0.6);
    expect(duration(pc!.points)).toBeCloseTo(0.4);
    expect(pathDistance(dd!.points)).toBeCloseTo(30);
    expect(directionSector(dd!.points)).toBe(0);
    // Screen y grows downwards: (0,0) → (9,12) points 53° below the x axis, i.e. 307°, sector 6 (270°–315°).
    expect(directionSector(mm!.points)).toBe(6);
  });

  it('returns one finite value per named feature, with velocities and click time', () => {
    const [mm, pc] = segmentActions(EVENTS);
    const f = actionFeatures(mm!);
    expect(f).toHaveLength(MOUSE_FEATURE_NAMES.length);
    expect(f.every(Number.isFinite)).toBe(true);
    const get = (name: string, values: number[]) => values[MOUSE_FEATURE_NAMES.indexOf(name)]!;
    expect(get('type_mm', f)).toBe(1);
    expect(get('mean_v', f)).toBeCloseTo(50);
    expect(get('mean_vx', f)).toBeCloseTo(30);
    expect(get('sd_v', f)).toBeCloseTo(0);
    expect(get('mean_a', f)).toBeCloseTo(0);
    const g = actionFeatures(pc!);
    expect(get('type_pc', g)).toBe(1);
    expect(get('click_time', g)).toBeCloseTo(0.1);
    expect(get('points', g)).toBe(5);
  });

  it('parses the Balabit CSV by client timestamp', () => {
    const csv = 'record timestamp,client timestamp,button,state,x,y\n0.0,0.5,NoButton,Move,1,2\n0.1,0.6,Left,Pressed,1,2\n';
    expect(parseMouseCsv(csv)).toEqual([move(0.5, 1, 2), ev(0.6, 'Left', 'Pressed', 1, 2)]);
  });
});

describe('models', () => {
  it('computes the Mann–Whitney AUC with ties', () => {
    expect(aucMannWhitney([0.1, 0.2, 0.8, 0.9], [false, false, true, true])).toBe(1);
    expect(aucMannWhitney([0.9, 0.8, 0.2, 0.1], [false, false, true, true])).toBe(0);
    expect(aucMannWhitney([0.5, 0.5], [false, true])).toBe(0.5);
    expect(aucMannWhitney([0.1, 0.4, 0.35, 0.8], [false, false, true, true])).toBe(0.75);
    expect(aucMannWhitney([1, 2], [true, true])).toBeNaN();
  });

  it('scores a stranger above the user with both models', () => {
    // Deterministic pseudo-random rows: user around 0, stranger around 2 in feature 3.
    let seed = 7;
    const rnd = () => ((seed = (seed * 16807) % 2147483647) / 2147483647) - 0.5;
    const row = (shift: number) => [1, 0, 0, shift + rnd(), rnd(), shift + rnd()];
    const user = Array.from({ length: 200 }, () => row(0));
    const others = Array.from({ length: 200 }, () => row(2));
    const lr = fitLogistic(user, others);
    const oc = fitOneClass(user);
    const mine = Array.from({ length: 10 }, () => row(0));
    const theirs = Array.from({ length: 10 }, () => row(2));
    expect(twoClassSessionScore(lr, theirs)).toBeGreaterThan(twoClassSessionScore(lr, mine));
    expect(oneClassSessionScore(oc, theirs)).toBeGreaterThan(oneClassSessionScore(oc, mine));
    expect(twoClassSessionScore(lr, [])).toBe(0);
  });
});
