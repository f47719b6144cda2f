/**
 * People for review tests, made through the public API: an admin (the test client) creates the account with its
 * roles; the person signs in with a password, enrols an authenticator app and confirms it (AAL2), and can step up
 * later with a fresh code. Requests carry the person's session token as a bearer credential.
 */
import { generate } from 'otplib';
import { expect } from 'vitest';
import type { LightMyRequestResponse } from 'fastify';
import type { TestLoopgate } from './app.js';
import { passkeyRelyingParty } from '../../src/services/passkey-rp.js';
import { SoftAuthenticator } from './soft-authenticator.js';

export const PASSWORD = 'correct horse battery staple';
/** TOTP codes are accepted once per 30 s step: tests move the clock past the last step before the next code. */
export const TOTP_STEP_MS = 30_000;

export interface Reviewer {
  id: string;
  token: string;
  totpSecret: string;
  headers: Record<string, string>;
  get(url: string): Promise<LightMyRequestResponse>;
  post(url: string, body?: unknown): Promise<LightMyRequestResponse>;
  /** A fresh TOTP code proven now (the clock moves on one step first): the session is AAL2 with auth_time now. */
  stepUp(): Promise<void>;
}

export async function totpAt(secret: string, ms: number): Promise<string> {
  return generate({ secret, epoch: Math.floor(ms / 1000) });
}

export type RoleSpec = string | { role: string; condition?: string; expires_at?: string };

/** Creates a person with roles and attributes, signs them in and enrols TOTP (session at AAL2, auth_time now). */
export async function reviewer(t: TestLoopgate, id: string, roles: RoleSpec[], attributes: Record<string, unknown> = {}): Promise<Reviewer> {
  const created = await t.post('/v1/principals', { id, password: PASSWORD, roles: roles.map((r) => (typeof r === 'string' ? { role: r } : r)), attributes });
  expect(created.statusCode, created.body).toBe(201);
  const signIn = await t.post('/v1/auth/password', { id, password: PASSWORD }, { authorization: '' });
  expect(signIn.statusCode, signIn.body).toBe(201);
  const token = signIn.json().token as string;
  const headers = { authorization: `Bearer ${token}` };
  const enrol = await t.post('/v1/me/totp', {}, headers);
  expect(enrol.statusCode, enrol.body).toBe(201);
  const secret = enrol.json().secret as string;
  const confirmed = await t.post('/v1/me/totp/confirm', { code: await totpAt(secret, t.clock.now()) }, headers);
  expect(confirmed.statusCode, confirmed.body).toBe(200);
  return {
    id,
    token,
    totpSecret: secret,
    headers,
    get: (url) => t.get(url, headers),
    post: (url, body = {}) => t.post(url, body, headers),
    async stepUp() {
      t.clock.advance(TOTP_STEP_MS);
      const res = await t.post('/v1/auth/totp', { code: await totpAt(secret, t.clock.now()) }, headers);
      expect(res.statusCode, res.body).toBe(200);
    },
  };
}

/** Posts an event for decision with the test client's PEP key; returns the decision. */
export async function decide(t: TestLoopgate, event: Record<string, unknown>): Promise<Record<string, any>> {
  const res = await t.post('/v1/decisions', { event });
  expect(res.statusCode, res.body).toBe(201);
  return res.json();
}

/** The case a pending `review` decision opened (read with the test client, which holds admin). */
export async function caseOf(t: TestLoopgate, decisionId: string): Promise<Record<string, any>> {
  const list = await t.get('/v1/cases?limit=200');
  expect(list.statusCode, list.body).toBe(200);
  const found = (list.json().cases as Array<Record<string, any>>).find((c) => c.decision_id === decisionId);
  expect(found, `no case for decision ${decisionId}`).toBeDefined();
  return found!;
}

/** Enrols a device-bound passkey (a software authenticator) for a reviewer right after their TOTP proof; returns it. */
export async function enrolPasskey(t: TestLoopgate, r: Reviewer): Promise<SoftAuthenticator> {
  const rp = passkeyRelyingParty(t.config);
  if (!rp.ok) throw new Error(rp.problem);
  const device = new SoftAuthenticator({ origin: rp.config.origins[0]!, rpId: rp.config.rpId });
  await r.stepUp();
  const options = await r.post('/v1/me/passkeys/options');
  expect(options.statusCode, options.body).toBe(200);
  const enrolled = await r.post('/v1/me/passkeys', { challenge_id: options.json().challenge_id, response: device.create(options.json().options) });
  expect(enrolled.statusCode, enrolled.body).toBe(201);
  return device;
}

/**
 * Gives a verdict signed by the reviewer's passkey: asks for the challenge, has the device sign it, sends the
 * assertion with the nonce. Returns the challenge (payload, nonce) and the response.
 */
export async function passkeyVerdict(
  r: Reviewer,
  device: SoftAuthenticator,
  caseId: string,
  verdict: { verdict: string; label: string; reason?: string },
  tamper?: 'signature' | 'clientData',
): Promise<{ challenge: Record<string, any>; assertion: unknown; res: LightMyRequestResponse }> {
  const ch = await r.post(`/v1/cases/${caseId}/verdicts/challenge`, verdict);
  expect(ch.statusCode, ch.body).toBe(201);
  const challenge = ch.json();
  expect(challenge.passkey, 'the reviewer has a passkey: the challenge carries request options').toBeDefined();
  const assertion = device.get(challenge.passkey, tamper === undefined ? {} : { tamper });
  const res = await r.post(`/v1/cases/${caseId}/verdicts`, { ...verdict, nonce: challenge.nonce, proof: { type: 'webauthn', response: assertion } });
  return { challenge, assertion, res };
}
