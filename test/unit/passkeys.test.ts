import { createHash, randomBytes } from 'node:crypto';
import { describe, it, expect } from 'vitest';
import {
  credentialIdOf,
  passkeyAuthenticationOptions,
  passkeyRegistrationOptions,
  verifyPasskeyAssertion,
  verifyPasskeyRegistration,
  type PasskeyConfig,
  type StoredPasskey,
} from '../../src/adapters/passkeys.js';
import { LoopgateError } from '../../src/core/errors.js';
import { SoftAuthenticator } from '../helpers/soft-authenticator.js';

const ORIGIN = 'https://loopgate.example.com';
const CFG: PasskeyConfig = { rpId: 'loopgate.example.com', rpName: 'Loopgate', origins: [ORIGIN] };
const REVIEWER = { id: '0190f5a2-7c1e-7000-8000-000000000001', name: 'ana@example.com', displayName: 'Ana Reviewer' };

const challenge = (): Uint8Array => new Uint8Array(randomBytes(32));

async function register(options: { backupEligible?: boolean; userVerification?: boolean } = {}) {
  const authenticator = new SoftAuthenticator({ origin: ORIGIN, rpId: CFG.rpId, ...options });
  const registrationChallenge = challenge();
  const creationOptions = await passkeyRegistrationOptions(CFG, REVIEWER, [], registrationChallenge);
  const response = authenticator.create(creationOptions);
  const stored = await verifyPasskeyRegistration(CFG, response, registrationChallenge);
  return { authenticator, stored };
}

async function assertWith(authenticator: SoftAuthenticator, stored: StoredPasskey, bytes = challenge()) {
  const requestOptions = await passkeyAuthenticationOptions(CFG, [stored], bytes);
  return { response: authenticator.get(requestOptions), requestOptions, bytes };
}

async function expectPasskeyInvalid(promise: Promise<unknown>): Promise<LoopgateError> {
  const err: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(LoopgateError);
  expect((err as LoopgateError).code).toBe('LOOPGATE_ERR_PASSKEY_INVALID');
  return err as LoopgateError;
}

describe('passkey options', () => {
  it('require user verification, offer ES256, EdDSA and RS256, and carry the challenge bytes', async () => {
    const bytes = challenge();
    const existing: StoredPasskey = {
      credentialId: 'AAEC',
      publicKey: 'AA',
      counter: 0,
      transports: ['usb'],
      backedUp: false,
      deviceType: 'singleDevice',
      aaguid: '00000000-0000-0000-0000-000000000000',
    };
    const creation = await passkeyRegistrationOptions(CFG, REVIEWER, [existing], bytes);
    expect(creation.challenge).toBe(Buffer.from(bytes).toString('base64url'));
    expect(creation.rp).toEqual({ id: CFG.rpId, name: CFG.rpName });
    expect(creation.user.id).toBe(Buffer.from(REVIEWER.id).toString('base64url'));
    expect(creation.attestation).toBe('none');
    expect(creation.authenticatorSelection).toMatchObject({ residentKey: 'preferred', userVerification: 'required' });
    expect(creation.pubKeyCredParams.map((p) => p.alg)).toEqual([-7, -8, -257]);
    expect(creation.excludeCredentials).toEqual([{ id: 'AAEC', transports: ['usb'], type: 'public-key' }]);

    const request = await passkeyAuthenticationOptions(CFG, [existing], bytes);
    expect(request.challenge).toBe(Buffer.from(bytes).toString('base64url'));
    expect(request.userVerification).toBe('required');
    expect(request.rpId).toBe(CFG.rpId);
    expect(request.allowCredentials).toEqual([{ id: 'AAEC', transports: ['usb'], type: 'public-key' }]);
  });
});

describe('passkey registration and assertion', () => {
  it('round-trips: a device-bound passkey signs in at AAL3 with hardware-key AMR', async () => {
    const { authenticator, stored } = await register();
    expect(stored).toMatchObject({
      credentialId: authenticator.credentialId,
      counter: 0,
      backedUp: false,
      deviceType: 'singleDevice',
      aaguid: '00000000-0000-0000-0000-000000000000',
      transports: ['internal'],
    });
    const { response, bytes } = await assertWith(authenticator, stored);
    const result = await verifyPasskeyAssertion(CFG, response, bytes, stored);
    expect(result).toEqual({ newCounter: 1, backedUp: false, acr: 'urn:loopgate:acr:aal3', amr: ['hwk', 'user'] });
  });

  it('rates a synced (backup-eligible) passkey AAL2 with software-key AMR', async () => {
    const { authenticator, stored } = await register({ backupEligible: true });
    expect(stored).toMatchObject({ backedUp: true, deviceType: 'multiDevice' });
    const { response, bytes } = await assertWith(authenticator, stored);
    const result = await verifyPasskeyAssertion(CFG, response, bytes, stored);
    expect(result).toEqual({ newCounter: 1, backedUp: true, acr: 'urn:loopgate:acr:aal2', amr: ['swk', 'user'] });
  });

  it('verifies a signed verdict: the challenge is the SHA-256 of the canonical payload', async () => {
    const { authenticator, stored } = await register();
    const verdictDigest = new Uint8Array(createHash('sha256').update('{"case":"c1","verdict":"approve"}').digest());
    const { response } = await assertWith(authenticator, stored, verdictDigest);
    await expect(verifyPasskeyAssertion(CFG, response, verdictDigest, stored)).resolves.toMatchObject({ newCounter: 1 });
    const otherDigest = new Uint8Array(createHash('sha256').update('{"case":"c1","verdict":"deny"}').digest());
    await expectPasskeyInvalid(verifyPasskeyAssertion(CFG, response, otherDigest, stored));
  });

  it('credentialIdOf reads the id of registration and assertion responses, and nothing else', async () => {
    const authenticator = new SoftAuthenticator({ origin: ORIGIN, rpId: CFG.rpId });
    const bytes = challenge();
    const registration = authenticator.create(await passkeyRegistrationOptions(CFG, REVIEWER, [], bytes));
    expect(credentialIdOf(registration)).toBe(authenticator.credentialId);
    const stored = await verifyPasskeyRegistration(CFG, registration, bytes);
    const { response } = await assertWith(authenticator, stored);
    expect(credentialIdOf(response)).toBe(stored.credentialId);
    for (const junk of [null, undefined, {}, 'abc', 42, [], { id: 42 }, { id: 'not base64url!' }]) {
      expect(credentialIdOf(junk)).toBeUndefined();
    }
  });
});

describe('passkey registration rejections', () => {
  it('rejects a wrong challenge, origin or RP ID, and a missing user verification', async () => {
    const bytes = challenge();
    const creationOptions = await passkeyRegistrationOptions(CFG, REVIEWER, [], bytes);
    const response = new SoftAuthenticator({ origin: ORIGIN, rpId: CFG.rpId }).create(creationOptions);
    const wrongChallenge = await expectPasskeyInvalid(verifyPasskeyRegistration(CFG, response, challenge()));
    expect(wrongChallenge.message).toMatch(/different challenge/);
    const otherOrigin = { ...CFG, origins: ['https://other.example.com'] };
    expect((await expectPasskeyInvalid(verifyPasskeyRegistration(otherOrigin, response, bytes))).message).toMatch(/origin/);
    const otherRp = { ...CFG, rpId: 'other.example.com' };
    expect((await expectPasskeyInvalid(verifyPasskeyRegistration(otherRp, response, bytes))).message).toMatch(/RP ID/);

    const withoutUv = new SoftAuthenticator({ origin: ORIGIN, rpId: CFG.rpId, userVerification: false }).create(creationOptions);
    const err = await expectPasskeyInvalid(verifyPasskeyRegistration(CFG, withoutUv, bytes));
    expect(err.message).toMatch(/verify the user/);
  });

  it('rejects a response whose id does not match its authenticator data', async () => {
    const bytes = challenge();
    const response = new SoftAuthenticator({ origin: ORIGIN, rpId: CFG.rpId }).create(
      await passkeyRegistrationOptions(CFG, REVIEWER, [], bytes),
    );
    await expectPasskeyInvalid(verifyPasskeyRegistration(CFG, { ...response, id: 'AAAA', rawId: 'AAAA' }, bytes));
  });

  it('rejects malformed input with the passkey code, never a library exception', async () => {
    const bytes = challenge();
    const junk: unknown[] = [
      null,
      undefined,
      {},
      'a string',
      '{"id":"abc"}',
      42,
      [],
      { id: 'AAAA', rawId: 'AAAA', type: 'public-key' },
      { id: 'AAAA', rawId: 'AAAA', type: 'public-key', response: {} },
      { id: 'AAAA', rawId: 'AAAA', type: 'public-key', response: { clientDataJSON: 'AAAA', attestationObject: 'AAAA' } },
      {
        id: 'AAAA',
        rawId: 'AAAA',
        type: 'public-key',
        response: { clientDataJSON: Buffer.from('{}').toString('base64url'), attestationObject: 'AAAA' },
      },
    ];
    for (const input of junk) await expectPasskeyInvalid(verifyPasskeyRegistration(CFG, input, bytes));
  });
});

describe('passkey assertion rejections', () => {
  it('rejects a wrong challenge', async () => {
    const { authenticator, stored } = await register();
    const { response } = await assertWith(authenticator, stored);
    const err = await expectPasskeyInvalid(verifyPasskeyAssertion(CFG, response, challenge(), stored));
    expect(err.message).toMatch(/different challenge/);
  });

  it('rejects a wrong origin', async () => {
    const { authenticator, stored } = await register();
    const bytes = challenge();
    const response = authenticator.get(await passkeyAuthenticationOptions(CFG, [stored], bytes), {
      origin: 'https://loopgate.example.com.evil.test',
    });
    const err = await expectPasskeyInvalid(verifyPasskeyAssertion(CFG, response, bytes, stored));
    expect(err.message).toMatch(/origin/);
    expect(err.message).not.toMatch(/evil/);
  });

  it('rejects a wrong RP ID', async () => {
    const { authenticator, stored } = await register();
    const { response, bytes } = await assertWith(authenticator, stored);
    const err = await expectPasskeyInvalid(verifyPasskeyAssertion({ ...CFG, rpId: 'example.com' }, response, bytes, stored));
    expect(err.message).toMatch(/RP ID/);
  });

  it('rejects an assertion without user verification', async () => {
    const { authenticator, stored } = await register();
    const bytes = challenge();
    const response = authenticator.get(await passkeyAuthenticationOptions(CFG, [stored], bytes), { userVerified: false });
    const err = await expectPasskeyInvalid(verifyPasskeyAssertion(CFG, response, bytes, stored));
    expect(err.message).toMatch(/verify the user/);
  });

  it('rejects a tampered signature and tampered client data', async () => {
    const { authenticator, stored } = await register();
    const bytes = challenge();
    const requestOptions = await passkeyAuthenticationOptions(CFG, [stored], bytes);
    for (const tamper of ['signature', 'clientData'] as const) {
      const response = authenticator.get(requestOptions, { tamper });
      const err = await expectPasskeyInvalid(verifyPasskeyAssertion(CFG, response, bytes, stored));
      expect(err.message).toMatch(/signature/);
    }
  });

  it('rejects a replayed assertion once the counter has been stored', async () => {
    const { authenticator, stored } = await register();
    const { response, bytes } = await assertWith(authenticator, stored);
    const first = await verifyPasskeyAssertion(CFG, response, bytes, stored);
    const updated = { ...stored, counter: first.newCounter, backedUp: first.backedUp };
    const err = await expectPasskeyInvalid(verifyPasskeyAssertion(CFG, response, bytes, updated));
    expect(err.message).toMatch(/counter/);
  });

  it('rejects a counter going backwards (a cloned authenticator)', async () => {
    const { authenticator, stored } = await register();
    const older = await assertWith(authenticator, stored);
    const newer = await assertWith(authenticator, stored);
    const result = await verifyPasskeyAssertion(CFG, newer.response, newer.bytes, stored);
    expect(result.newCounter).toBe(2);
    const updated = { ...stored, counter: result.newCounter };
    const err = await expectPasskeyInvalid(verifyPasskeyAssertion(CFG, older.response, older.bytes, updated));
    expect(err.message).toMatch(/counter/);
  });

  it('rejects an assertion made with another passkey than the stored one', async () => {
    const alice = await register();
    const mallory = await register();
    const { response, bytes } = await assertWith(mallory.authenticator, mallory.stored);
    await expectPasskeyInvalid(verifyPasskeyAssertion(CFG, response, bytes, alice.stored));
    // Even if the attacker relabels the response with the stored passkey's id, the signature does not verify.
    const relabelled = { ...response, id: alice.stored.credentialId, rawId: alice.stored.credentialId };
    await expectPasskeyInvalid(verifyPasskeyAssertion(CFG, relabelled, bytes, alice.stored));
  });

  it('rejects a passkey whose backup eligibility changed since registration', async () => {
    const { authenticator, stored } = await register({ backupEligible: true });
    const { response, bytes } = await assertWith(authenticator, stored);
    const recordedAsDeviceBound = { ...stored, deviceType: 'singleDevice' as const, backedUp: false };
    await expectPasskeyInvalid(verifyPasskeyAssertion(CFG, response, bytes, recordedAsDeviceBound));
  });

  it('rejects a cross-origin (framed) ceremony', async () => {
    const { authenticator, stored } = await register();
    const { response, bytes } = await assertWith(authenticator, stored);
    const clientData = JSON.parse(Buffer.from(response.response.clientDataJSON, 'base64url').toString('utf8'));
    const framed = {
      ...response,
      response: {
        ...response.response,
        clientDataJSON: Buffer.from(JSON.stringify({ ...clientData, crossOrigin: true })).toString('base64url'),
      },
    };
    await expectPasskeyInvalid(verifyPasskeyAssertion(CFG, framed, bytes, stored));
  });

  it('rejects malformed input and a corrupt stored key with the passkey code', async () => {
    const { authenticator, stored } = await register();
    const { response, bytes } = await assertWith(authenticator, stored);
    const junk: unknown[] = [
      null,
      undefined,
      {},
      'a string',
      JSON.stringify(response),
      [],
      { ...response, rawId: 'BBBB' },
      { ...response, type: 'password' },
      { ...response, response: null },
      { ...response, response: { ...response.response, signature: undefined } },
      { ...response, response: { ...response.response, authenticatorData: 'AAAA' } },
      { ...response, response: { ...response.response, clientDataJSON: 'bm90IGpzb24' } },
      { ...response, response: { ...response.response, clientDataJSON: Buffer.from('{}').toString('base64url') } },
    ];
    for (const input of junk) await expectPasskeyInvalid(verifyPasskeyAssertion(CFG, input, bytes, stored));
    await expectPasskeyInvalid(verifyPasskeyAssertion(CFG, response, bytes, { ...stored, publicKey: 'AAAA' }));
  });
});
