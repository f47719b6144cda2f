/**
 * Verifying the whole audit log: recompute the Merkle tree from the entries (in storage or in an export), check
 * every entry's form, sequence number, link to the entry before it and leaf hash, every stored interior node,
 * every checkpoint's signature and root, and (from storage) that each decision still has the digest its audit
 * entry recorded. The first problem names the entry where the log stops being what was signed.
 *
 * Diagnosis, for an entry at stored position p:
 *   - its sequence number skips ahead            → the entries in between were removed
 *   - its content does not match its leaf hash   → it was altered
 * (Canonical form is not re-checked for every entry: any change to an entry's bytes changes its leaf, which the
 * chain, the recorded leaf hash and the signed roots catch; re-serialising a million entries would double the
 * cost of verification for no extra detection.)
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
import { EMPTY_ROOT, nodeSha256, syncLeafHash, syncNodeHash } from '../store/audit-tree.js';

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
  /** The entries in sequence order, a page at a time. */
  entries(): AsyncIterable<SourceEntry[]>;
  checkpoints(): Promise<SourceCheckpoint[]>;
  /** Stored interior nodes in (level, index) order; absent when the source has none (exports). */
  nodes?(): AsyncIterable<Array<{ level: number; idx: number; hash: Uint8Array }>>;
  /** Consistency proofs shipped with the source (exports). */
  consistencyProofs?(): Promise<Array<{ first: number; second: number; consistency: string[] }>>;
  /** The anchor checkpoint size that shipped inclusion proofs are relative to. */
  anchorSize?(): Promise<number | undefined>;
  /** Every decision's stored document (storage), to compare with the digests the log recorded. */
  decisions?(): AsyncIterable<Array<{ id: string; body: string; auditSeq: number | null }>>;
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

/** Hashes in a growing flat buffer (32 bytes each): a million leaves cost 32 MB and no objects. */
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
    return i >= 0 && i < this.length ? this.buf.subarray(i * 32, i * 32 + 32) : undefined;
  }
  /** The last position ≤ before whose hash is h (a linear scan; used only to diagnose a break). */
  lastIndexOf(h: Uint8Array, before: number): number {
    for (let i = Math.min(before, this.length - 1); i >= 0; i--) if (equalBytes(this.buf.subarray(i * 32, i * 32 + 32), h)) return i;
    return -1;
  }
}

/** The tree rebuilt from the entries: every level kept (to compare with stored nodes), roots at wanted sizes. */
class TreeRebuild {
  /** levels[0] are the leaves, levels[l] the complete nodes of level l. */
  readonly levels: HashColumn[] = [new HashColumn()];
  readonly roots = new Map<number, Hash>();
  private readonly acc = new MerkleAccumulator(nodeSha256);

  constructor(private readonly wanted: Set<number>) {
    if (wanted.has(0)) this.roots.set(0, EMPTY_ROOT);
  }

  get size(): number {
    return this.acc.size;
  }

  add(leaf: Hash): void {
    this.levels[0]!.push(leaf);
    for (const n of this.acc.appendSync(leaf, syncNodeHash)) {
      while (this.levels.length <= n.level) this.levels.push(new HashColumn());
      this.levels[n.level]!.push(n.hash);
    }
    if (this.wanted.has(this.acc.size)) this.roots.set(this.acc.size, this.root());
  }

  root(): Hash {
    return this.acc.rootSync(syncNodeHash, EMPTY_ROOT);
  }
}

/** Problems in the order found, the first `max` listed; noisy kinds (nodes, proofs, decisions) capped at 3 each. */
class ProblemList {
  readonly list: Problem[] = [];
  more = 0;
  private readonly perKind = new Map<ProblemKind, number>();
  constructor(private readonly max: number) {}

  add(p: Problem, capPerKind = Infinity): void {
    const n = (this.perKind.get(p.kind) ?? 0) + 1;
    this.perKind.set(p.kind, n);
    if (this.list.length < this.max && n <= capPerKind) this.list.push(p);
    else this.more++;
  }
}

type ParsedEntry = { seq?: unknown; prev?: unknown; action?: unknown; data?: unknown };

/**
 * Checks entries one by one, in stored order, against the entry before: see the module comment for what each
 * finding means. One problem per position; a shift after an insertion or removal is reported where it starts.
 */
class EntryChecker {
  private position = 0;
  private lastSeq = -1;
  private previousLeaf = '';
  private flaggedPrevious = false;
  private shift = 0;
  /** Positions found holding another entry (one side of a swap), so the other side is not taken for an insertion. */
  private readonly reordered = new Set<number>();
  readonly pathChecks: Array<{ index: number; leaf: Uint8Array; path: string[] }> = [];

  constructor(
    private readonly tree: TreeRebuild,
    private readonly problems: ProblemList,
    private readonly anchor: number | undefined,
    /** Digests of decisions, as the latest entry mentioning each recorded them. */
    readonly digests: Map<string, { sha256: string; seq: number }> | undefined,
  ) {}

  check(row: SourceEntry): void {
    const p = this.position;
    const leaf = syncLeafHash(row.text);
    let flagged = false;
    const flag = (problem: Problem) => {
      if (!flagged) this.problems.add(problem);
      flagged = true;
    };

    if (row.seq !== this.lastSeq + 1) {
      const expected = this.lastSeq + 1;
      if (row.seq > expected) {
        flag({
          kind: 'removed',
          seq: expected,
          message: row.seq - expected === 1 ? `entry ${expected} was removed` : `entries ${expected}…${row.seq - 1} were removed`,
        });
      } else {
        flag({ kind: 'reordered', seq: row.seq, message: `entry ${row.seq} is stored out of order (after ${this.lastSeq})` });
      }
    }

    let parsed: ParsedEntry | undefined;
    try {
      parsed = JSON.parse(row.text) as ParsedEntry;
    } catch {
      flag({ kind: 'altered', seq: row.seq, message: `entry ${row.seq} was altered: it is not JSON` });
    }
    if (row.leafHash !== undefined && !equalBytes(row.leafHash, leaf)) {
      // Whether it is still in canonical form tells an edit by hand from a rewrite by a program.
      const form = parsed !== undefined && canonicalOrUndefined(parsed) !== row.text ? ' (and it is not in canonical form)' : '';
      flag({ kind: 'altered', seq: row.seq, message: `entry ${row.seq} was altered: its content does not match its recorded leaf hash${form}` });
    }
    if (parsed !== undefined) {
      this.checkSequence(row, parsed, p, flag);
      if (!flagged) this.checkLink(row, parsed, p, () => (flagged = true));
      if (this.digests !== undefined) recordDigests(this.digests, parsed, row.seq);
    }

    this.tree.add(leaf);
    if (row.auditPath !== undefined && this.anchor !== undefined && p < this.anchor) this.pathChecks.push({ index: p, leaf, path: row.auditPath });
    this.previousLeaf = Buffer.from(leaf.buffer, leaf.byteOffset, leaf.length).toString('base64');
    this.flaggedPrevious = flagged;
    this.lastSeq = Math.max(this.lastSeq, row.seq);
    this.position++;
  }

  /** The sequence number the entry carries against the one it is stored under. */
  private checkSequence(row: SourceEntry, parsed: ParsedEntry, p: number, flag: (problem: Problem) => void): void {
    if (typeof parsed.seq !== 'number') {
      flag({ kind: 'altered', seq: row.seq, message: `entry ${row.seq} was altered: it carries no valid sequence number` });
      return;
    }
    if (parsed.seq === row.seq) {
      this.shift = 0;
      return;
    }
    const claimed = parsed.seq;
    const newShift = row.seq - claimed;
    // Entries after an insertion all sit one place later: the shift is reported once, where it starts.
    if (newShift === this.shift) {
      flag({ kind: 'reordered', seq: row.seq, message: '' }); // marks the position; not listed (already reported)
      return;
    }
    const prevLeaf = typeof parsed.prev === 'string' ? safeBase64(parsed.prev) : undefined;
    const leaves = this.tree.levels[0]!;
    const linksTo = prevLeaf === undefined ? -1 : leaves.lastIndexOf(prevLeaf, p - 1);
    const between = [...this.reordered].some((q) => q > linksTo && q < p);
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
      this.reordered.add(p);
    }
    this.shift = newShift;
  }

  /** The entry's `prev` against the leaf hash of the entry stored before it. */
  private checkLink(row: SourceEntry, parsed: ParsedEntry, p: number, markFlagged: () => void): void {
    if (p === 0) {
      if (parsed.prev !== '') {
        this.problems.add({ kind: 'altered', seq: row.seq, message: `entry ${row.seq} was altered: the first entry links to a previous one` });
        markFlagged();
      }
      return;
    }
    if (parsed.prev === this.previousLeaf || this.flaggedPrevious) return;
    const prev = typeof parsed.prev === 'string' ? safeBase64(parsed.prev) : undefined;
    const linksTo = prev === undefined ? -1 : this.tree.levels[0]!.lastIndexOf(prev, p - 2);
    if (linksTo >= 0 && linksTo < p - 1) {
      this.problems.add({ kind: 'inserted', seq: linksTo + 1, message: `entries ${linksTo + 1}…${p - 1} were inserted: entry ${row.seq} links to entry ${linksTo}` });
    } else {
      this.problems.add({ kind: 'altered', seq: row.seq - 1, message: `entry ${row.seq - 1} was altered: entry ${row.seq} links to a different entry ${row.seq - 1}` });
    }
    markFlagged();
  }
}

export async function verifyAuditLog(source: LogSource, options: VerifyOptions): Promise<VerifyReport> {
  const problems = new ProblemList(options.maxProblems ?? 20);
  const warnings: string[] = [];
  const total = await source.count();
  const checkpoints = (await source.checkpoints()).sort((a, b) => a.size - b.size);
  const anchor = source.anchorSize === undefined ? undefined : await source.anchorSize();
  const wanted = new Set(checkpoints.map((c) => c.size));
  if (anchor !== undefined) wanted.add(anchor);
  const consistency = source.consistencyProofs === undefined ? [] : await source.consistencyProofs();
  for (const c of consistency) wanted.add(c.first).add(c.second);

  const tree = new TreeRebuild(wanted);
  const entries = new EntryChecker(tree, problems, anchor, source.decisions === undefined ? undefined : new Map());
  let done = 0;
  for await (const page of source.entries()) {
    for (const row of page) entries.check(row);
    done += page.length;
    options.onProgress?.(done, total);
  }
  const size = tree.size;
  const root = tree.root();

  const cp = await checkCheckpoints(checkpoints, tree, problems, options.trusted, options.origin);
  if (checkpoints.length === 0 && size > 0) warnings.push('no checkpoint has been signed: nothing anchors these entries');
  if (checkpoints.length > 0 && cp.latestVerified < size) {
    warnings.push(`entries ${cp.latestVerified}…${size - 1} are chained but not yet covered by a signed checkpoint`);
  }
  const nodesChecked = source.nodes === undefined ? 0 : await checkNodes(source.nodes(), tree, problems);
  const proofsChecked = await checkProofs(entries.pathChecks, consistency, anchor, tree, problems);
  const decisionsChecked =
    source.decisions === undefined || entries.digests === undefined ? 0 : await checkDecisions(source.decisions(), entries.digests, problems, warnings);

  return {
    ok: problems.list.length === 0 && problems.more === 0,
    source: source.describe,
    origin: cp.origin,
    entries: size,
    root: toBase64(root),
    checkpoints: { total: checkpoints.length, verified: cp.verified },
    nodes: { checked: nodesChecked },
    proofs: { checked: proofsChecked },
    decisions: { checked: decisionsChecked },
    unsigned: checkpoints.length === 0 ? size : size - cp.latestVerified,
    problems: problems.list,
    moreProblems: problems.more,
    warnings,
  };
}

/** Checkpoints: signed by a trusted key, naming this log, and matching the recomputed root at their size. */
async function checkCheckpoints(
  checkpoints: SourceCheckpoint[],
  tree: TreeRebuild,
  problems: ProblemList,
  trusted: VerifierKey[],
  expectedOrigin: string | undefined,
): Promise<{ verified: number; latestVerified: number; origin: string | undefined }> {
  let verified = 0;
  let latestVerified = 0;
  let origin = expectedOrigin;
  const size = tree.size;
  for (const cp of checkpoints) {
    const note = await verifyNote(cp.note, trusted);
    if (!note.ok || note.body === undefined) {
      problems.add({ kind: 'checkpoint', message: `the checkpoint of size ${cp.size} is not signed by a trusted key: ${note.reason ?? 'invalid'}` });
      continue;
    }
    let parsed;
    try {
      parsed = parseCheckpoint(note.body);
    } catch (e) {
      problems.add({ kind: 'checkpoint', message: `the checkpoint of size ${cp.size} is malformed: ${(e as Error).message}` });
      continue;
    }
    origin ??= parsed.origin;
    if (parsed.origin !== origin) {
      problems.add({ kind: 'checkpoint', message: `the checkpoint of size ${cp.size} is for another log ("${parsed.origin}", not "${origin}")` });
    } else if (parsed.size !== cp.size || (cp.root !== undefined && !equalBytes(cp.root, parsed.root))) {
      problems.add({ kind: 'checkpoint', message: `the checkpoint stored as size ${cp.size} does not match its signed note (size ${parsed.size})` });
    } else if (parsed.size > size) {
      problems.add({
        kind: 'removed',
        seq: size,
        message: `entries ${size}…${parsed.size - 1} were removed: a checkpoint signed ${parsed.size} entries, the log holds ${size}`,
      });
    } else if (!equalBytes(tree.roots.get(parsed.size) ?? new Uint8Array(0), parsed.root)) {
      problems.add({ kind: 'checkpoint', message: `the entries up to ${parsed.size} do not have the root that the checkpoint of size ${parsed.size} signed` });
    } else {
      verified++;
      latestVerified = Math.max(latestVerified, parsed.size);
    }
  }
  return { verified, latestVerified, origin };
}

/** Stored interior nodes must be the recomputed ones (proofs are served from them), and none may be missing. */
async function checkNodes(
  pages: AsyncIterable<Array<{ level: number; idx: number; hash: Uint8Array }>>,
  tree: TreeRebuild,
  problems: ProblemList,
): Promise<number> {
  let checked = 0;
  const seen = tree.levels.map(() => 0);
  for await (const page of pages) {
    for (const n of page) {
      checked++;
      const expected = tree.levels[n.level]?.at(n.idx);
      if (n.level >= 1 && n.level < seen.length) seen[n.level]!++;
      if (expected !== undefined && equalBytes(expected, n.hash)) continue;
      const from = n.idx * 2 ** n.level;
      const range = `entries ${from}…${from + 2 ** n.level - 1}`;
      problems.add(
        {
          kind: 'node',
          seq: from,
          message:
            expected === undefined
              ? `tree node ${n.level}/${n.idx} is stored but no entries make it (${range} are missing)`
              : `tree node ${n.level}/${n.idx} (${range}) does not match the entries`,
        },
        3,
      );
    }
  }
  for (let level = 1; level < tree.levels.length; level++) {
    const missing = tree.levels[level]!.length - seen[level]!;
    if (missing > 0) problems.add({ kind: 'node', message: `${missing} tree node(s) of level ${level} are missing from storage` });
  }
  return checked;
}

/** Proofs shipped with an export must verify against the recomputed roots. */
async function checkProofs(
  paths: Array<{ index: number; leaf: Uint8Array; path: string[] }>,
  consistency: Array<{ first: number; second: number; consistency: string[] }>,
  anchor: number | undefined,
  tree: TreeRebuild,
  problems: ProblemList,
): Promise<number> {
  const anchorRoot = anchor === undefined ? undefined : tree.roots.get(anchor);
  for (const c of paths) {
    const r =
      anchorRoot === undefined || anchor === undefined
        ? { ok: false, reason: 'no root at the anchor size' }
        : await verifyInclusion({ index: c.index, size: anchor, leaf: c.leaf, proof: c.path.map(safeBase64OrEmpty), root: anchorRoot }, nodeSha256);
    if (!r.ok) problems.add({ kind: 'proof', seq: c.index, message: `the inclusion proof of entry ${c.index} does not verify: ${r.reason}` }, 3);
  }
  for (const c of consistency) {
    const root1 = tree.roots.get(c.first);
    const root2 = tree.roots.get(c.second);
    const r =
      root1 === undefined || root2 === undefined
        ? { ok: false, reason: 'no such tree size' }
        : await verifyConsistency({ size1: c.first, size2: c.second, root1, root2, proof: c.consistency.map(safeBase64OrEmpty) }, nodeSha256);
    if (!r.ok) problems.add({ kind: 'proof', message: `the consistency proof from ${c.first} to ${c.second} does not verify: ${r.reason}` }, 3);
  }
  return paths.length + consistency.length;
}

/** Each stored decision must still have the digest its latest audit entry recorded, and none may be missing. */
async function checkDecisions(
  pages: AsyncIterable<Array<{ id: string; body: string; auditSeq: number | null }>>,
  digests: Map<string, { sha256: string; seq: number }>,
  problems: ProblemList,
  warnings: string[],
): Promise<number> {
  let checked = 0;
  let predating = 0;
  for await (const page of pages) {
    for (const d of page) {
      if (d.auditSeq === null) {
        // Written before the audit log existed (an upgraded database): nothing recorded them.
        predating++;
        continue;
      }
      checked++;
      const recorded = digests.get(d.id);
      digests.delete(d.id);
      const actual = createHash('sha256').update(d.body, 'utf8').digest('base64');
      if (recorded !== undefined && recorded.sha256 === actual) continue;
      problems.add(
        {
          kind: 'decision',
          ...(recorded === undefined ? {} : { seq: recorded.seq }),
          message:
            recorded === undefined
              ? `decision ${d.id} is not recorded in the audit log`
              : `decision ${d.id} was altered: its stored document does not match the digest entry ${recorded.seq} recorded`,
        },
        3,
      );
    }
  }
  if (predating > 0) warnings.push(`${predating} decision(s) predate the audit log and are not covered by it`);
  // What is left was recorded but is no longer stored.
  for (const [id, recorded] of digests) {
    problems.add({ kind: 'decision', seq: recorded.seq, message: `decision ${id}, recorded by entry ${recorded.seq}, was removed from the database` }, 3);
  }
  return checked;
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
