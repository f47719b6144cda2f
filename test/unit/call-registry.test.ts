import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { CallRegistry } from '../../src/core/call-registry.js';

describe('CallRegistry (calls waiting on another thread)', () => {
  it('gives each waiting call its own id and hands each waiter back once', () => {
    const r = new CallRegistry<string>(16);
    const a = r.add('a');
    const b = r.add('b');
    expect(a).not.toBe(b);
    expect(r.size).toBe(2);
    expect(r.take(b)).toBe('b');
    expect(r.take(b)).toBeUndefined();
    expect(r.take(12345)).toBeUndefined();
    expect(r.take(a)).toBe('a');
    expect(r.size).toBe(0);
  });

  it('keeps a call that waits while many others come and go, and grows past its first size', () => {
    const r = new CallRegistry<number>(16);
    const slow = r.add(-1);
    // Thousands of ids pass: the slow call's slot comes round again and again and must be skipped, not overwritten.
    for (let i = 0; i < 5_000; i++) expect(r.take(r.add(i))).toBe(i);
    const many = Array.from({ length: 100 }, (_, i) => [r.add(i), i] as const);
    expect(r.size).toBe(101);
    for (const [id, v] of many) expect(r.take(id)).toBe(v);
    expect(r.take(slow)).toBe(-1);
  });

  it('takeAll returns every waiting call and leaves the table empty', () => {
    const r = new CallRegistry<string>();
    const ids = ['x', 'y', 'z'].map((w) => r.add(w));
    expect(r.takeAll().sort()).toEqual(['x', 'y', 'z']);
    expect(r.size).toBe(0);
    for (const id of ids) expect(r.take(id)).toBeUndefined();
  });

  it('behaves like a map from id to waiter under any interleaving of adds and takes (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.constant('add' as const), fc.nat(200)), { maxLength: 400 }), (ops) => {
        const r = new CallRegistry<number>(16);
        const model = new Map<number, number>();
        let n = 0;
        const ids: number[] = [];
        for (const op of ops) {
          if (op === 'add') {
            const id = r.add(n);
            expect(model.has(id)).toBe(false);
            model.set(id, n++);
            ids.push(id);
          } else if (ids.length > 0) {
            const id = ids[op % ids.length]!;
            expect(r.take(id)).toBe(model.get(id));
            model.delete(id);
          }
          expect(r.size).toBe(model.size);
        }
      }),
    );
  });
});
