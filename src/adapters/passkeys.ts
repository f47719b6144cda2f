/**
 * Passkeys (WebAuthn) for reviewer sign-in and signed verdicts: a thin adapter over @simplewebauthn/server.
 *
 * Loopgate's rules on top of the library:
 * - user verification (PIN or biometric) is required at registration and at every assertion;
 * - the challenge is raw bytes chosen by the caller: random for sign-in, the SHA-256 of the canonical verdict for a
 *   signed verdict, so an assertion is a signature over exactly that verdict;
 * - a credential's backup eligibility may not change after registration (WebAuthn L3, verifying an assertion);
 * - the assurance level follows NIST SP 800-63B: a device-bound passkey can reach AAL3, a synced one AAL2;
 * - every failure is a LOOPGATE_ERR_PASSKEY_INVALID with a plain explanation; the library's own message, which echoes
 *   expected origins and challenges, is kept only as the error's cause, for the logs.
 */
import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
  type AuthenticationResponseJSON,
  type PublicKeyCredentialCreationOptionsJSON,
  type PublicKeyCredentialRequestOptionsJSON,
  type RegistrationResponseJSON,
} from '@simplewebauthn/server';
import { LoopgateError } from '../core/errors.js';

export type { PublicKeyCredentialCreationOptionsJSON, PublicKeyCredentialRequestOptionsJSON };

export interface PasskeyConfig {
  /** The relying party id: the registrable domain the passkeys are scoped to, e.g. `loopgate.example.com`. */
  rpId: string;
  /** Shown to the user by the browser when creating a passkey. */
  rpName: string;
  /** The exact origins (scheme://host[:port]) the reviewer UI is served from. */
  origins: string[];
}

/** What Loopgate stores per passkey (JSON in a credentials row). */
export interface StoredPasskey {
  /** base64url */
  credentialId: string;
  /** base64url of the COSE public key */
  publicKey: string;
  counter: number;
  transports?: string[];
  backedUp: boolean;
  deviceType: 'singleDevice' | 'multiDevice';
  aaguid: string;
}

export interface PasskeyAssertionResult {
  /** Store this as the passkey's counter. */
  newCounter: number;
  /** Store this too: a synced passkey's backup state can change between assertions. */
  backedUp: boolean;
  acr: string;
  amr: string[];
}

// COSE algorithm identifiers (IANA): ES256 first because nearly every authenticator has it; EdDSA and RS256 for the
// security keys and platforms that prefer those.
const COSE_ES256 = -7;
const COSE_EDDSA = -8;
const COSE_RS256 = -257;
const SUPPORTED_ALGORITHMS = [COSE_ES256, COSE_EDDSA, COSE_RS256];

/** WebAuthn caps the user handle at 64 bytes. */
const MAX_USER_HANDLE_BYTES = 64;

const ACR_DEVICE_BOUND = 'urn:loopgate:acr:aal3';
const ACR_SYNCED = 'urn:loopgate:acr:aal2';
// RFC 8176: "hwk" proof of a hardware-secured key, "swk" of a software-secured (here: synced) key, "user" user
// verification by the authenticator.
const AMR_DEVICE_BOUND = ['hwk', 'user'];
const AMR_SYNCED = ['swk', 'user'];

const KNOWN_TRANSPORTS = new Set(['ble', 'cable', 'hybrid', 'internal', 'nfc', 'smart-card', 'usb']);

const BASE64URL = /^[A-Za-z0-9_-]+$/;

function invalid(explanation: string, cause?: unknown): LoopgateError {
  return new LoopgateError('LOOPGATE_ERR_PASSKEY_INVALID', explanation, cause === undefined ? {} : { cause });
}

function toBase64Url(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64url');
}

/** A copy backed by a plain ArrayBuffer, which is what the library's `Uint8Array_` parameters ask for. */
function ownBytes(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return new Uint8Array(bytes);
}

export async function passkeyRegistrationOptions(
  cfg: PasskeyConfig,
  user: { id: string; name: string; displayName: string },
  existing: StoredPasskey[],
  challenge: Uint8Array,
): Promise<PublicKeyCredentialCreationOptionsJSON> {
  const userHandle = new TextEncoder().encode(user.id);
  if (userHandle.length === 0 || userHandle.length > MAX_USER_HANDLE_BYTES) {
    throw new LoopgateError('LOOPGATE_ERR_VALIDATION', `a passkey user id must be 1 to ${MAX_USER_HANDLE_BYTES} bytes`);
  }
  try {
    return await generateRegistrationOptions({
      rpName: cfg.rpName,
      rpID: cfg.rpId,
      userName: user.name,
      userID: userHandle,
      userDisplayName: user.displayName,
      challenge: ownBytes(challenge),
      attestationType: 'none',
      // The browser refuses to create a second passkey on an authenticator that already holds one of these.
      excludeCredentials: existing.map(descriptorOf),
      authenticatorSelection: { residentKey: 'preferred', userVerification: 'required' },
      supportedAlgorithmIDs: SUPPORTED_ALGORITHMS,
    });
  } catch (err) {
    // Only our own stored data (a credential id that is not base64url) can make this fail.
    throw new LoopgateError('LOOPGATE_ERR_INTERNAL', 'could not prepare passkey registration options', { cause: err });
  }
}

export async function verifyPasskeyRegistration(
  cfg: PasskeyConfig,
  response: unknown,
  expectedChallenge: Uint8Array,
): Promise<StoredPasskey> {
  const registration = parseRegistrationResponse(response);
  let verification: Awaited<ReturnType<typeof verifyRegistrationResponse>>;
  try {
    verification = await verifyRegistrationResponse({
      response: registration,
      expectedChallenge: toBase64Url(expectedChallenge),
      expectedOrigin: cfg.origins,
      // Optional in the library (it skips the RP ID check without it); never optional here.
      expectedRPID: cfg.rpId,
      requireUserPresence: true,
      requireUserVerification: true,
      supportedAlgorithmIDs: SUPPORTED_ALGORITHMS,
    });
  } catch (err) {
    throw invalid(explainLibraryFailure(err), err);
  }
  if (!verification.verified) throw invalid('the passkey attestation could not be verified');
  const info = verification.registrationInfo;
  // The library checks these already; repeated so a change of library defaults cannot weaken them unnoticed.
  if (!info.userVerified) throw invalid('the authenticator did not verify the user (PIN or biometric), which Loopgate requires');
  // The library takes the credential id from the authenticator data and never compares it with the id the client
  // reported; a mismatch means the response was assembled from parts.
  if (info.credential.id !== registration.id) throw invalid('the credential id does not match the authenticator data');
  const transports = registration.response.transports?.filter((t) => KNOWN_TRANSPORTS.has(t));
  return {
    credentialId: info.credential.id,
    publicKey: toBase64Url(info.credential.publicKey),
    counter: info.credential.counter,
    ...(transports && transports.length > 0 ? { transports } : {}),
    backedUp: info.credentialBackedUp,
    deviceType: info.credentialDeviceType,
    aaguid: info.aaguid,
  };
}

export async function passkeyAuthenticationOptions(
  cfg: PasskeyConfig,
  allow: StoredPasskey[],
  challenge: Uint8Array,
): Promise<PublicKeyCredentialRequestOptionsJSON> {
  try {
    return await generateAuthenticationOptions({
      rpID: cfg.rpId,
      // Empty: the browser offers any discoverable passkey for this RP (usernameless sign-in).
      allowCredentials: allow.map(descriptorOf),
      challenge: ownBytes(challenge),
      userVerification: 'required',
    });
  } catch (err) {
    throw new LoopgateError('LOOPGATE_ERR_INTERNAL', 'could not prepare passkey authentication options', { cause: err });
  }
}

export async function verifyPasskeyAssertion(
  cfg: PasskeyConfig,
  response: unknown,
  expectedChallenge: Uint8Array,
  stored: StoredPasskey,
): Promise<PasskeyAssertionResult> {
  const assertion = parseAuthenticationResponse(response);
  if (assertion.id !== stored.credentialId) throw invalid('the response was made with a different passkey');
  let verification: Awaited<ReturnType<typeof verifyAuthenticationResponse>>;
  try {
    verification = await verifyAuthenticationResponse({
      response: assertion,
      expectedChallenge: toBase64Url(expectedChallenge),
      expectedOrigin: cfg.origins,
      expectedRPID: cfg.rpId,
      credential: {
        id: stored.credentialId,
        publicKey: new Uint8Array(Buffer.from(stored.publicKey, 'base64url')),
        counter: stored.counter,
        ...(stored.transports ? { transports: stored.transports } : {}),
      },
      requireUserVerification: true,
    });
  } catch (err) {
    throw invalid(explainLibraryFailure(err), err);
  }
  // A bad signature is not an exception in the library: it comes back as `verified: false`.
  if (!verification.verified) throw invalid('the passkey signature is not valid');
  const info = verification.authenticationInfo;
  if (!info.userVerified) throw invalid('the authenticator did not verify the user (PIN or biometric), which Loopgate requires');
  // The library rejects a counter that does not increase (unless both are zero: authenticators that do not count);
  // repeated here because it is the only sign of a cloned authenticator and must not depend on a library default.
  if ((info.newCounter > 0 || stored.counter > 0) && info.newCounter <= stored.counter) {
    throw invalid('the signature counter did not increase: the response was replayed or the authenticator may be cloned');
  }
  if (info.credentialDeviceType !== stored.deviceType) {
    throw invalid('the passkey changed between device-bound and synced since it was registered');
  }
  const synced = info.credentialDeviceType === 'multiDevice' || info.credentialBackedUp;
  return {
    newCounter: info.newCounter,
    backedUp: info.credentialBackedUp,
    acr: synced ? ACR_SYNCED : ACR_DEVICE_BOUND,
    amr: [...(synced ? AMR_SYNCED : AMR_DEVICE_BOUND)],
  };
}

/** The credential id a registration or assertion response claims, to look up the stored passkey; not yet verified. */
export function credentialIdOf(response: unknown): string | undefined {
  if (!isRecord(response)) return undefined;
  const { id } = response;
  return typeof id === 'string' && BASE64URL.test(id) ? id : undefined;
}

function descriptorOf(passkey: StoredPasskey): { id: string; transports?: string[] } {
  return passkey.transports ? { id: passkey.credentialId, transports: passkey.transports } : { id: passkey.credentialId };
}

// ---- reading untrusted responses ----
// The library trusts the shape of what it is given (it reads fields of undefined on `{}`), so the response is checked
// and copied field by field first; nothing the client added beyond the WebAuthn fields reaches the library.

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function base64UrlField(record: Record<string, unknown>, name: string): string {
  const value = record[name];
  if (typeof value !== 'string' || !BASE64URL.test(value)) throw invalid(`the passkey response has no valid "${name}"`);
  return value;
}

function credentialEnvelope(response: unknown): { id: string; inner: Record<string, unknown>; clientDataJSON: string } {
  if (!isRecord(response)) throw invalid('the passkey response is not a JSON object');
  const id = base64UrlField(response, 'id');
  if (response.rawId !== id) throw invalid('the passkey response "rawId" does not match its "id"');
  if (response.type !== 'public-key') throw invalid('the passkey response is not a public-key credential');
  const inner = response.response;
  if (!isRecord(inner)) throw invalid('the passkey response has no "response" object');
  const clientDataJSON = base64UrlField(inner, 'clientDataJSON');
  rejectCrossOrigin(clientDataJSON);
  return { id, inner, clientDataJSON };
}

/**
 * The reviewer UI never runs inside another site's frame; a ceremony performed in one (clickjacking) is refused. The
 * library accepts `crossOrigin: true` whenever the browser omits `topOrigin`, which Safari does.
 */
function rejectCrossOrigin(clientDataJSON: string): void {
  let clientData: unknown;
  try {
    clientData = JSON.parse(Buffer.from(clientDataJSON, 'base64url').toString('utf8'));
  } catch {
    throw invalid('the passkey client data is not JSON');
  }
  if (!isRecord(clientData)) throw invalid('the passkey client data is not a JSON object');
  if (clientData.crossOrigin === true) throw invalid('the passkey was used inside a frame of another site');
}

function parseRegistrationResponse(response: unknown): RegistrationResponseJSON {
  const { id, inner, clientDataJSON } = credentialEnvelope(response);
  const attestationObject = base64UrlField(inner, 'attestationObject');
  const transports = Array.isArray(inner.transports)
    ? inner.transports.filter((t): t is string => typeof t === 'string')
    : undefined;
  return {
    id,
    rawId: id,
    type: 'public-key',
    response: { clientDataJSON, attestationObject, ...(transports ? { transports } : {}) },
    clientExtensionResults: {},
  };
}

function parseAuthenticationResponse(response: unknown): AuthenticationResponseJSON {
  const { id, inner, clientDataJSON } = credentialEnvelope(response);
  return {
    id,
    rawId: id,
    type: 'public-key',
    response: {
      clientDataJSON,
      authenticatorData: base64UrlField(inner, 'authenticatorData'),
      signature: base64UrlField(inner, 'signature'),
    },
    clientExtensionResults: {},
  };
}

/**
 * A plain explanation for a failure the library threw. It signals failures only through message text, so this
 * matches the fixed start of each message (the rest echoes client-supplied values, which must not steer the
 * match); an unrecognised message still yields a truthful, if general, explanation.
 */
function explainLibraryFailure(err: unknown): string {
  const message = err instanceof Error ? err.message : '';
  const explanations: [RegExp, string][] = [
    [/^(Unexpected \w+ response challenge|Custom challenge verifier)/, 'the passkey response answers a different challenge'],
    [/^(Unexpected (cross-origin )?\w+ response (top )?origin|Unexpected top origin|Detected cross-origin)/, 'the passkey response comes from an origin Loopgate does not serve'],
    [/^Unexpected RP ID hash/, 'the passkey belongs to a different relying party (RP ID)'],
    [/^User verification/, 'the authenticator did not verify the user (PIN or biometric), which Loopgate requires'],
    [/^User (not present|presence)/, 'the authenticator did not confirm that the user was present'],
    [/^Response counter value/, 'the signature counter did not increase: the response was replayed or the authenticator may be cloned'],
    [/^Unexpected (\w+ response type|credential type)/, 'the passkey response is for a different WebAuthn ceremony'],
    [/^(Unexpected public key alg|Credential public key was missing numeric alg)/, 'the passkey uses a key algorithm Loopgate does not accept'],
    [/^Single-device credential indicated/, 'the authenticator reported contradictory backup flags'],
  ];
  for (const [pattern, explanation] of explanations) if (pattern.test(message)) return explanation;
  return 'the passkey response is malformed or could not be verified';
}
