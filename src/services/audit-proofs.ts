/**
 * RFC 6962 proofs served from storage: each proof is planned (which subtree hashes it needs), every node it
 * needs is read in one query, and the hashes are folded. Used by the API and by `loopgate audit export`.
 */
import { consistencyRanges, decompose, inclusionRanges, nodeKey, rangeHash, type Range } from '../core/audit/proofs.js';
import { LoopgateError } from '../core/errors.js';
import { nodeSha256 } from '../store/audit-tree.js';
import type { Store } from '../store/store.js';
import { toBase64 } from '../verify/bytes.js';
import { nodeHash, type Hash } from '../verify/merkle.js';

/** Field names as in RFC 6962 get-proof-by-hash and get-sth-consistency. */
export interface InclusionProof {
  leaf_index: number;
  tree_size: number;
  leaf_hash: string;
  audit_path: string[];
}

export interface ConsistencyProof {
  first: number;
  second: number;
  consistency: string[];
}

export function auditRangeError(detail: string): LoopgateError {
  return new LoopgateError('LOOPGATE_ERR_AUDIT_RANGE', detail);
}

const pair = (l: Hash, r: Hash) => nodeHash(l, r, nodeSha256);

export class ProofReader {
  constructor(private readonly store: Store) {}

  async inclusion(index: number, size: number): Promise<InclusionProof> {
    const [proof] = await this.inclusionMany([index], size);
    return proof!;
  }

  /** Inclusion proofs of several entries in one tree, with one read of the nodes they need. */
  async inclusionMany(indexes: number[], size: number): Promise<InclusionProof[]> {
    this.checkSize(size, 'size');
    for (const index of indexes) {
      if (!Number.isSafeInteger(index) || index < 0 || index >= size) {
        throw auditRangeError(`index ${index} is not an entry of the tree of ${size} entries (0 ≤ index < size)`);
      }
    }
    const plans = indexes.map((index) => ({ index, ranges: inclusionRanges(index, size) }));
    const nodes = await this.nodesFor(plans.flatMap((p) => [...p.ranges, [p.index, p.index + 1] as Range]));
    const out: InclusionProof[] = [];
    for (const p of plans) {
      out.push({
        leaf_index: p.index,
        tree_size: size,
        leaf_hash: toBase64(nodes.get(nodeKey({ level: 0, index: p.index }))!),
        audit_path: await hashes(p.ranges, nodes),
      });
    }
    return out;
  }

  async consistency(first: number, second: number): Promise<ConsistencyProof> {
    this.checkSize(second, 'to');
    if (!Number.isSafeInteger(first) || first < 0 || first > second) throw auditRangeError(`from (${first}) must be between 0 and to (${second})`);
    const ranges = consistencyRanges(first, second);
    return { first, second, consistency: await hashes(ranges, await this.nodesFor(ranges)) };
  }

  async rootAt(size: number): Promise<Hash> {
    this.checkSize(size, 'size');
    if (size === 0) return nodeSha256(new Uint8Array(0));
    const range: Range = [0, size];
    return rangeHash(range, await this.nodesFor([range]), pair);
  }

  private checkSize(size: number, name: string): void {
    const committed = this.store.auditSize;
    if (!Number.isSafeInteger(size) || size < 0 || size > committed) {
      throw auditRangeError(`${name} ${size} is not a tree size of this log (0 … ${committed})`);
    }
  }

  private async nodesFor(ranges: Range[]): Promise<Map<string, Hash>> {
    const ids = ranges.flatMap((r) => decompose(r));
    const nodes = await this.store.auditNodes(ids);
    for (const id of ids) {
      if (!nodes.has(nodeKey(id))) {
        throw new LoopgateError('LOOPGATE_ERR_AUDIT_DAMAGED', `node ${nodeKey(id)} of the audit tree is missing; run \`loopgate audit verify\``);
      }
    }
    return nodes;
  }
}

async function hashes(ranges: Range[], nodes: Map<string, Hash>): Promise<string[]> {
  const out: string[] = [];
  for (const r of ranges) out.push(toBase64(await rangeHash(r, nodes, pair)));
  return out;
}
