/**
 * Verifying one audit entry end to end: the entry text is canonical JSON, its leaf hash is in the tree by the
 * inclusion proof, and that tree is the one a trusted key signed in the checkpoint.
 */
import { fromBase64, utf8 } from './bytes.js';
import { canonicalize } from './canonical-json.js';
import { webCryptoSha256, type Sha256 } from './hash.js';
import { leafHash, verifyInclusion } from './merkle.js';
import { parseCheckpoint, verifyNote, webCryptoEd25519Verify, type Ed25519Verify, type VerifierKey } from './note.js';

export interface EntryProof {
  /** The entry exactly as stored (canonical JSON). */
  entry: string;
  index: number;
  /** Base64 hashes of the inclusion proof, for the tree size of the checkpoint. */
  proof: string[];
  /** The signed checkpoint note. */
  checkpoint: string;
}

export interface EntryVerification {
  ok: boolean;
  /** Each check, in order, with its result. */
  checks: Array<{ check: string; ok: boolean; detail?: string }>;
}

export async function verifyEntry(
  p: EntryProof,
  trusted: VerifierKey[],
  options: { sha?: Sha256; ed25519?: Ed25519Verify } = {},
): Promise<EntryVerification> {
  const sha = options.sha ?? webCryptoSha256;
  const checks: EntryVerification['checks'] = [];
  const done = (): EntryVerification => ({ ok: checks.every((c) => c.ok), checks });

  let canonical = false;
  try {
    const parsed = JSON.parse(p.entry) as { seq?: unknown };
    canonical = canonicalize(parsed) === p.entry;
    checks.push({ check: 'entry is canonical JSON (RFC 8785)', ok: canonical });
    checks.push({ check: 'entry sequence number matches its index', ok: parsed.seq === p.index });
  } catch (e) {
    checks.push({ check: 'entry is JSON', ok: false, detail: (e as Error).message });
    return done();
  }

  const note = await verifyNote(p.checkpoint, trusted, options.ed25519 ?? webCryptoEd25519Verify);
  checks.push({ check: 'checkpoint signed by a trusted key', ok: note.ok, ...(note.reason === undefined ? {} : { detail: note.reason }) });
  if (!note.ok || note.body === undefined) return done();
  const cp = parseCheckpoint(note.body);

  const leaf = await leafHash(utf8(p.entry), sha);
  const inclusion = await verifyInclusion(
    { index: p.index, size: cp.size, leaf, proof: p.proof.map(fromBase64), root: cp.root },
    sha,
  );
  checks.push({
    check: `entry ${p.index} is in the tree of ${cp.size} entries`,
    ok: inclusion.ok,
    ...(inclusion.reason === undefined ? {} : { detail: inclusion.reason }),
  });
  return done();
}
