import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { formatDuration, parseDuration } from '../../src/core/policy/duration.js';
import { uuidv7, UUID_PATTERN, type Random } from '../../src/core/clock.js';

describe('parseDuration', () => {
  it.each([
    ['90s', 90],
    ['30m', 1800], // 30 · 60
    ['4h', 14_400], // 4 · 3600
    ['2d', 172_800], // 2 · 86400
    ['1w', 604_800], // 7 · 86400
    ['1h30m', 5400], // 3600 + 30 · 60
    ['1d2h3m4s', 93_784], // 86400 + 7200 + 180 + 4
    ['300', 300],
    [' 90s ', 90],
    ['0', 0],
    ['0s', 0],
  ])('parses %j as %i seconds', (input, seconds) => {
    expect(parseDuration(input)).toBe(seconds);
  });

  it('accepts a non-negative whole number of seconds', () => {
    expect(parseDuration(300)).toBe(300);
    expect(parseDuration(0)).toBe(0);
  });

  it.each([['5x'], [''], ['   '], ['h'], ['1h 30m'], ['1.5h'], ['-5s'], ['30m!'], ['s30']])('rejects %j', (input) => {
    expect(parseDuration(input)).toBeUndefined();
  });

  it('rejects negative, fractional and non-finite numbers and other types', () => {
    for (const v of [-1, 1.5, Number.NaN, Infinity, null, undefined, true, {}, ['1s']]) {
      expect(parseDuration(v)).toBeUndefined();
    }
  });

  it('does not carry state between calls (shared sticky regex)', () => {
    expect(parseDuration('5x')).toBeUndefined();
    expect(parseDuration('1h30m')).toBe(5400);
    expect(parseDuration('1h30m')).toBe(5400);
  });
});

describe('formatDuration (policy)', () => {
  it('writes the largest units first and skips zero units', () => {
    expect(formatDuration(0)).toBe('0s');
    expect(formatDuration(59)).toBe('59s');
    expect(formatDuration(60)).toBe('1m');
    expect(formatDuration(5400)).toBe('1h30m'); // 3600 + 1800
    expect(formatDuration(86_400)).toBe('1d');
    expect(formatDuration(90_061)).toBe('1d1h1m1s'); // 86400 + 3600 + 60 + 1
    expect(formatDuration(172_800 + 5)).toBe('2d5s');
  });

  it('round-trips through parseDuration (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10 * 365 * 86_400 }), (s) => {
        expect(parseDuration(formatDuration(s))).toBe(s);
      }),
    );
  });
});

/** Random that fills every byte with `value`. */
const constant = (value: number): Random => ({ fill: (b) => b.fill(value) });
/** Random from a given byte array. */
const fromBytes = (bytes: number[]): Random => ({
  fill: (b) => {
    b.set(bytes.slice(0, b.length));
    return b;
  },
});

function timeOf(id: string): number {
  const hex = id.replaceAll('-', '');
  return parseInt(hex.slice(0, 12), 16);
}

describe('uuidv7', () => {
  const MS = Date.parse('2026-06-01T09:00:00.123Z');

  it('has the UUID shape, version 7 and variant 10xx', () => {
    for (const r of [constant(0x00), constant(0xff), constant(0x5a)]) {
      const id = uuidv7(MS, r);
      expect(id).toMatch(UUID_PATTERN);
      expect(id[14]).toBe('7'); // version nibble: first hex digit of the third group
      expect(['8', '9', 'a', 'b']).toContain(id[19]); // variant 10xx: first hex digit of the fourth group
    }
    // all random bits set: 0xff & 0x3f | 0x80 = 0xbf; all clear: 0x80
    expect(uuidv7(MS, constant(0xff)).slice(19, 21)).toBe('bf');
    expect(uuidv7(MS, constant(0x00)).slice(19, 21)).toBe('80');
  });

  it('encodes the milliseconds in the first 48 bits', () => {
    expect(timeOf(uuidv7(MS, constant(0)))).toBe(MS);
    // 0x0123456789ab = 1250999896491 ms
    expect(uuidv7(0x0123456789ab, constant(0)).slice(0, 13)).toBe('01234567-89ab');
    expect(uuidv7(0, constant(0))).toBe('00000000-0000-7000-8000-000000000000');
    // fractional ms are floored
    expect(timeOf(uuidv7(MS + 0.9, constant(0)))).toBe(MS);
  });

  it('keeps the random bits it was given outside version and variant', () => {
    const bytes = Array.from({ length: 16 }, (_, i) => i * 16 + i); // 0x00, 0x11, … 0xff
    const id = uuidv7(0, fromBytes(bytes));
    // bytes 6..15: 0x66 → 0x76 (version), 0x77, 0x88 → 0x88 (variant keeps 0x08), 0x99, 0xaa … 0xff
    expect(id).toBe('00000000-0000-7677-8899-aabbccddeeff');
  });

  it('decodes back to the time for any 48-bit millisecond value (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 48 - 1 }), fc.uint8Array({ minLength: 16, maxLength: 16 }), (ms, bytes) => {
        const id = uuidv7(ms, fromBytes([...bytes]));
        expect(id).toMatch(UUID_PATTERN);
        expect(timeOf(id)).toBe(ms);
      }),
    );
  });

  it('sorts by time whatever the random bits (property)', () => {
    const ms = fc.integer({ min: 0, max: 2 ** 48 - 1 });
    const bytes = fc.uint8Array({ minLength: 16, maxLength: 16 });
    fc.assert(
      fc.property(ms, ms, bytes, bytes, (a, b, ra, rb) => {
        fc.pre(a !== b);
        const ida = uuidv7(a, fromBytes([...ra]));
        const idb = uuidv7(b, fromBytes([...rb]));
        expect(ida < idb).toBe(a < b);
      }),
    );
  });
});
