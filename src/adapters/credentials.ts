/**
 * Credential primitives: argon2id password hashes (OWASP's parameters: 19 MiB, 2 passes), TOTP (RFC 6238, with
 * the time step of each accepted code returned so the caller can refuse it a second time), and opaque tokens
 * that are stored only as their SHA-256.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { hash as argon2Hash, verify as argon2Verify } from '@node-rs/argon2';
import { generateSecret, generateURI, verify as totpVerify } from 'otplib';

// algorithm 2 = Argon2id (the package's const enum cannot be imported under verbatimModuleSyntax).
const ARGON2 = { algorithm: 2, memoryCost: 19456, timeCost: 2, parallelism: 1 };

export function hashPassword(password: string): Promise<string> {
  return argon2Hash(password, ARGON2);
}

/** A hash of a random password, verified against when the account does not exist: both cases take as long. */
let decoy: Promise<string> | undefined;

export async function verifyPassword(hash: string | undefined, password: string): Promise<boolean> {
  decoy ??= hashPassword('decoy password that nobody has');
  try {
    return await argon2Verify(hash ?? (await decoy), password);
  } catch {
    return false;
  }
}

export function newTotpSecret(): string {
  return generateSecret({ length: 20 });
}

export function totpUri(secret: string, account: string, issuer: string): string {
  return generateURI({ secret, label: account, issuer });
}

/**
 * Checks a 6-digit code against the current time step and the one before (clock drift of up to 30 s), refusing
 * any step at or before `afterStep`: a code is accepted once. Returns the matched step, or undefined.
 */
export async function verifyTotp(secret: string, code: string, nowMs: number, afterStep: number): Promise<number | undefined> {
  if (!/^\d{6}$/.test(code)) return undefined;
  try {
    const r = await totpVerify({ secret, token: code, epoch: Math.floor(nowMs / 1000), epochTolerance: [30, 0], afterTimeStep: afterStep > 0 ? afterStep : undefined });
    return r.valid && 'timeStep' in r ? (r as { timeStep: number }).timeStep : undefined;
  } catch {
    return undefined;
  }
}

export function sha256Url(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('base64url');
}

/** Constant-time comparison of two strings of any length (a length mismatch is not a timing oracle for hashes). */
export function sameSecret(a: string, b: string): boolean {
  const x = createHash('sha256').update(a).digest();
  const y = createHash('sha256').update(b).digest();
  return timingSafeEqual(x, y);
}
