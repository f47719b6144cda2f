/**
 * A software passkey for tests: plays the browser and the authenticator together, so WebAuthn ceremonies can run
 * without either. One instance holds one ES256 (P-256) credential, created by create().
 *
 * It does what a browser and a platform authenticator do, not what a careful one would refuse: it reports whatever
 * user verification it was built with even when the options require it, so tests can show the server refusing.
 */
import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { isoCBOR } from '@simplewebauthn/server/helpers';
import type {
  AuthenticationResponseJSON,
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
  RegistrationResponseJSON,
} from '@simplewebauthn/server';

// Authenticator data flags (WebAuthn §6.1).
const FLAG_USER_PRESENT = 0x01;
const FLAG_USER_VERIFIED = 0x04;
const FLAG_BACKUP_ELIGIBLE = 0x08;
const FLAG_BACKED_UP = 0x10;
const FLAG_ATTESTED_CREDENTIAL_DATA = 0x40;

// COSE (RFC 9052/9053): key type EC2, algorithm ES256, curve P-256.
const COSE_KEY_TYPE = 1;
const COSE_ALGORITHM = 3;
const COSE_EC2_CURVE = -1;
const COSE_EC2_X = -2;
const COSE_EC2_Y = -3;
const COSE_KTY_EC2 = 2;
const COSE_ALG_ES256 = -7;
const COSE_CRV_P256 = 1;

/** "none" attestation carries no authenticator model: the AAGUID is all zeros. */
const ZERO_AAGUID = new Uint8Array(16);

interface Credential {
  id: Uint8Array;
  privateKey: KeyObject;
  userHandle: string;
  signCount: number;
}

export class SoftAuthenticator {
  private readonly origin: string;
  private readonly rpId: string;
  private readonly userVerification: boolean;
  private readonly backupEligible: boolean;
  private credential: Credential | undefined;

  constructor(options: { origin: string; rpId: string; userVerification?: boolean; backupEligible?: boolean }) {
    this.origin = options.origin;
    this.rpId = options.rpId;
    this.userVerification = options.userVerification ?? true;
    this.backupEligible = options.backupEligible ?? false;
  }

  /** The base64url credential id, once create() has run. */
  get credentialId(): string {
    return base64url(this.created().id);
  }

  /** navigator.credentials.create(): a RegistrationResponseJSON with attestation "none". */
  create(options: PublicKeyCredentialCreationOptionsJSON): RegistrationResponseJSON {
    this.checkRpId(options.rp.id);
    if (!options.pubKeyCredParams.some((param) => param.alg === COSE_ALG_ES256)) {
      throw new Error('NotSupportedError: the relying party does not accept ES256');
    }
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const credential: Credential = { id: new Uint8Array(randomBytes(16)), privateKey, userHandle: options.user.id, signCount: 0 };
    this.credential = credential;

    const jwk = publicKey.export({ format: 'jwk' });
    const coseKey = isoCBOR.encode(
      new Map<number, number | Uint8Array>([
        [COSE_KEY_TYPE, COSE_KTY_EC2],
        [COSE_ALGORITHM, COSE_ALG_ES256],
        [COSE_EC2_CURVE, COSE_CRV_P256],
        [COSE_EC2_X, Buffer.from(jwk.x!, 'base64url')],
        [COSE_EC2_Y, Buffer.from(jwk.y!, 'base64url')],
      ]),
    );
    const credentialIdLength = Buffer.alloc(2);
    credentialIdLength.writeUInt16BE(credential.id.length);
    const authenticatorData = Buffer.concat([
      this.authenticatorDataHeader(this.userVerification, FLAG_ATTESTED_CREDENTIAL_DATA, credential.signCount),
      ZERO_AAGUID,
      credentialIdLength,
      credential.id,
      coseKey,
    ]);
    const attestationObject = isoCBOR.encode(
      new Map<string, string | Uint8Array | Map<string, string>>([
        ['fmt', 'none'],
        ['attStmt', new Map<string, string>()],
        ['authData', new Uint8Array(authenticatorData)],
      ]),
    );
    const id = base64url(credential.id);
    return {
      id,
      rawId: id,
      type: 'public-key',
      response: {
        clientDataJSON: base64url(clientData('webauthn.create', options.challenge, this.origin)),
        attestationObject: base64url(attestationObject),
        authenticatorData: base64url(authenticatorData),
        transports: ['internal'],
        publicKeyAlgorithm: COSE_ALG_ES256,
        publicKey: base64url(publicKey.export({ format: 'der', type: 'spki' })),
      },
      authenticatorAttachment: 'platform',
      clientExtensionResults: { credProps: { rk: true } },
    };
  }

  /** navigator.credentials.get(): an assertion signed with the credential's key; the sign count rises each call. */
  get(
    options: PublicKeyCredentialRequestOptionsJSON,
    overrides: { userVerified?: boolean; origin?: string; tamper?: 'signature' | 'clientData' } = {},
  ): AuthenticationResponseJSON {
    const credential = this.created();
    if (options.rpId !== undefined) this.checkRpId(options.rpId);
    const id = base64url(credential.id);
    const allowed = options.allowCredentials ?? [];
    if (allowed.length > 0 && !allowed.some((descriptor) => descriptor.id === id)) {
      throw new Error('NotAllowedError: this authenticator holds none of the allowed credentials');
    }
    credential.signCount += 1;
    const authenticatorData = this.authenticatorDataHeader(overrides.userVerified ?? this.userVerification, 0, credential.signCount);
    const signedClientData = clientData('webauthn.get', options.challenge, overrides.origin ?? this.origin);
    const clientDataHash = createHash('sha256').update(signedClientData).digest();
    const signature = sign('sha256', Buffer.concat([authenticatorData, clientDataHash]), credential.privateKey);

    let sentClientData = signedClientData;
    if (overrides.tamper === 'clientData') {
      // Still well-formed and still answering the right challenge from the right origin: only the signature can tell.
      sentClientData = Buffer.from(JSON.stringify({ ...JSON.parse(signedClientData.toString('utf8')), tampered: true }));
    }
    if (overrides.tamper === 'signature') {
      // The last byte is part of the DER-encoded s value: flipping it keeps the encoding valid but breaks the signature.
      signature[signature.length - 1]! ^= 0x01;
    }
    return {
      id,
      rawId: id,
      type: 'public-key',
      response: {
        clientDataJSON: base64url(sentClientData),
        authenticatorData: base64url(authenticatorData),
        signature: base64url(signature),
        userHandle: credential.userHandle,
      },
      authenticatorAttachment: 'platform',
      clientExtensionResults: {},
    };
  }

  private created(): Credential {
    if (!this.credential) throw new Error('SoftAuthenticator: create() has not been called');
    return this.credential;
  }

  /** A browser refuses an RP ID other than the one its origin allows; this authenticator knows only its own. */
  private checkRpId(requested: string | undefined): void {
    if (requested !== undefined && requested !== this.rpId) {
      throw new Error(`SecurityError: RP ID "${requested}" is not "${this.rpId}"`);
    }
  }

  /** rpIdHash ‖ flags ‖ signCount (big-endian): the 37 bytes every authenticator data starts with. */
  private authenticatorDataHeader(userVerified: boolean, extraFlags: number, signCount: number): Buffer {
    let flags = FLAG_USER_PRESENT | extraFlags;
    if (userVerified) flags |= FLAG_USER_VERIFIED;
    // A synced passkey is backup eligible and, once synced, backed up.
    if (this.backupEligible) flags |= FLAG_BACKUP_ELIGIBLE | FLAG_BACKED_UP;
    const counter = Buffer.alloc(4);
    counter.writeUInt32BE(signCount);
    return Buffer.concat([createHash('sha256').update(this.rpId).digest(), Buffer.from([flags]), counter]);
  }
}

function clientData(type: 'webauthn.create' | 'webauthn.get', challenge: string, origin: string): Buffer {
  return Buffer.from(JSON.stringify({ type, challenge, origin, crossOrigin: false }));
}

function base64url(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64url');
}
