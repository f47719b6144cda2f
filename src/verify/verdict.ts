/**
 * Checking a verdict's server signature offline: a compact JWS (EdDSA, RFC 8037) whose payload is the RFC 8785
 * canonical verdict payload, verified with the approval key's JWK (GET /v1/keys/approval). WebCrypto only, so it
 * runs in Node 20+ and in browsers.
 */
import { canonicalize } from './canonical-json.js';

export interface VerdictJwk {
  kty: 'OKP';
  crv: 'Ed25519';
  x: string;
  kid: string;
  alg: 'EdDSA';
  use: 'sig';
}

function fromBase64Url(s: string): Uint8Array<ArrayBuffer> {
  const b64 = s.replaceAll('-', '+').replaceAll('_', '/') + '='.repeat((4 - (s.length % 4)) % 4);
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/**
 * True when `jws` is a valid signature by `jwk` over exactly `payload` (compared in canonical form, so the payload
 * may come from anywhere: the verdict record, a database export).
 */
export async function verifyVerdictJws(jws: string, payload: unknown, jwk: VerdictJwk): Promise<boolean> {
  const parts = jws.split('.');
  if (parts.length !== 3) return false;
  const [header, body, signature] = parts as [string, string, string];
  let parsed: { alg?: string; kid?: string };
  try {
    parsed = JSON.parse(new TextDecoder().decode(fromBase64Url(header))) as { alg?: string; kid?: string };
  } catch {
    return false;
  }
  if (parsed.alg !== 'EdDSA' || parsed.kid !== jwk.kid) return false;
  if (new TextDecoder().decode(fromBase64Url(body)) !== canonicalize(payload)) return false;
  const key = await crypto.subtle.importKey('jwk', { kty: 'OKP', crv: 'Ed25519', x: jwk.x }, { name: 'Ed25519' }, false, ['verify']);
  return crypto.subtle.verify({ name: 'Ed25519' }, key, fromBase64Url(signature), new TextEncoder().encode(`${header}.${body}`));
}
