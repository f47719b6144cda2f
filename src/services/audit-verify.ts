/**
 * Verifying the whole audit log: recompute the Merkle tree from the entries (in storage or in an export), check
 * every entry's form, sequence number, link to the entry before it and leaf hash, every stored interior node,
 * every checkpoint's signature and root, and (from storage) that each decision still has the digest its audit
 * entry recorded. The first problem names the entry where the log stops being what was signed.
 *
 * Diagnosis, for an entry at stored position p:
 *   - its sequence number skips ahead            → the entries in between were removed
 *   - its content does not match its leaf hash   → it was altered
 *   - it is not canonical JSON                   → it was altered
 *   - it names another sequence number           → reordered (it is that entry), or an entry was inserted before it
 *   - its `prev` is not the previous leaf        → the previous entry was altered (or entries were inserted)
 * One problem is reported per position, and a shift (after an insertion or a removal) is reported once, not
 * for every later entry.
 */
import { createHash } from 'node:crypto';
import { canonicalize } from '../verify/canonical-json.js';
import { equalBytes, fromBase64, toBase64 } from '../verify/bytes.js';
import { MerkleAccumulator, verifyConsistency, verifyInclusion, type Hash } from '../verify/merkle.js';
import { parseCheckpoint, verifyNote, type VerifierKey } from '../verify/note.js';
import { nodeSha256 } from '../store/audit-tree.js';

export interface SourceEntry {
  /** The sequence number the entry is stored under. */
  seq: number;
  /** The entry text exactly as stored. */
  text: string;
  /** The leaf hash stored with it, if the source keeps one. */
  leafHash?: Uint8Array;
  /** An inclusion proof shipped with the entry (exports), against the anchor checkpoint. */
  auditPath?: string[];
}

export interface SourceCheckpoint {
  size: number;
  note: string;
  /** The root recorded beside the note (storage), if any. */
  root?: Uint8Array;
}

/** Where the log is read from: the database, or an export file. */
export interface LogSource {
  describe: string;
  /** How many entries to expect (for progress). */
  count(): Promise<number>;
  entries(): AsyncIterable<SourceEntry>;
  checkpoints(): Promise<SourceCheckpoint[]>;
  /** Stored interior nodes in (level, index) order; absent when the source has none (exports). */
  nodes?(): AsyncIterable<{ level: number; idx: number; hash: Uint8Array }>;
  /** Consistency proofs shipped with the source (exports). */
  consistencyProofs?(): Promise<Array<{ first: number; second: number; consistency: string[] }>>;
  /** The anchor checkpoint size that shipped inclusion proofs are relative to. */
  anchorSize?(): Promise<number | undefined>;
  /** Every decision's stored document (storage), to compare with the digests the log recorded. */
  decisions?(): AsyncIterable<{ id: string; body: string; auditSeq: number | null }>;
}

export type ProblemKind = 'altered' | 'removed' | 'inserted' | 'reordered' | 'node' | 'checkpoint' | 'proof' | 'decision';

export interface Problem {
  kind: ProblemKind;
  /** The entry (sequence number) the problem is about, when it is about one. */
  seq?: number;
  message: string;
}

export interface VerifyReport {
  ok: boolean;
  source: string;
  origin: string | undefined;
  entries: number;
  root: string;
  checkpoints: { total: number; verified: number };
  nodes: { checked: number };
  proofs: { checked: number };
  decisions: { checked: number };
  /** Entries after the latest verified checkpoint: chained, but not yet covered by a signature. */
  unsigned: number;
  problems: Problem[];
  /** More problems than the report lists. */
  moreProblems: number;
  warnings: string[];
}

export interface VerifyOptions {
  trusted: VerifierKey[];
  /** The log's origin, when known; checkpoints must name it. */
  origin?: string;
  /** Called now and then with the entries processed so far. */
  onProgress?: (done: number, total: number) => void;
  /** How many problems to list (default 20). */
  maxProblems?: number;
}

const leafOf = (text: string): Uint8Array => {
  const h = createHash('sha256');
  h.update(new Uint8Array([0]));
  h.update(text, 'utf8');
  return new Uint8Array(h.digest());
};

/** Hashes of the nodes at one level, in a growing buffer (32 bytes each). */
class HashColumn {
  private buf = new Uint8Array(32 * 1024);
  length = 0;
  push(h: Uint8Array): void {
    if ((this.length + 1) * 32 > this.buf.length) {
      const bigger = new Uint8Array(this.buf.length * 2);
      bigger.set(this.buf);
      this.buf = bigger;
    }
    this.buf.set(h, this.length * 32);
    this.length++;
  }
  at(i: number): Uint8Array | undefined {
    return i < this.length ? this.buf.subarray(i * 32, i * 32 + 32) : undefined;
  }
  /** The last position ≤ before whose hash is h (a linear scan; used only to diagnose a break). */
  lastIndexOf(h: Uint8Array, before: number): number {
    for (let i = Math.min(before, this.length - 1); i >= 0; i--) if (equalBytes(this.buf.subarray(i * 32, i * 32 + 32), h)) return i;
    return -1;
  }
}

export async function verifyAuditLog(source: LogSource, options: VerifyOptions): Promise<VerifyReport> {
  const maxProblems = options.maxProblems ?? 20;
  const problems: Problem[] = [];
  let moreProblems = 0;
  const warnings: string[] = [];
  const report = (p: Problem) => {
    if (problems.length < maxProblems) problems.push(p);
    else moreProblems++;
  };

  const total = await source.count();
  const checkpoints = (await source.checkpoints()).sort((a, b) => a.size - b.size);
  const anchor = source.anchorSize === undefined ? undefined : await source.anchorSize();
  const roots = new Map<number, Hash>();
  const wanted = new Set(checkpoints.map((c) => c.size));
  if (anchor !== undefined) wanted.add(anchor);

  // Levels of the recomputed tree: level 0 holds the leaves (for diagnosis), higher levels the complete nodes.
  const levels: HashColumn[] = [new HashColumn()];
  const acc = new MerkleAccumulator(nodeSha256);
  if (wanted.has(0)) roots.set(0, await acc.root());

  // Digests of decisions, as the latest entry mentioning each recorded them.
  const digests = source.decisions === undefined ? undefined : new Map<string, { sha256: string; seq: number }>();

  let position = 0;
  let lastSeq = -1;
  let flaggedPrevious = false;
  let shift = 0;
  /** Positions found holding another entry (one side of a swap), so the other side is not taken for an insertion. */
  const reordered = new Set<number>();
  const pathChecks: Array<{ index: number; leaf: Uint8Array; path: string[] }> = [];

  for await (const row of source.entries()) {
    const p = position;
    const leaf = leafOf(row.text);
    let flagged = false;
    const flag = (problem: Problem) => {
      if (!flagged) report(problem);
      flagged = true;
    };

    if (row.seq !== lastSeq + 1) {
      if (row.seq > lastSeq + 1) {
        const missing = row.seq - lastSeq - 1;
        flag({
          kind: 'removed',
          seq: lastSeq + 1,
          message: missing === 1 ? `entry ${lastSeq + 1} was removed` : `entries ${lastSeq + 1}…${row.seq - 1} were removed`,
        });
      } else {
        flag({ kind: 'reordered', seq: row.seq, message: `entry ${row.seq} is stored out of order (after ${lastSeq})` });
      }
    }

    let parsed: { seq?: unknown; prev?: unknown; action?: unknown; data?: unknown } | undefined;
    try {
      parsed = JSON.parse(row.text) as typeof parsed;
    } catch {
      flag({ kind: 'altered', seq: row.seq, message: `entry ${row.seq} was altered: it is not JSON` });
    }
    if (parsed !== undefined && canonicalOrUndefined(parsed) !== row.text) {
      flag({ kind: 'altered', seq: row.seq, message: `entry ${row.seq} was altered: it is not in canonical form (RFC 8785)` });
    }
    if (row.leafHash !== undefined && !equalBytes(row.leafHash, leaf)) {
      flag({ kind: 'altered', seq: row.seq, message: `entry ${row.seq} was altered: its content does not match its recorded leaf hash` });
    }
    if (parsed !== undefined && typeof parsed.seq === 'number' && parsed.seq !== row.seq) {
      const claimed = parsed.seq;
      const newShift = row.seq - claimed;
      // Entries after an insertion all sit one place later: report the shift once, where it starts.
      if (newShift !== shift) {
        const prevLeaf = typeof parsed.prev === 'string' ? safeBase64(parsed.prev) : undefined;
        const linksTo = prevLeaf === undefined ? -1 : levels[0]!.lastIndexOf(prevLeaf, p - 1);
        const between = [...reordered].some((q) => q > linksTo && q < p);
        if (newShift > 0 && linksTo >= 0 && linksTo < p - 1 && !between) {
          // It still links to its real predecessor, further back: what lies between was inserted.
          const first = linksTo + 1;
          flag({
            kind: 'inserted',
            seq: first,
            message:
              first === p - 1
                ? `entry ${first} was inserted: the entry after it is entry ${claimed}, which links to entry ${linksTo}`
                : `entries ${first}…${p - 1} were inserted: the entry after them is entry ${claimed}, which links to entry ${linksTo}`,
          });
        } else {
          flag({ kind: 'reordered', seq: row.seq, message: `entry ${row.seq} was reordered: the entry stored there is entry ${claimed}` });
          reordered.add(p);
        }
        shift = newShift;
      }
    } else if (parsed !== undefined && parsed.seq !== row.seq) {
      flag({ kind: 'altered', seq: row.seq, message: `entry ${row.seq} was altered: it carries no valid sequence number` });
    } else {
      shift = 0;
    }

    if (parsed !== undefined && p > 0) {
      const expected = levels[0]!.at(p - 1)!;
      const prev = typeof parsed.prev === 'string' ? safeBase64(parsed.prev) : undefined;
      if (prev === undefined || !equalBytes(prev, expected)) {
        if (!flaggedPrevious && !flagged) {
          const linksTo = prev === undefined ? -1 : levels[0]!.lastIndexOf(prev, p - 2);
          if (linksTo >= 0 && linksTo < p - 1) {
            report({
              kind: 'inserted',
              seq: linksTo + 1,
              message: `entries ${linksTo + 1}…${p - 1} were inserted: entry ${row.seq} links to entry ${linksTo}`,
            });
          } else {
            report({
              kind: 'altered',
              seq: row.seq - 1,
              message: `entry ${row.seq - 1} was altered: entry ${row.seq} links to a different entry ${row.seq - 1}`,
            });
          }
          flagged = true;
        }
      }
    } else if (parsed !== undefined && p === 0 && parsed.prev !== '') {
      flag({ kind: 'altered', seq: row.seq, message: `entry ${row.seq} was altered: the first entry links to a previous one` });
    }

    if (digests !== undefined && parsed !== undefined) recordDigests(digests, parsed, row.seq);

    if (wanted.has(acc.size)) roots.set(acc.size, await acc.root());
    levels[0]!.push(leaf);
    for (const n of await acc.append(leaf)) {
      while (levels.length <= n.level) levels.push(new HashColumn());
      levels[n.level]!.push(n.hash);
    }
    if (row.auditPath !== undefined && anchor !== undefined && p < anchor) pathChecks.push({ index: p, leaf, path: row.auditPath });

    flaggedPrevious = flagged;
    lastSeq = Math.max(lastSeq, row.seq);
    position++;
    if (position % 50_000 === 0) options.onProgress?.(position, total);
  }
  options.onProgress?.(position, total);
  if (wanted.has(acc.size)) roots.set(acc.size, await acc.root());
  const size = acc.size;

  // Checkpoints: signed by a trusted key, naming this log, and matching the recomputed root at their size.
  let verifiedCheckpoints = 0;
  let latestVerified = 0;
  let origin = options.origin;
  for (const cp of checkpoints) {
    const note = await verifyNote(cp.note, options.trusted);
    if (!note.ok || note.body === undefined) {
      report({ kind: 'checkpoint', message: `the checkpoint of size ${cp.size} is not signed by a trusted key: ${note.reason ?? 'invalid'}` });
      continue;
    }
    let parsed;
    try {
      parsed = parseCheckpoint(note.body);
    } catch (e) {
      report({ kind: 'checkpoint', message: `the checkpoint of size ${cp.size} is malformed: ${(e as Error).message}` });
      continue;
    }
    origin ??= parsed.origin;
    if (parsed.origin !== origin) {
      report({ kind: 'checkpoint', message: `the checkpoint of size ${cp.size} is for another log ("${parsed.origin}", not "${origin}")` });
      continue;
    }
    if (parsed.size !== cp.size || (cp.root !== undefined && !equalBytes(cp.root, parsed.root))) {
      report({ kind: 'checkpoint', message: `the checkpoint stored as size ${cp.size} does not match its signed note (size ${parsed.size})` });
      continue;
    }
    if (parsed.size > size) {
      report({
        kind: 'removed',
        seq: size,
        message: `entries ${size}…${parsed.size - 1} were removed: a checkpoint signed ${parsed.size} entries, the log holds ${size}`,
      });
      continue;
    }
    const root = roots.get(parsed.size);
    if (root === undefined || !equalBytes(root, parsed.root)) {
      report({ kind: 'checkpoint', message: `the entries up to ${parsed.size} do not have the root that the checkpoint of size ${parsed.size} signed` });
      continue;
    }
    verifiedCheckpoints++;
    latestVerified = Math.max(latestVerified, parsed.size);
  }
  if (checkpoints.length === 0 && size > 0) warnings.push('no checkpoint has been signed: nothing anchors these entries');
  const unsigned = size - latestVerified;
  if (unsigned > 0 && checkpoints.length > 0) {
    warnings.push(`entries ${latestVerified}…${size - 1} are chained but not yet covered by a signed checkpoint`);
  }

  // Stored interior nodes must be the recomputed ones (proofs are served from them).
  let nodesChecked = 0;
  if (source.nodes !== undefined) {
    let reportedNodes = 0;
    const seen = levels.map(() => 0);
    for await (const n of source.nodes()) {
      nodesChecked++;
      const expected = levels[n.level]?.at(n.idx);
      if (n.level >= 1 && n.level < seen.length) seen[n.level]!++;
      if (expected === undefined || !equalBytes(expected, n.hash)) {
        if (reportedNodes++ < 3) {
          const from = n.idx * 2 ** n.level;
          report({
            kind: 'node',
            seq: from,
            message:
              expected === undefined
                ? `tree node ${n.level}/${n.idx} is stored but no entries make it (entries ${from}…${from + 2 ** n.level - 1} are missing)`
                : `tree node ${n.level}/${n.idx} (entries ${from}…${from + 2 ** n.level - 1}) does not match the entries`,
          });
        } else moreProblems++;
      }
    }
    for (let level = 1; level < levels.length; level++) {
      const missing = levels[level]!.length - seen[level]!;
      if (missing > 0) report({ kind: 'node', message: `${missing} tree node(s) of level ${level} are missing from storage` });
    }
  }

  // Proofs shipped with an export must verify against the recomputed roots.
  let proofsChecked = 0;
  if (anchor !== undefined) {
    const anchorRoot = roots.get(anchor);
    let reportedProofs = 0;
    for (const c of pathChecks) {
      proofsChecked++;
      const r = anchorRoot === undefined ? { ok: false, reason: 'no root at the anchor size' } : await verifyInclusion(
        { index: c.index, size: anchor, leaf: c.leaf, proof: c.path.map(safeBase64OrEmpty), root: anchorRoot },
        nodeSha256,
      );
      if (!r.ok && reportedProofs++ < 3) report({ kind: 'proof', seq: c.index, message: `the inclusion proof of entry ${c.index} does not verify: ${r.reason}` });
      if (proofsChecked % 50_000 === 0) options.onProgress?.(position, total);
    }
  }
  if (source.consistencyProofs !== undefined) {
    for (const c of await source.consistencyProofs()) {
      proofsChecked++;
      const root1 = roots.get(c.first);
      const root2 = roots.get(c.second);
      const r =
        root1 === undefined || root2 === undefined
          ? { ok: false, reason: 'no such tree size' }
          : await verifyConsistency({ size1: c.first, size2: c.second, root1, root2, proof: c.consistency.map(safeBase64OrEmpty) }, nodeSha256);
      if (!r.ok) report({ kind: 'proof', message: `the consistency proof from ${c.first} to ${c.second} does not verify: ${r.reason}` });
    }
  }

  // Decisions: each stored document must still have the digest its latest audit entry recorded.
  let decisionsChecked = 0;
  if (source.decisions !== undefined && digests !== undefined) {
    let reported = 0;
    let predating = 0;
    for await (const d of source.decisions()) {
      if (d.auditSeq === null) {
        // Written before the audit log existed (an upgraded database): nothing recorded them.
        predating++;
        continue;
      }
      decisionsChecked++;
      const recorded = digests.get(d.id);
      digests.delete(d.id);
      const actual = createHash('sha256').update(d.body, 'utf8').digest('base64');
      if (recorded === undefined || recorded.sha256 !== actual) {
        if (reported++ < 3) {
          report({
            kind: 'decision',
            ...(recorded === undefined ? {} : { seq: recorded.seq }),
            message:
              recorded === undefined
                ? `decision ${d.id} is not recorded in the audit log`
                : `decision ${d.id} was altered: its stored document does not match the digest entry ${recorded.seq} recorded`,
          });
        } else moreProblems++;
      }
    }
    if (predating > 0) warnings.push(`${predating} decision(s) predate the audit log and are not covered by it`);
    // What is left was recorded but is no longer stored.
    let missing = 0;
    for (const [id, recorded] of digests) {
      if (missing++ < 3) report({ kind: 'decision', seq: recorded.seq, message: `decision ${id}, recorded by entry ${recorded.seq}, was removed from the database` });
      else moreProblems++;
    }
  }

  return {
    ok: problems.length === 0,
    source: source.describe,
    origin,
    entries: size,
    root: toBase64(roots.get(size) ?? (await acc.root())),
    checkpoints: { total: checkpoints.length, verified: verifiedCheckpoints },
    nodes: { checked: nodesChecked },
    proofs: { checked: proofsChecked },
    decisions: { checked: decisionsChecked },
    unsigned: checkpoints.length === 0 ? size : unsigned,
    problems,
    moreProblems,
    warnings,
  };
}

function canonicalOrUndefined(value: unknown): string | undefined {
  try {
    return canonicalize(value);
  } catch {
    return undefined;
  }
}

function safeBase64(text: string): Uint8Array | undefined {
  try {
    return fromBase64(text);
  } catch {
    return undefined;
  }
}

function safeBase64OrEmpty(text: string): Uint8Array {
  return safeBase64(text) ?? new Uint8Array(0);
}

/** Notes the digests an entry records for decisions (`decisions.recorded`, `decisions.expired`). */
function recordDigests(digests: Map<string, { sha256: string; seq: number }>, entry: { action?: unknown; data?: unknown }, seq: number): void {
  if (entry.action !== 'decisions.recorded' && entry.action !== 'decisions.expired') return;
  const data = entry.data as { decisions?: Array<{ id: string; sha256: string }>; resolved?: Array<{ id: string; sha256: string }> } | undefined;
  for (const d of data?.decisions ?? []) digests.set(d.id, { sha256: d.sha256, seq });
  for (const d of data?.resolved ?? []) digests.set(d.id, { sha256: d.sha256, seq });
}
