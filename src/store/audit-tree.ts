/**
 * The audit log's Merkle tree as the store maintains it: the compact range (frontier) of the committed tree in
 * memory, and for each write the rows to insert (entries with their leaf hashes, newly complete interior nodes).
 * A state is never changed: preparing a write yields the next state, which the store adopts once the write commits,
 * so a failed write leaves the tree exactly as it was.
 */
import { createHash, hash } from 'node:crypto';
import type { Insertable } from 'kysely';
import { entryText, type AuditInput } from '../core/audit/entry.js';
import { toBase64 } from '../verify/bytes.js';
import { MerkleAccumulator, type Hash, type SyncNodeHash } from '../verify/merkle.js';
import type { Sha256 } from '../verify/hash.js';
import type { AuditEntriesTable, AuditNodesTable } from './schema.js';

/** Node's native SHA-256: synchronous, so the accumulator's awaits resolve immediately. */
export const nodeSha256: Sha256 = (data) => createHash('sha256').update(data).digest();

const NODE_PREFIX = Buffer.from([1]);
/** RFC 6962 leaf hash of a text's UTF-8 bytes, synchronously (one-shot hashing: no Hash object per leaf). */
export const syncLeafHash = (text: string): Uint8Array => hash('sha256', `\u0000${text}`, 'buffer');
/** RFC 6962 node hash, synchronously (for MerkleAccumulator.appendSync). */
export const syncNodeHash: SyncNodeHash = (left, right) => hash('sha256', Buffer.concat([NODE_PREFIX, left, right], 65), 'buffer');
export const EMPTY_ROOT: Hash = createHash('sha256').digest();

export interface PreparedAudit {
  firstSeq: number;
  entries: Array<Insertable<AuditEntriesTable>>;
  nodes: Array<Insertable<AuditNodesTable>>;
  /** The tree after these entries. */
  next: AuditTreeState;
}

/**
 * The decision or case an entry links to, for the search indexes, unless it is already the entry's target: the
 * search looks in both, and each indexed reference costs every append a page write in an index on a random key.
 */
function reference(input: AuditInput, kind: 'decision' | 'case'): string | null {
  const id = input.links?.[kind];
  if (id === undefined || (input.target.type === kind && input.target.id === id)) return null;
  return id;
}

export class AuditTreeState {
  private constructor(
    private readonly acc: MerkleAccumulator,
    private readonly lastLeaf: string,
  ) {}

  static empty(): AuditTreeState {
    return new AuditTreeState(new MerkleAccumulator(nodeSha256), '');
  }

  static restore(size: number, frontier: Array<{ level: number; hash: Hash }>, lastLeaf: Hash | undefined): AuditTreeState {
    return new AuditTreeState(MerkleAccumulator.restore(size, frontier, nodeSha256), lastLeaf === undefined ? '' : toBase64(lastLeaf));
  }

  get size(): number {
    return this.acc.size;
  }

  /** Size and root of the tree as it is now (later appends do not affect the result). */
  head(): { size: number; root: Hash } {
    return { size: this.acc.size, root: this.acc.rootSync(syncNodeHash, EMPTY_ROOT) };
  }

  prepare(inputs: AuditInput[], timeMs: number): PreparedAudit {
    const acc = MerkleAccumulator.restore(this.acc.size, this.acc.frontier(), nodeSha256);
    let prev = this.lastLeaf;
    const firstSeq = acc.size;
    const entries: PreparedAudit['entries'] = [];
    const nodes: PreparedAudit['nodes'] = [];
    for (const input of inputs) {
      const seq = acc.size;
      const { text } = entryText(input, seq, timeMs, prev);
      const leaf = syncLeafHash(text);
      for (const n of acc.appendSync(leaf, syncNodeHash)) nodes.push({ level: n.level, idx: n.index, hash: n.hash });
      entries.push({
        seq,
        time: timeMs,
        action: input.action,
        actor_kind: input.actor.kind,
        actor_id: input.actor.id,
        target_type: input.target.type,
        target_id: input.target.id,
        decision_id: reference(input, 'decision'),
        case_id: reference(input, 'case'),
        entry: text,
        leaf_hash: leaf,
      });
      prev = Buffer.from(leaf.buffer, leaf.byteOffset, leaf.byteLength).toString('base64');
    }
    return { firstSeq, entries, nodes, next: new AuditTreeState(acc, prev) };
  }
}
