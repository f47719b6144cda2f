/**
 * C2SP signed notes (c2sp.org/signed-note) with Ed25519 signatures, and the checkpoint body they carry
 * (c2sp.org/tlog-checkpoint): origin, tree size, base64 root hash.
 *
 *   <origin>\n<size>\n<base64 root>\n      the body (signed, newline-terminated)
 *   \n                                        a blank line
 *   — <key name> <base64(key id ‖ signature)>\n   one line per signature (U+2014 em dash)
 *
 * Key id = the first four bytes of SHA-256(name ‖ "\n" ‖ 0x01 ‖ public key), big-endian; a verifier key is
 * written `<name>+<8 hex digits of the key id>+<base64(0x01 ‖ public key)>`.
 */
import { concat, equalBytes, fromBase64, toBase64, utf8 } from './bytes.js';
import { webCryptoSha256, type Sha256 } from './hash.js';

export const ED25519_KEY_TYPE = 0x01;
const EM_DASH = '\u2014';
/** As golang.org/x/mod/sumdb/note: a verifier bounds the work a note can ask of it. */
const MAX_SIGNATURES = 100;

export interface VerifierKey {
  name: string;
  keyId: number;
  publicKey: Uint8Array;
}

export interface NoteSignature {
  name: string;
  keyId: number;
  signature: Uint8Array;
}

export interface ParsedNote {
  /** The signed text: every line of the body, each ending in "\n". */
  body: string;
  signatures: NoteSignature[];
}

export interface Checkpoint {
  origin: string;
  size: number;
  root: Uint8Array;
  /** Lines after the root hash (not used by Loopgate; kept for completeness). */
  extensions: string[];
}

/** Ed25519 verification, pluggable; the default is WebCrypto. */
export type Ed25519Verify = (publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array) => boolean | Promise<boolean>;

export const webCryptoEd25519Verify: Ed25519Verify = async (publicKey, message, signature) => {
  // (WebCrypto's types want ArrayBuffer-backed views; these always are.)
  const key = await crypto.subtle.importKey('raw', publicKey as Uint8Array<ArrayBuffer>, { name: 'Ed25519' }, false, ['verify']);
  return crypto.subtle.verify({ name: 'Ed25519' }, key, signature as Uint8Array<ArrayBuffer>, message as Uint8Array<ArrayBuffer>);
};

export class NoteError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NoteError';
  }
}

function validName(name: string): boolean {
  return name.length > 0 && !/[\s+]/.test(name);
}

export async function keyIdFor(name: string, publicKey: Uint8Array, sha: Sha256 = webCryptoSha256): Promise<number> {
  const digest = await sha(concat(utf8(name), utf8('\n'), new Uint8Array([ED25519_KEY_TYPE]), publicKey));
  return ((digest[0]! << 24) >>> 0) + (digest[1]! << 16) + (digest[2]! << 8) + digest[3]!;
}

export function formatVerifierKey(key: VerifierKey): string {
  return `${key.name}+${key.keyId.toString(16).padStart(8, '0')}+${toBase64(concat(new Uint8Array([ED25519_KEY_TYPE]), key.publicKey))}`;
}

/** Splits `name+hexid+key` (the key is base64, which may itself contain "+"). */
export function splitKey(text: string): [name: string, hex: string, key: string] {
  const m = /^([^+]+)\+([^+]*)\+(.+)$/s.exec(text);
  if (m === null) throw new NoteError('a key is name+keyid+key');
  return [m[1]!, m[2]!, m[3]!];
}

/** Parses `name+hexid+base64(0x01‖key)`; checks that the id matches the key. */
export async function parseVerifierKey(text: string, sha: Sha256 = webCryptoSha256): Promise<VerifierKey> {
  const [name, hex, b64] = splitKey(text.trim());
  if (!validName(name)) throw new NoteError(`invalid key name "${name}"`);
  if (!/^[0-9a-f]{8}$/.test(hex)) throw new NoteError('the key id must be 8 lower-case hex digits');
  const raw = fromBase64(b64);
  if (raw.length !== 33 || raw[0] !== ED25519_KEY_TYPE) throw new NoteError('only Ed25519 verifier keys (type 0x01, 32 bytes) are supported');
  const publicKey = raw.subarray(1);
  const keyId = Number.parseInt(hex, 16);
  if ((await keyIdFor(name, publicKey, sha)) !== keyId) throw new NoteError('the key id does not match the key');
  return { name, keyId, publicKey };
}

export function parseNote(text: string): ParsedNote {
  const split = text.lastIndexOf('\n\n');
  if (split < 0 || !text.endsWith('\n')) throw new NoteError('a signed note is a body, a blank line and signature lines, ending in a newline');
  // The text ends at the last blank line (it may contain blank lines of its own; a checkpoint never does).
  const body = text.slice(0, split + 1);
  if (body.length === 0 || body === '\n') throw new NoteError('the note text is empty');
  const signatureLines = text.slice(split + 2, -1).split('\n');
  if (signatureLines.length > MAX_SIGNATURES) throw new NoteError(`more than ${MAX_SIGNATURES} signatures`);
  const signatures: NoteSignature[] = [];
  for (const line of signatureLines) {
    const m = line.match(/^\u2014 (\S+) ([A-Za-z0-9+/=]+)$/);
    if (m === null) throw new NoteError(`malformed signature line: ${JSON.stringify(line)}`);
    const raw = fromBase64(m[2]!);
    if (raw.length < 5) throw new NoteError('a signature is a 4-byte key id and the signature');
    signatures.push({
      name: m[1]!,
      keyId: ((raw[0]! << 24) >>> 0) + (raw[1]! << 16) + (raw[2]! << 8) + raw[3]!,
      signature: raw.subarray(4),
    });
  }
  if (signatures.length === 0) throw new NoteError('the note has no signature');
  return { body, signatures };
}

/**
 * Verifies a signed note against trusted keys: signatures by unknown keys are ignored, and the note verifies if
 * at least one signature by a trusted key is valid (and none by a trusted key is invalid).
 */
export async function verifyNote(
  text: string,
  trusted: VerifierKey[],
  verify: Ed25519Verify = webCryptoEd25519Verify,
): Promise<{ ok: boolean; reason?: string; body?: string; verifiedBy?: VerifierKey[] }> {
  let note: ParsedNote;
  try {
    note = parseNote(text);
  } catch (e) {
    return { ok: false, reason: (e as Error).message };
  }
  const message = utf8(note.body);
  const verifiedBy: VerifierKey[] = [];
  for (const sig of note.signatures) {
    const key = trusted.find((k) => k.name === sig.name && k.keyId === sig.keyId);
    if (key === undefined) continue;
    if (!(await verify(key.publicKey, message, sig.signature))) {
      return { ok: false, reason: `the signature by ${sig.name} (${sig.keyId.toString(16).padStart(8, '0')}) is invalid`, body: note.body };
    }
    verifiedBy.push(key);
  }
  if (verifiedBy.length === 0) return { ok: false, reason: 'no signature by a trusted key', body: note.body };
  return { ok: true, body: note.body, verifiedBy };
}

export function formatCheckpointBody(c: { origin: string; size: number; root: Uint8Array }): string {
  return `${c.origin}\n${c.size}\n${toBase64(c.root)}\n`;
}

export function parseCheckpoint(body: string): Checkpoint {
  const lines = body.split('\n');
  if (lines.pop() !== '') throw new NoteError('a checkpoint body ends with a newline');
  if (lines.length < 3) throw new NoteError('a checkpoint has an origin, a size and a root hash');
  const [origin, sizeText, rootText, ...extensions] = lines as [string, string, string, ...string[]];
  if (origin.length === 0) throw new NoteError('empty origin');
  if (!/^(0|[1-9][0-9]*)$/.test(sizeText) || !Number.isSafeInteger(Number(sizeText))) throw new NoteError('invalid tree size');
  const root = fromBase64(rootText);
  if (root.length !== 32) throw new NoteError('the root hash must be 32 bytes');
  return { origin, size: Number(sizeText), root, extensions };
}

/** A signature line for a body (used by the signer, which holds the private key). */
export function signatureLine(name: string, keyId: number, signature: Uint8Array): string {
  const id = new Uint8Array([(keyId >>> 24) & 255, (keyId >>> 16) & 255, (keyId >>> 8) & 255, keyId & 255]);
  return `${EM_DASH} ${name} ${toBase64(concat(id, signature))}\n`;
}

export function sameRoot(a: Uint8Array, b: Uint8Array): boolean {
  return equalBytes(a, b);
}
