/**
 * `loopgate/verify`: verify Loopgate's audit log offline, with no dependencies, in Node 20+ and in browsers.
 *
 * - `canonicalize` (RFC 8785) — the bytes an audit entry is hashed in;
 * - `leafHash`, `nodeHash`, `verifyInclusion`, `verifyConsistency`, `MerkleAccumulator` (RFC 6962 / RFC 9162);
 * - `parseVerifierKey`, `verifyNote`, `parseCheckpoint` (C2SP signed notes and checkpoints, Ed25519);
 * - `verifyEntry`: an entry, its inclusion proof and a signed checkpoint, in one call.
 *
 * Hashing and signature checks use WebCrypto by default; pass faster implementations where available.
 */
export { canonicalize, CanonicalJsonError } from './canonical-json.js';
export { toBase64, fromBase64, toHex, fromHex, utf8, equalBytes } from './bytes.js';
export { webCryptoSha256, type Sha256 } from './hash.js';
export {
  leafHash,
  nodeHash,
  emptyRoot,
  verifyInclusion,
  verifyConsistency,
  MerkleAccumulator,
  type Hash,
  type CreatedNode,
  type SyncNodeHash,
  type VerifyResult,
} from './merkle.js';
export {
  parseVerifierKey,
  formatVerifierKey,
  keyIdFor,
  parseNote,
  verifyNote,
  parseCheckpoint,
  formatCheckpointBody,
  signatureLine,
  webCryptoEd25519Verify,
  NoteError,
  type VerifierKey,
  type Checkpoint,
  type Ed25519Verify,
  type ParsedNote,
} from './note.js';
export { verifyEntry, type EntryProof, type EntryVerification } from './entry.js';
export { verifyVerdictJws, type VerdictJwk } from './verdict.js';
