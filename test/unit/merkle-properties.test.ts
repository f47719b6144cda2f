/**
 * Property tests for the audit verifier's Merkle code (src/verify/merkle.ts), proof planning
 * (src/core/audit/proofs.ts) and canonical JSON, against a naive RFC 6962 implementation written here.
 */
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalize, MerkleAccumulator, verifyConsistency, verifyInclusion, type Sha256 } from '../../src/verify/index.js';
import { consistencyRanges, decompose, inclusionRanges, type Range } from '../../src/core/audit/proofs.js';

// ---- a naive, synchronous RFC 6962 oracle (independent of src/verify) -------------------------------------------

const sha = (...parts: Uint8Array[]): Uint8Array => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
};
/** The verifier's pluggable hash, backed by node:crypto. */
const nodeSha: Sha256 = (data) => sha(data);

const LEAF = new Uint8Array([0]);
const NODE = new Uint8Array([1]);
const hashLeaf = (data: Uint8Array): Uint8Array => sha(LEAF, data);
const hashChildren = (l: Uint8Array, r: Uint8Array): Uint8Array => sha(NODE, l, r);

/** The largest power of two strictly smaller than n (n ≥ 2), computed independently of proofs.ts. */
const largestPow2Below = (n: number): number => 2 ** Math.floor(Math.log2(n - 1));

/** RFC 6962 §2.1 MTH over leaf hashes [lo, hi), recursively. */
function mth(leafHashes: Uint8Array[], lo = 0, hi = leafHashes.length): Uint8Array {
  const n = hi - lo;
  if (n === 0) return sha();
  if (n === 1) return leafHashes[lo]!;
  const k = largestPow2Below(n);
  return hashChildren(mth(leafHashes, lo, lo + k), mth(leafHashes, lo + k, hi));
}

/** All complete nodes: levels[level][index] covers leaves [index·2^level, (index+1)·2^level). */
function buildLevels(leafHashes: Uint8Array[]): Uint8Array[][] {
  const levels = [leafHashes];
  for (let below = leafHashes; below.length >= 2; ) {
    const level: Uint8Array[] = [];
    for (let i = 0; i + 1 < below.length; i += 2) level.push(hashChildren(below[i]!, below[i + 1]!));
    levels.push(level);
    below = level;
  }
  return levels;
}

/** A proof range's hash from stored complete nodes: decompose()'s nodes folded from the right. */
function rangeHash(levels: Uint8Array[][], range: Range): Uint8Array {
  const nodes = decompose(range).map(({ level, index }) => {
    const h = levels[level]?.[index];
    if (h === undefined) throw new Error(`decompose(${range.join(',')}) names a node that is not complete: ${level}/${index}`);
    return h;
  });
  let acc = nodes[nodes.length - 1]!;
  for (let i = nodes.length - 2; i >= 0; i--) acc = hashChildren(nodes[i]!, acc);
  return acc;
}

const inclusionProof = (levels: Uint8Array[][], m: number, n: number): Uint8Array[] => inclusionRanges(m, n).map((r) => rangeHash(levels, r));
const consistencyProof = (levels: Uint8Array[][], m: number, n: number): Uint8Array[] => consistencyRanges(m, n).map((r) => rangeHash(levels, r));

/** Leaves that are all different (a random prefix and the index), so that no two subtrees share a hash. */
function leavesFor(seed: Uint8Array, size: number): Uint8Array[] {
  return Array.from({ length: size }, (_, i) => {
    const leaf = new Uint8Array(seed.length + 4);
    leaf.set(seed);
    new DataView(leaf.buffer).setUint32(seed.length, i);
    return leaf;
  });
}

const flip = (bytes: Uint8Array, at: number, mask: number): Uint8Array => {
  const out = bytes.slice();
  out[at % out.length]! ^= mask;
  return out;
};

// ---- arbitraries ---------------------------------------------------------------------------------------------

const NUM_RUNS = 60;
const seedArb = fc.uint8Array({ minLength: 0, maxLength: 24 });
const sizeArb = fc.integer({ min: 1, max: 300 });
const maskArb = fc.integer({ min: 1, max: 255 });

/** A tree (size 1..300) with a leaf index in it. */
const treeAndIndex = fc
  .tuple(seedArb, sizeArb)
  .chain(([seed, size]) => fc.record({ seed: fc.constant(seed), size: fc.constant(size), index: fc.nat({ max: size - 1 }) }));

/** Two sizes 1 ≤ m ≤ n ≤ 300. */
const sizePair = fc
  .tuple(seedArb, sizeArb)
  .chain(([seed, n]) => fc.record({ seed: fc.constant(seed), n: fc.constant(n), m: fc.integer({ min: 1, max: n }) }));

// ---- properties ----------------------------------------------------------------------------------------------

describe('inclusion proofs (inclusionRanges + decompose, verified by verifyInclusion)', () => {
  it('every generated inclusion proof verifies; a changed leaf byte, proof byte or index fails', async () => {
    await fc.assert(
      fc.asyncProperty(treeAndIndex, fc.nat(), maskArb, fc.nat(), async ({ seed, size, index }, at, mask, other) => {
        const leaves = leavesFor(seed, size);
        const leafHashes = leaves.map(hashLeaf);
        const levels = buildLevels(leafHashes);
        const root = mth(leafHashes);
        const proof = inclusionProof(levels, index, size);
        const leaf = leafHashes[index]!;

        expect(await verifyInclusion({ index, size, leaf, proof, root }, nodeSha)).toEqual({ ok: true });

        // One byte of the leaf data changed.
        const badLeaf = hashLeaf(flip(leaves[index]!, at, mask));
        expect((await verifyInclusion({ index, size, leaf: badLeaf, proof, root }, nodeSha)).ok).toBe(false);

        // One byte of one proof element changed (every element, if the proof is short).
        for (let i = 0; i < proof.length; i++) {
          const bad = proof.map((p, j) => (j === i ? flip(p, at, mask) : p));
          expect((await verifyInclusion({ index, size, leaf, proof: bad, root }, nodeSha)).ok, `proof[${i}]`).toBe(false);
        }

        // Any other index, inside or outside the tree.
        const wrongIndex = (index + 1 + (other % (size + 1))) % (size + 2);
        if (wrongIndex !== index) {
          expect((await verifyInclusion({ index: wrongIndex, size, leaf, proof, root }, nodeSha)).ok, `index ${wrongIndex}`).toBe(false);
        }
        expect((await verifyInclusion({ index: index + size, size, leaf, proof, root }, nodeSha)).ok).toBe(false);
        expect((await verifyInclusion({ index: -1, size, leaf, proof, root }, nodeSha)).ok).toBe(false);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('every leaf of a tree has a verifying proof (exhaustive over small trees)', async () => {
    for (let size = 1; size <= 33; size++) {
      const leafHashes = leavesFor(new Uint8Array([size]), size).map(hashLeaf);
      const levels = buildLevels(leafHashes);
      const root = mth(leafHashes);
      for (let index = 0; index < size; index++) {
        const r = await verifyInclusion({ index, size, leaf: leafHashes[index]!, proof: inclusionProof(levels, index, size), root }, nodeSha);
        expect(r, `${index} in ${size}`).toEqual({ ok: true });
      }
    }
  });
});

describe('consistency proofs (consistencyRanges + decompose, verified by verifyConsistency)', () => {
  it('every generated consistency proof from m to n verifies; a changed first root or proof byte fails', async () => {
    await fc.assert(
      fc.asyncProperty(sizePair, fc.nat(), maskArb, async ({ seed, m, n }, at, mask) => {
        const leafHashes = leavesFor(seed, n).map(hashLeaf);
        const levels = buildLevels(leafHashes);
        const root1 = mth(leafHashes.slice(0, m));
        const root2 = mth(leafHashes);
        const proof = consistencyProof(levels, m, n);

        expect(await verifyConsistency({ size1: m, size2: n, root1, root2, proof }, nodeSha)).toEqual({ ok: true });
        if (m === n) expect(proof).toEqual([]);

        expect((await verifyConsistency({ size1: m, size2: n, root1: flip(root1, at, mask), root2, proof }, nodeSha)).ok).toBe(false);
        expect((await verifyConsistency({ size1: m, size2: n, root1, root2: flip(root2, at, mask), proof }, nodeSha)).ok).toBe(false);
        for (let i = 0; i < proof.length; i++) {
          const bad = proof.map((p, j) => (j === i ? flip(p, at, mask) : p));
          expect((await verifyConsistency({ size1: m, size2: n, root1, root2, proof: bad }, nodeSha)).ok, `proof[${i}]`).toBe(false);
        }
        if (proof.length > 0) {
          expect((await verifyConsistency({ size1: m, size2: n, root1, root2, proof: proof.slice(0, -1) }, nodeSha)).ok).toBe(false);
          expect((await verifyConsistency({ size1: m, size2: n, root1, root2, proof: [...proof, root2] }, nodeSha)).ok).toBe(false);
        }
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('every pair of sizes has a verifying proof (exhaustive over small trees)', async () => {
    const N = 33;
    const leafHashes = leavesFor(new Uint8Array([7]), N).map(hashLeaf);
    const roots = Array.from({ length: N + 1 }, (_, s) => mth(leafHashes, 0, s));
    for (let n = 1; n <= N; n++) {
      const levels = buildLevels(leafHashes.slice(0, n));
      for (let m = 0; m <= n; m++) {
        const r = await verifyConsistency({ size1: m, size2: n, root1: roots[m]!, root2: roots[n]!, proof: consistencyProof(levels, m, n) }, nodeSha);
        expect(r, `${m} -> ${n}`).toEqual({ ok: true });
      }
    }
  });
});

describe('MerkleAccumulator', () => {
  it('root() after each append equals the naive RFC 6962 MTH', async () => {
    await fc.assert(
      fc.asyncProperty(seedArb, sizeArb, async (seed, size) => {
        const leafHashes = leavesFor(seed, size).map(hashLeaf);
        const acc = new MerkleAccumulator(nodeSha);
        expect(await acc.root()).toEqual(mth([]));
        for (let i = 0; i < size; i++) {
          await acc.append(leafHashes[i]!);
          expect(acc.size).toBe(i + 1);
          expect(await acc.root(), `size ${i + 1}`).toEqual(mth(leafHashes, 0, i + 1));
        }
      }),
      { numRuns: 25 },
    );
  });

  it('append() returns exactly the newly completed aligned subtrees, lowest first, with their naive hashes', async () => {
    await fc.assert(
      fc.asyncProperty(seedArb, sizeArb, async (seed, size) => {
        const leafHashes = leavesFor(seed, size).map(hashLeaf);
        const acc = new MerkleAccumulator(nodeSha);
        for (let i = 0; i < size; i++) {
          const created = await acc.append(leafHashes[i]!);
          const count = i + 1;
          // Leaf `count` completes the subtrees of levels 1..t, where 2^t is the largest power of two dividing count.
          const expected: Array<{ level: number; index: number }> = [];
          for (let level = 1; count % 2 ** level === 0; level++) expected.push({ level, index: count / 2 ** level - 1 });
          expect(created.map(({ level, index }) => ({ level, index })), `append #${count}`).toEqual(expected);
          for (const node of created) {
            const lo = node.index * 2 ** node.level;
            expect(node.hash, `${node.level}/${node.index}`).toEqual(mth(leafHashes, lo, lo + 2 ** node.level));
          }
        }
      }),
      { numRuns: 25 },
    );
  });

  it('restore(size, frontier()) continues exactly like the original', async () => {
    await fc.assert(
      fc.asyncProperty(
        seedArb,
        sizeArb.chain((n) => fc.tuple(fc.constant(n), fc.integer({ min: 0, max: n }))),
        async (seed, [size, cut]) => {
          const leafHashes = leavesFor(seed, size).map(hashLeaf);
          const original = new MerkleAccumulator(nodeSha);
          for (let i = 0; i < cut; i++) await original.append(leafHashes[i]!);

          const frontier = original.frontier();
          // The frontier is a compact range: strictly decreasing levels summing to the size.
          expect(frontier.reduce((s, f) => s + 2 ** f.level, 0)).toBe(cut);
          for (let i = 1; i < frontier.length; i++) expect(frontier[i]!.level).toBeLessThan(frontier[i - 1]!.level);

          const restored = MerkleAccumulator.restore(cut, frontier, nodeSha);
          expect(restored.size).toBe(cut);
          expect(await restored.root()).toEqual(await original.root());
          // Mutating the saved frontier must not affect either accumulator.
          if (frontier.length > 0) frontier[0]!.level += 1;

          for (let i = cut; i < size; i++) {
            const a = await original.append(leafHashes[i]!);
            const b = await restored.append(leafHashes[i]!);
            expect(b).toEqual(a);
            expect(await restored.root()).toEqual(await original.root());
          }
          expect(await restored.root()).toEqual(mth(leafHashes));
          expect(restored.frontier()).toEqual(original.frontier());
        },
      ),
      { numRuns: NUM_RUNS },
    );
  });

  it('restore() rejects a frontier that does not describe the size', async () => {
    const acc = new MerkleAccumulator(nodeSha);
    for (const leaf of leavesFor(new Uint8Array(), 5).map(hashLeaf)) await acc.append(leaf);
    expect(() => MerkleAccumulator.restore(6, acc.frontier(), nodeSha)).toThrow();
    expect(() => MerkleAccumulator.restore(4, acc.frontier(), nodeSha)).toThrow();
  });
});

describe('canonicalize (RFC 8785)', () => {
  /** JSON.parse never yields -0 from canonical text ("0"), so compare with -0 read as 0. */
  const normalise = (v: unknown): unknown => {
    if (typeof v === 'number') return Object.is(v, -0) ? 0 : v;
    if (Array.isArray(v)) return v.map(normalise);
    if (v !== null && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) Object.defineProperty(out, k, { value: normalise(x), enumerable: true, writable: true, configurable: true });
      return out;
    }
    return v;
  };

  /** The same value with every object's keys in a different insertion order. */
  const reorder = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(reorder);
    if (v !== null && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v).reverse()) Object.defineProperty(out, k, { value: reorder(x), enumerable: true, writable: true, configurable: true });
      return out;
    }
    return v;
  };

  it('is idempotent, parses back to an equal value, and ignores key order', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const text = canonicalize(value);
        const parsed: unknown = JSON.parse(text);
        expect(canonicalize(parsed)).toBe(text);
        expect(parsed).toEqual(normalise(value));
        expect(canonicalize(reorder(value))).toBe(text);
      }),
      { numRuns: 300 },
    );
  });

  it('writes object members sorted by UTF-16 code units, without whitespace', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string({ unit: 'binary' }), fc.integer()), (obj) => {
        // Built by hand rather than read back through JSON.parse, whose objects list integer-like keys first.
        const byCodeUnits = (a: string, b: string): number => {
          for (let i = 0; i < Math.min(a.length, b.length); i++) if (a.charCodeAt(i) !== b.charCodeAt(i)) return a.charCodeAt(i) - b.charCodeAt(i);
          return a.length - b.length;
        };
        const keys = Object.keys(obj).sort(byCodeUnits);
        expect(canonicalize(obj)).toBe(`{${keys.map((k) => `${JSON.stringify(k)}:${JSON.stringify(obj[k])}`).join(',')}}`);
      }),
      { numRuns: 200 },
    );
  });

  it('orders integer-like names as strings, not as array indexes', () => {
    expect(canonicalize({ a: 3, 9: 2, 10: 1, '': 0 })).toBe('{"":0,"10":1,"9":2,"a":3}');
  });

  it('writes -0 as 0 and rejects non-finite numbers', () => {
    expect(canonicalize(-0)).toBe('0');
    expect(canonicalize({ a: [-0] })).toBe('{"a":[0]}');
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) expect(() => canonicalize([bad])).toThrow();
  });
});
