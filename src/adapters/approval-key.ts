/**
 * The approval key: Ed25519, separate from the checkpoint key, with which Loopgate signs a verdict given with a
 * TOTP-backed session (a passkey verdict carries the reviewer's own signature instead). A verdict signature is a
 * compact JWS (RFC 7515, alg EdDSA per RFC 8037) over the RFC 8785 canonical verdict payload; anyone holding the
 * public key (GET /v1/keys/approval, a JWK Set) can check which verdict was signed. The key id is the RFC 7638
 * JWK thumbprint.
 *
 * Kept as PKCS#8 PEM in `approval.key` in the audit key directory, mode 0600 (refused if others can read it).
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { mkdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { LoopgateError } from '../core/errors.js';
import { canonicalize } from '../verify/canonical-json.js';
import type { VerdictJwk } from '../verify/verdict.js';
import { writeFileAtomic } from './signing-key.js';

const KEY_FILE = 'approval.key';

export interface ApprovalSigner {
  /** The public key as a JWK (with kid, alg, use). */
  jwk: VerdictJwk;
  /** A compact JWS over the given payload bytes. */
  signJws(payload: string): string;
}

function signerOf(privateKey: KeyObject): ApprovalSigner {
  const x = createPublicKey(privateKey).export({ format: 'jwk' }).x!;
  // RFC 7638: the thumbprint hashes the required members in lexicographic order.
  const kid = createHash('sha256').update(canonicalize({ crv: 'Ed25519', kty: 'OKP', x })).digest('base64url');
  const jwk: VerdictJwk = { kty: 'OKP', crv: 'Ed25519', x, kid, alg: 'EdDSA', use: 'sig' };
  const header = Buffer.from(JSON.stringify({ alg: 'EdDSA', kid, typ: 'loopgate-verdict+jws' })).toString('base64url');
  return {
    jwk,
    signJws(payload) {
      const input = `${header}.${Buffer.from(payload).toString('base64url')}`;
      return `${input}.${sign(null, Buffer.from(input), privateKey).toString('base64url')}`;
    },
  };
}

/** Loads the approval key from the key directory, creating it on first use. */
export async function loadOrCreateApprovalKey(directory: string): Promise<ApprovalSigner> {
  await mkdir(directory, { recursive: true, mode: 0o700 });
  const file = join(directory, KEY_FILE);
  const existing = await stat(file).catch(() => undefined);
  if (existing === undefined) {
    const { privateKey } = generateKeyPairSync('ed25519');
    await writeFileAtomic(file, privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(), 0o600);
    return signerOf(privateKey);
  }
  if ((existing.mode & 0o077) !== 0) {
    throw new LoopgateError('LOOPGATE_ERR_CONFIG_INVALID', `${file} can be read by other users (mode ${(existing.mode & 0o777).toString(8)}); run \`chmod 600 ${file}\``);
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(await readFile(file, 'utf8'));
  } catch (e) {
    throw new LoopgateError('LOOPGATE_ERR_CONFIG_INVALID', `${file} does not hold a PKCS#8 private key`, { cause: e });
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new LoopgateError('LOOPGATE_ERR_CONFIG_INVALID', `${file} must hold an Ed25519 key`);
  return signerOf(key);
}
