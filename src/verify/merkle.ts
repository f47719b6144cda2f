/**
 * RFC 6962 / RFC 9162 Merkle trees: leaf and node hashes with domain separation, a streaming root accumulator,
 * and verification of inclusion and consistency proofs (RFC 9162 §2.1.3.2 and §2.1.4.2). Sizes and indexes are
 * numbers (exact up to 2^53), manipulated with arithmetic rather than 32-bit bit operations.
 */
import { concat, equalBytes } from './bytes.js';
import { webCryptoSha256, type Sha256 } from './hash.js';

export type Hash = Uint8Array;

/** A complete interior node: level ≥ 1, index within its level. */
export interface CreatedNode {
  level: number;
  index: number;
  hash: Hash;
}

/** SHA-256(0x01 ‖ left ‖ right), computed synchronously. */
export type SyncNodeHash = (left: Hash, right: Hash) => Hash;

export interface VerifyResult {
  ok: boolean;
  /** Why verification failed (absent when ok). */
  reason?: string;
}

const LEAF = new Uint8Array([0]);
const NODE = new Uint8Array([1]);
const ok: VerifyResult = { ok: true };
const fail = (reason: string): VerifyResult => ({ ok: false, reason });

export async function leafHash(entry: Uint8Array, sha: Sha256 = webCryptoSha256): Promise<Hash> {
  return sha(concat(LEAF, entry));
}

export async function nodeHash(left: Hash, right: Hash, sha: Sha256 = webCryptoSha256): Promise<Hash> {
  return sha(concat(NODE, left, right));
}

export async function emptyRoot(sha: Sha256 = webCryptoSha256): Promise<Hash> {
  return sha(new Uint8Array(0));
}

const odd = (x: number) => x % 2 === 1;
const HASH_SIZE = 32;
const allHashes = (hashes: Hash[]) => hashes.every((h) => h.length === HASH_SIZE);

/** Exact for every safe integer (Math.log2 rounds near 2^53). */
function isPowerOfTwo(n: number): boolean {
  if (n < 1) return false;
  while (n % 2 === 0) n /= 2;
  return n === 1;
}
const half = (x: number) => Math.floor(x / 2);

/** Verifies that `leaf` is at `index` in the tree of `size` leaves whose root is `root`. */
export async function verifyInclusion(
  args: { index: number; size: number; leaf: Hash; proof: Hash[]; root: Hash },
  sha: Sha256 = webCryptoSha256,
): Promise<VerifyResult> {
  const { index, size, leaf, proof, root } = args;
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0 || size < 1) return fail('index or size out of range');
  if (index >= size) return fail(`index ${index} is beyond the tree size ${size}`);
  if (!allHashes([leaf, root, ...proof])) return fail('every hash must be 32 bytes (SHA-256)');
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of proof) {
    if (sn === 0) return fail('the proof is longer than the path to the root');
    if (odd(fn) || fn === sn) {
      r = await nodeHash(p, r, sha);
      if (!odd(fn)) {
        while (!odd(fn) && fn !== 0) {
          fn = half(fn);
          sn = half(sn);
        }
      }
    } else {
      r = await nodeHash(r, p, sha);
    }
    fn = half(fn);
    sn = half(sn);
  }
  if (sn !== 0) return fail('the proof is shorter than the path to the root');
  return equalBytes(r, root) ? ok : fail('the proof leads to a different root');
}

/** Verifies that the tree of `size1` leaves with `root1` is a prefix of the tree of `size2` leaves with `root2`. */
export async function verifyConsistency(
  args: { size1: number; size2: number; root1: Hash; root2: Hash; proof: Hash[] },
  sha: Sha256 = webCryptoSha256,
): Promise<VerifyResult> {
  const { size1, size2, root1, root2 } = args;
  let proof = args.proof;
  if (!Number.isSafeInteger(size1) || !Number.isSafeInteger(size2) || size1 < 0 || size2 < 0) return fail('sizes out of range');
  if (size2 < size1) return fail('the second tree is smaller than the first');
  if (size1 === size2) {
    if (proof.length !== 0) return fail('a proof between equal sizes must be empty');
    return equalBytes(root1, root2) ? ok : fail('equal sizes with different roots');
  }
  if (size1 === 0) {
    // Every tree extends the empty tree; there is nothing to prove.
    return proof.length === 0 ? ok : fail('a proof from the empty tree must be empty');
  }
  if (proof.length === 0) return fail('the proof is empty');
  // If size1 is a power of two, its root is the first node of the path and is not in the proof.
  if (isPowerOfTwo(size1)) proof = [root1, ...proof];
  let fn = size1 - 1;
  let sn = size2 - 1;
  while (odd(fn)) {
    fn = half(fn);
    sn = half(sn);
  }
  let fr = proof[0]!;
  let sr = proof[0]!;
  for (const c of proof.slice(1)) {
    if (sn === 0) return fail('the proof is too long');
    if (odd(fn) || fn === sn) {
      fr = await nodeHash(c, fr, sha);
      sr = await nodeHash(c, sr, sha);
      if (!odd(fn)) {
        while (!odd(fn) && fn !== 0) {
          fn = half(fn);
          sn = half(sn);
        }
      }
    } else {
      sr = await nodeHash(sr, c, sha);
    }
    fn = half(fn);
    sn = half(sn);
  }
  if (sn !== 0) return fail('the proof is too short');
  if (!equalBytes(fr, root1)) return fail('the proof does not lead to the first root');
  if (!equalBytes(sr, root2)) return fail('the proof does not lead to the second root');
  return ok;
}

/**
 * The roots of the perfect subtrees covering the leaves so far (a compact range): appending a leaf merges equal
 * sizes, so memory stays logarithmic, and the root of the whole tree is available after every append.
 */
export class MerkleAccumulator {
  private readonly stack: Array<{ level: number; hash: Hash }> = [];
  private count = 0;

  constructor(private readonly sha: Sha256 = webCryptoSha256) {}

  get size(): number {
    return this.count;
  }

  /** Appends a leaf hash; returns the complete nodes it created, lowest first (level ≥ 1, index within level). */
  async append(leaf: Hash): Promise<CreatedNode[]> {
    this.pushLeaf(leaf);
    const created: CreatedNode[] = [];
    while (this.canMerge()) {
      const { left, right, level } = this.popPair();
      created.push(this.pushNode(level, await nodeHash(left, right, this.sha)));
    }
    return created;
  }

  /**
   * `append` for callers with a synchronous node hash (Node's createHash): no promise per leaf, which is most of
   * the cost when millions of leaves are appended.
   */
  appendSync(leaf: Hash, node: SyncNodeHash): CreatedNode[] {
    this.pushLeaf(leaf);
    const created: CreatedNode[] = [];
    while (this.canMerge()) {
      const { left, right, level } = this.popPair();
      created.push(this.pushNode(level, node(left, right)));
    }
    return created;
  }

  private pushLeaf(leaf: Hash): void {
    this.stack.push({ level: 0, hash: leaf });
    this.count++;
  }

  /** Two subtrees of the same size on top of the stack make one of the next level. */
  private canMerge(): boolean {
    const n = this.stack.length;
    return n >= 2 && this.stack[n - 1]!.level === this.stack[n - 2]!.level;
  }

  private popPair(): { left: Hash; right: Hash; level: number } {
    const right = this.stack.pop()!;
    const left = this.stack.pop()!;
    return { left: left.hash, right: right.hash, level: left.level + 1 };
  }

  private pushNode(level: number, hash: Hash): CreatedNode {
    this.stack.push({ level, hash });
    return { level, index: this.count / 2 ** level - 1, hash };
  }

  rootSync(node: SyncNodeHash, empty: Hash): Hash {
    if (this.stack.length === 0) return empty;
    let acc = this.stack[this.stack.length - 1]!.hash;
    for (let i = this.stack.length - 2; i >= 0; i--) acc = node(this.stack[i]!.hash, acc);
    return acc;
  }

  /** The root of the tree of all leaves appended so far (RFC 6962 MTH). */
  async root(): Promise<Hash> {
    if (this.stack.length === 0) return emptyRoot(this.sha);
    let acc = this.stack[this.stack.length - 1]!.hash;
    for (let i = this.stack.length - 2; i >= 0; i--) acc = await nodeHash(this.stack[i]!.hash, acc, this.sha);
    return acc;
  }

  /** The compact range, to save and restore (levels strictly decreasing). */
  frontier(): Array<{ level: number; hash: Hash }> {
    return this.stack.map((s) => ({ ...s }));
  }

  static restore(size: number, frontier: Array<{ level: number; hash: Hash }>, sha: Sha256 = webCryptoSha256): MerkleAccumulator {
    const sum = frontier.reduce((n, f) => n + 2 ** f.level, 0);
    if (sum !== size) throw new Error(`a frontier of ${sum} leaves cannot describe a tree of ${size}`);
    const a = new MerkleAccumulator(sha);
    a.stack.push(...frontier.map((f) => ({ ...f })));
    a.count = size;
    return a;
  }
}
