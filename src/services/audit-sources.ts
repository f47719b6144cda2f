/**
 * Where `audit verify` reads the log from (the database, or an export file), and `audit export` itself.
 *
 * Export format (JSON Lines, `loopgate-audit-export` version 1), in this order:
 *   {"type":"header", "origin", "exported_at", "size", "anchor": <size of the latest checkpoint>, "verifier_keys"}
 *   {"type":"checkpoint", "size", "checkpoint": <signed note>}                 every stored checkpoint, by size
 *   {"type":"consistency", "first", "second", "consistency": [base64…]}       between consecutive checkpoints
 *   {"type":"entry", "index", "leaf_hash", "entry": <exact stored text>, "audit_path": [base64…]}
 * Each entry's audit_path is its RFC 6962 inclusion proof in the anchor checkpoint's tree (entries appended
 * after the anchor have none). The verifier keys in the header are informational: verification trusts only the
 * keys the auditor supplies.
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Writable } from 'node:stream';
import { once } from 'node:events';
import { LoopgateError } from '../core/errors.js';
import type { NodeId } from '../core/audit/proofs.js';
import type { Store } from '../store/store.js';
import { fromBase64 } from '../verify/bytes.js';
import { ProofReader } from './audit-proofs.js';
import type { LogSource, SourceCheckpoint, SourceEntry } from './audit-verify.js';

const PAGE = 5000;
export const EXPORT_FORMAT = 'loopgate-audit-export';

/** Keyset paging: each page starts after the last row of the one before. */
async function* pages<T, K>(read: (after: K) => Promise<T[]>, keyOf: (row: T) => K, start: K): AsyncIterable<T[]> {
  let after = start;
  for (;;) {
    const page = await read(after);
    if (page.length > 0) yield page;
    if (page.length < PAGE) return;
    after = keyOf(page[page.length - 1]!);
  }
}

/** The log as stored in the database. */
export function storeLogSource(store: Store): LogSource {
  return {
    describe: `database ${store.location}`,
    count: () => store.countAuditEntries(),
    entries: () =>
      map(
        pages((after: number) => store.auditEntriesAfter(after, PAGE), (r) => r.seq, -1),
        (r): SourceEntry => ({ seq: r.seq, text: r.entry, leafHash: r.leaf_hash }),
      ),
    checkpoints: async () =>
      (await store.allCheckpoints()).map((c): SourceCheckpoint => ({ size: c.size, note: c.note, root: new Uint8Array(c.root) })),
    // Level 0 holds no stored nodes (leaves live in the entries), so paging starts past it.
    nodes: () => pages((after: NodeId) => store.auditNodesAfter(after, PAGE), (n) => ({ level: n.level, index: n.idx }), { level: 0, index: Number.MAX_SAFE_INTEGER }),
    decisions: () =>
      map(
        pages((after: number) => store.decisionsAfter(after, PAGE), (d) => d.seq, 0),
        (d) => ({ id: d.id, body: d.body, auditSeq: d.audit_seq }),
      ),
  };
}

async function* map<T, U>(source: AsyncIterable<T[]>, f: (t: T) => U): AsyncIterable<U[]> {
  for await (const page of source) yield page.map(f);
}

interface ExportHeader {
  type: 'header';
  format: string;
  version: number;
  origin: string;
  exported_at: string;
  size: number;
  anchor: number | null;
  verifier_keys: string[];
}

/** Writes the export; resolves with the number of entries written. */
export async function writeAuditExport(
  store: Store,
  out: Writable,
  meta: { origin: string; verifierKeys: string[]; nowMs: number; onProgress?: (done: number, total: number) => void },
): Promise<{ entries: number; anchor: number | null }> {
  const write = async (value: unknown) => {
    if (!out.write(`${JSON.stringify(value)}\n`)) await once(out, 'drain');
  };
  const size = store.auditSize;
  const checkpoints = await store.allCheckpoints();
  const anchor = checkpoints.length === 0 ? null : checkpoints[checkpoints.length - 1]!.size;
  const header: ExportHeader = {
    type: 'header',
    format: EXPORT_FORMAT,
    version: 1,
    origin: meta.origin,
    exported_at: new Date(meta.nowMs).toISOString(),
    size,
    anchor,
    verifier_keys: meta.verifierKeys,
  };
  await write(header);
  for (const c of checkpoints) await write({ type: 'checkpoint', size: c.size, checkpoint: c.note });
  const proofs = new ProofReader(store);
  for (let i = 1; i < checkpoints.length; i++) {
    const p = await proofs.consistency(checkpoints[i - 1]!.size, checkpoints[i]!.size);
    await write({ type: 'consistency', ...p });
  }
  let done = 0;
  let after = -1;
  for (;;) {
    const page = await store.auditEntriesAfter(after, 1000);
    const provable = anchor === null ? [] : page.filter((r) => r.seq < anchor).map((r) => r.seq);
    const paths = new Map((anchor === null ? [] : await proofs.inclusionMany(provable, anchor)).map((p) => [p.leaf_index, p.audit_path]));
    for (const r of page) {
      const line: Record<string, unknown> = { type: 'entry', index: r.seq, leaf_hash: Buffer.from(r.leaf_hash).toString('base64'), entry: r.entry };
      const path = paths.get(r.seq);
      if (path !== undefined) line.audit_path = path;
      await write(line);
    }
    done += page.length;
    meta.onProgress?.(done, size);
    if (page.length < 1000) break;
    after = page[page.length - 1]!.seq;
  }
  return { entries: done, anchor };
}

/** An export file as a log source. Malformed lines are a usage error (exit 2), not a verification failure. */
export async function exportLogSource(path: string): Promise<LogSource & { header: ExportHeader }> {
  const lines = async function* (): AsyncIterable<{ n: number; value: Record<string, unknown> }> {
    const rl = createInterface({ input: createReadStream(path, 'utf8'), crlfDelay: Infinity });
    let n = 0;
    for await (const line of rl) {
      n++;
      if (line.trim() === '') continue;
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch {
        throw new LoopgateError('LOOPGATE_ERR_VALIDATION', `${path}:${n}: not JSON`);
      }
      if (value === null || typeof value !== 'object') throw new LoopgateError('LOOPGATE_ERR_VALIDATION', `${path}:${n}: not a JSON object`);
      yield { n, value: value as Record<string, unknown> };
    }
  };
  let header: ExportHeader | undefined;
  const checkpoints: SourceCheckpoint[] = [];
  const consistency: Array<{ first: number; second: number; consistency: string[] }> = [];
  let count = 0;
  for await (const { n, value } of lines()) {
    if (n === 1) {
      if (value.type !== 'header' || value.format !== EXPORT_FORMAT) {
        throw new LoopgateError('LOOPGATE_ERR_VALIDATION', `${path} is not a Loopgate audit export (its first line is not a ${EXPORT_FORMAT} header)`);
      }
      header = value as unknown as ExportHeader;
    } else if (value.type === 'checkpoint') checkpoints.push({ size: Number(value.size), note: String(value.checkpoint) });
    else if (value.type === 'consistency') consistency.push(value as never);
    else if (value.type === 'entry') count++;
  }
  if (header === undefined) throw new LoopgateError('LOOPGATE_ERR_VALIDATION', `${path} is empty`);
  const anchor = header.anchor;
  return {
    header,
    describe: `export ${path}`,
    count: async () => count,
    async *entries(): AsyncIterable<SourceEntry[]> {
      let page: SourceEntry[] = [];
      for await (const { n, value } of lines()) {
        if (value.type !== 'entry') continue;
        if (typeof value.index !== 'number' || typeof value.entry !== 'string' || typeof value.leaf_hash !== 'string') {
          throw new LoopgateError('LOOPGATE_ERR_VALIDATION', `${path}:${n}: an entry line needs index, leaf_hash and entry`);
        }
        const e: SourceEntry = { seq: value.index, text: value.entry, leafHash: decode(value.leaf_hash) };
        if (Array.isArray(value.audit_path)) e.auditPath = value.audit_path.map(String);
        page.push(e);
        if (page.length === PAGE) {
          yield page;
          page = [];
        }
      }
      if (page.length > 0) yield page;
    },
    checkpoints: async () => checkpoints,
    consistencyProofs: async () => consistency,
    anchorSize: async () => anchor ?? undefined,
  };
}

function decode(b64: string): Uint8Array {
  try {
    return fromBase64(b64);
  } catch {
    return new Uint8Array(0);
  }
}
