/**
 * The checkpoint signing key: an Ed25519 key in the signed-note signer format
 * `PRIVATE+KEY+<name>+<8 hex key id>+<base64(0x01 ‖ 32-byte seed)>` (the format golang.org/x/mod/sumdb/note and
 * the transparency-dev tools use), kept in a file only its owner can read, or supplied through configuration.
 *
 * Key directory layout:
 *   checkpoint.key         the active private key (mode 0600; Loopgate refuses a file others can read)
 *   trusted/<keyid>.pub    verifier keys, one per key ever used: rotation adds one and removes none, so every
 *                          checkpoint signed before stays verifiable
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { chmod, mkdir, open, readdir, readFile, rename, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { LoopgateError } from '../core/errors.js';
import { concat, fromBase64, toBase64 } from '../verify/bytes.js';
import { formatVerifierKey, keyIdFor, parseVerifierKey, splitKey, type VerifierKey } from '../verify/note.js';
import { nodeSha256 } from '../store/audit-tree.js';

const PRIVATE_PREFIX = 'PRIVATE+KEY+';
const KEY_FILE = 'checkpoint.key';
const TRUSTED_DIR = 'trusted';
// PKCS#8 wrapping of a raw Ed25519 seed (RFC 8410): a fixed 16-byte header, then the 32 bytes.
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

export interface CheckpointSigner {
  name: string;
  keyId: number;
  /** `name+keyid+base64(0x01 ‖ public key)`: what verifiers trust. */
  verifierKey: string;
  sign(message: Uint8Array): Uint8Array;
}

/** A key name is the log's origin: printable, no spaces, no "+". */
export function validKeyName(name: string): boolean {
  return /^[\x21-\x2a\x2c-\x7e]+$/.test(name);
}

async function signerFromSeed(name: string, seed: Uint8Array): Promise<CheckpointSigner> {
  const privateKey: KeyObject = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]), format: 'der', type: 'pkcs8' });
  const publicKey = new Uint8Array(Buffer.from(createPublicKey(privateKey).export({ format: 'jwk' }).x!, 'base64url'));
  const keyId = await keyIdFor(name, publicKey, nodeSha256);
  return {
    name,
    keyId,
    verifierKey: formatVerifierKey({ name, keyId, publicKey }),
    sign: (message) => new Uint8Array(sign(null, message, privateKey)),
  };
}

/** Parses a private signer key; checks its id against its public key. The text itself is never logged. */
export async function parseSignerKey(text: string): Promise<CheckpointSigner> {
  const bad = (why: string) => new LoopgateError('LOOPGATE_ERR_CONFIG_INVALID', `the checkpoint signing key is not valid: ${why}`);
  const t = text.trim();
  if (!t.startsWith(PRIVATE_PREFIX)) throw bad(`it must start with ${PRIVATE_PREFIX}`);
  let name: string, hex: string, b64: string;
  try {
    [name, hex, b64] = splitKey(t.slice(PRIVATE_PREFIX.length));
  } catch {
    throw bad('expected PRIVATE+KEY+<name>+<key id>+<key>');
  }
  if (!validKeyName(name)) throw bad('the name must be printable, without spaces or "+"');
  let raw: Uint8Array;
  try {
    raw = fromBase64(b64);
  } catch {
    throw bad('the key is not base64');
  }
  if (raw.length !== 33 || raw[0] !== 0x01) throw bad('only Ed25519 keys (type 0x01, 32 bytes) are supported');
  const signer = await signerFromSeed(name, raw.subarray(1));
  if (hex !== signer.keyId.toString(16).padStart(8, '0')) throw bad('the key id does not match the key');
  return signer;
}

/** A new private signer key (as text) and its signer. */
export async function generateSignerKey(name: string): Promise<{ text: string; signer: CheckpointSigner }> {
  if (!validKeyName(name)) {
    throw new LoopgateError('LOOPGATE_ERR_CONFIG_INVALID', `"${name}" cannot name a signing key: use printable characters without spaces or "+"`);
  }
  const { privateKey } = generateKeyPairSync('ed25519');
  const der = privateKey.export({ format: 'der', type: 'pkcs8' });
  const seed = new Uint8Array(der.subarray(der.length - 32));
  const signer = await signerFromSeed(name, seed);
  const text = `${PRIVATE_PREFIX}${name}+${signer.keyId.toString(16).padStart(8, '0')}+${toBase64(concat(new Uint8Array([1]), seed))}`;
  return { text, signer };
}

/** Writes a file durably and atomically with the given mode (temporary file, fsync, rename). */
export async function writeFileAtomic(path: string, text: string, mode: number): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  const handle = await open(tmp, 'w', mode);
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await chmod(tmp, mode);
  await rename(tmp, path);
}

export interface KeyDirectory {
  signer: CheckpointSigner;
  /** Verifier keys of every key this directory has held, the active one included. */
  trusted: string[];
  /** True when this call created the key. */
  created: boolean;
}

/** Loads the active key from a directory, creating the directory and the key on first use. */
export async function loadOrCreateKey(directory: string, name: string): Promise<KeyDirectory> {
  await mkdir(join(directory, TRUSTED_DIR), { recursive: true, mode: 0o700 });
  const file = join(directory, KEY_FILE);
  let created = false;
  let signer: CheckpointSigner;
  const existing = await stat(file).catch(() => undefined);
  if (existing === undefined) {
    const key = await generateSignerKey(name);
    await writeFileAtomic(file, `${key.text}\n`, 0o600);
    signer = key.signer;
    created = true;
  } else {
    if ((existing.mode & 0o077) !== 0) {
      throw new LoopgateError(
        'LOOPGATE_ERR_CONFIG_INVALID',
        `${file} can be read by other users (mode ${(existing.mode & 0o777).toString(8)}); run \`chmod 600 ${file}\``,
      );
    }
    signer = await parseSignerKey(await readFile(file, 'utf8'));
  }
  if (signer.name !== name) {
    throw new LoopgateError(
      'LOOPGATE_ERR_CONFIG_INVALID',
      `the signing key in ${file} is named "${signer.name}" but the audit log's origin is "${name}"; a checkpoint key is named after its log`,
    );
  }
  await trustVerifierKey(directory, signer.verifierKey);
  return { signer, trusted: await readTrustedKeys(directory), created };
}

/** The name of the key in a key directory, if it holds one. */
export async function existingKeyName(directory: string): Promise<string | undefined> {
  const text = await readFile(join(directory, KEY_FILE), 'utf8').catch(() => undefined);
  return text === undefined ? undefined : (await parseSignerKey(text)).name;
}

/** Replaces the active key with a new one; the old verifier key stays trusted. */
export async function rotateKey(directory: string): Promise<{ previous: string; current: string }> {
  const file = join(directory, KEY_FILE);
  const old = await parseSignerKey(await readFile(file, 'utf8'));
  await trustVerifierKey(directory, old.verifierKey);
  const next = await generateSignerKey(old.name);
  await trustVerifierKey(directory, next.signer.verifierKey);
  await writeFileAtomic(file, `${next.text}\n`, 0o600);
  return { previous: old.verifierKey, current: next.signer.verifierKey };
}

async function trustVerifierKey(directory: string, verifierKey: string): Promise<void> {
  const id = splitKey(verifierKey)[1];
  const path = join(directory, TRUSTED_DIR, `${id}.pub`);
  if ((await stat(path).catch(() => undefined)) === undefined) await writeFileAtomic(path, `${verifierKey}\n`, 0o644);
}

/** Every verifier key in the directory's trusted/ folder (none if the folder does not exist). */
export async function readTrustedKeys(directory: string): Promise<string[]> {
  const dir = join(directory, TRUSTED_DIR);
  const names = await readdir(dir).catch(() => [] as string[]);
  const out: string[] = [];
  for (const n of names.filter((f) => f.endsWith('.pub')).sort()) out.push((await readFile(join(dir, n), 'utf8')).trim());
  return out;
}

/** Parses verifier keys, reporting which one is malformed. */
export async function parseTrustedKeys(texts: string[]): Promise<VerifierKey[]> {
  const out: VerifierKey[] = [];
  for (const t of texts) {
    try {
      out.push(await parseVerifierKey(t, nodeSha256));
    } catch (e) {
      throw new LoopgateError('LOOPGATE_ERR_CONFIG_INVALID', `"${t}" is not a valid verifier key: ${(e as Error).message}`);
    }
  }
  return out;
}
