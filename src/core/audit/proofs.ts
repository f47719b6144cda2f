/**
 * Proof generation (RFC 6962 §2.1.1): which subtree hashes make an inclusion or a consistency proof, and how each
 * is computed from stored complete nodes. Planning is separate from hashing so that a store can fetch every node a
 * proof needs in one query.
 */

/** A range of leaves [start, end). */
export type Range = readonly [start: number, end: number];

/** An aligned perfect subtree: level l, index i covers leaves [i·2^l, (i+1)·2^l). */
export interface NodeId {
  level: number;
  index: number;
}

/** The largest power of two strictly smaller than n (n ≥ 2). */
export function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** The ranges whose hashes form the inclusion proof of leaf m in the tree of size n (RFC 6962 PATH). */
export function inclusionRanges(m: number, n: number): Range[] {
  const out: Range[] = [];
  const path = (lo: number, hi: number): void => {
    if (hi - lo <= 1) return;
    const k = splitPoint(hi - lo);
    if (m < lo + k) {
      path(lo, lo + k);
      out.push([lo + k, hi]);
    } else {
      path(lo + k, hi);
      out.push([lo, lo + k]);
    }
  };
  path(0, n);
  return out;
}

/** The ranges whose hashes form the consistency proof from size m to size n (RFC 6962 SUBPROOF). */
export function consistencyRanges(m: number, n: number): Range[] {
  const out: Range[] = [];
  if (m <= 0 || m >= n) return out;
  const sub = (mm: number, lo: number, hi: number, complete: boolean): void => {
    const size = hi - lo;
    if (mm === size) {
      if (!complete) out.push([lo, hi]);
      return;
    }
    const k = splitPoint(size);
    if (mm <= k) {
      sub(mm, lo, lo + k, complete);
      out.push([lo + k, hi]);
    } else {
      sub(mm - k, lo + k, hi, false);
      out.push([lo, lo + k]);
    }
  };
  sub(m, 0, n, true);
  return out;
}

/**
 * The aligned perfect subtrees that make up a range, left to right. For the ranges RFC 6962 proofs use (a
 * perfect subtree, or the right border of a tree) the hash of the range is these nodes' hashes folded from the
 * right: H(n1, H(n2, … H(nk-1, nk))).
 */
export function decompose([start, end]: Range): NodeId[] {
  const out: NodeId[] = [];
  let a = start;
  while (a < end) {
    let level = 0;
    while (a % 2 ** (level + 1) === 0 && a + 2 ** (level + 1) <= end) level++;
    out.push({ level, index: a / 2 ** level });
    a += 2 ** level;
  }
  return out;
}

export function nodeKey(n: NodeId): string {
  return `${n.level}/${n.index}`;
}

/**
 * The hash of a range from the hashes of its aligned subtrees (as `decompose` lists them), folded from the right.
 * Throws when a node is missing: a proof is never served from incomplete data.
 */
export async function rangeHash(
  range: Range,
  nodes: ReadonlyMap<string, Uint8Array>,
  hashPair: (left: Uint8Array, right: Uint8Array) => Promise<Uint8Array>,
): Promise<Uint8Array> {
  const parts = decompose(range).map((id) => {
    const h = nodes.get(nodeKey(id));
    if (h === undefined) throw new Error(`node ${nodeKey(id)} of range [${range[0]}, ${range[1]}) is missing`);
    return h;
  });
  let acc = parts[parts.length - 1]!;
  for (let i = parts.length - 2; i >= 0; i--) acc = await hashPair(parts[i]!, acc);
  return acc;
}
