import type { FastifyInstance, FastifyReply } from 'fastify';
import { LoopgateError } from '../../core/errors.js';
import type { Loopgate } from '../../loopgate.js';
import type { PasskeyCeremony, SignedIn } from '../../services/auth.js';
import { callerOf, SESSION_COOKIE } from '../auth.js';
import { problemResponses } from '../schemas.js';

const str = (max = 256) => ({ type: 'string', minLength: 1, maxLength: max });

/** The session as the client sees it: the token once (for API clients), the CSRF token, its assurance. */
function sessionBody(s: SignedIn) {
  return {
    token: s.token,
    csrf_token: s.csrf,
    state: s.session.state,
    factors: s.factors,
    acr: s.session.assurance.acr,
    amr: s.session.assurance.amr,
    auth_time: new Date(s.session.assurance.authTimeMs).toISOString(),
    expires_at: new Date(s.session.expiresAtMs).toISOString(),
  };
}

/** Options for navigator.credentials.create()/get(), and the challenge id to send back with the answer. */
function ceremonyBody(c: PasskeyCeremony<unknown>) {
  return { challenge_id: c.challengeId, expires_at: new Date(c.expiresAtMs).toISOString(), options: c.options };
}

/** The answer to a passkey ceremony: the challenge id from the options, and the PublicKeyCredential's toJSON(). */
const passkeyAnswer = (extra: Record<string, unknown> = {}) => ({
  type: 'object',
  additionalProperties: false,
  required: ['challenge_id', 'response'],
  properties: {
    challenge_id: str(64),
    // Checked field by field by the passkey adapter; browsers add members of their own (clientExtensionResults, …).
    response: { type: 'object', description: 'The PublicKeyCredential as JSON (its toJSON()).' },
    ...extra,
  },
});

export function registerAuthRoutes(app: FastifyInstance, lg: Loopgate): void {

  const setCookie = (reply: FastifyReply, s: SignedIn) =>
    reply.setCookie(SESSION_COOKIE, s.token, {
      httpOnly: true,
      sameSite: 'strict',
      secure: lg.config.auth.cookie_secure,
      path: '/',
      expires: new Date(s.session.expiresAtMs),
    });

  app.get('/v1/setup', { schema: { tags: ['auth'], summary: 'Whether the first admin still has to be created.' } }, async () => ({
    pending: await lg.auth.setupPending(),
  }));

  app.post<{ Body: { code: string; id: string; display_name?: string; password: string } }>(
    '/v1/setup',
    {
      schema: {
        tags: ['auth'],
        summary: 'Create the first admin with the one-time setup code printed at first start.',
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['code', 'id', 'password'],
          properties: { code: str(), id: str(128), display_name: str(), password: str(1024) },
        },
        response: problemResponses(400, 401, 409, 429),
      },
    },
    async (request, reply) => {
      const p = await lg.auth.completeSetup(request.body, request.ip);
      return reply.code(201).send({ id: p.id, display_name: p.display_name, roles: ['admin'] });
    },
  );

  app.post<{ Body: { id: string; password: string } }>(
    '/v1/auth/password',
    {
      schema: {
        tags: ['auth'],
        summary: 'Sign in with account name and password. With a second factor enrolled, the session waits for it (state mfa_pending).',
        body: { type: 'object', additionalProperties: false, required: ['id', 'password'], properties: { id: str(128), password: str(1024) } },
        response: problemResponses(400, 401, 429),
      },
    },
    async (request, reply) => {
      const s = await lg.auth.signInWithPassword(request.body.id, request.body.password, request.ip);
      setCookie(reply, s);
      return reply.code(201).send(sessionBody(s));
    },
  );

  app.post<{ Body: { code: string } }>(
    '/v1/auth/totp',
    {
      schema: {
        tags: ['auth'],
        summary: 'Complete a sign-in, or step an active session up (AAL2, auth time now), with a code from the authenticator app.',
        body: { type: 'object', additionalProperties: false, required: ['code'], properties: { code: { type: 'string', pattern: '^[0-9]{6}$' } } },
        response: problemResponses(400, 401, 409, 429),
      },
    },
    async (request) => {
      const caller = callerOf(request);
      if (caller.session === undefined) throw notSession();
      const session = await lg.auth.verifySessionTotp(caller.session, caller.principal, request.body.code, request.ip);
      return assuranceBody(session);
    },
  );

  app.post<{ Body: { id?: string } }>(
    '/v1/auth/passkey/options',
    {
      schema: {
        tags: ['auth'],
        summary: 'Start a passkey sign-in: options for navigator.credentials.get() and the challenge id (valid 5 minutes, once). Without id, any passkey of this site may answer.',
        body: { type: 'object', additionalProperties: false, properties: { id: str(128) } },
        response: problemResponses(400, 429, 500),
      },
    },
    async (request) => ceremonyBody(await lg.auth.passkeySignInOptions(request.body.id, request.ip)),
  );

  app.post<{ Body: { challenge_id: string; response: unknown } }>(
    '/v1/auth/passkey',
    {
      schema: {
        tags: ['auth'],
        summary: 'Sign in with a passkey: an active session at the passkey\u2019s assurance (AAL3 device-bound, AAL2 synced).',
        body: passkeyAnswer(),
        response: problemResponses(400, 401, 429, 500),
      },
    },
    async (request, reply) => {
      const s = await lg.auth.signInWithPasskey({ challengeId: request.body.challenge_id, response: request.body.response }, request.ip);
      setCookie(reply, s);
      return reply.code(201).send(sessionBody(s));
    },
  );

  app.post('/v1/auth/sign-out', { schema: { tags: ['auth'], summary: 'End the session.' } }, async (request, reply) => {
    const caller = callerOf(request);
    if (caller.session === undefined) throw notSession();
    await lg.auth.signOut(caller.session, caller.principal);
    reply.clearCookie(SESSION_COOKIE, { path: '/' });
    return reply.code(204).send();
  });

  app.get('/v1/me', { schema: { tags: ['auth'], summary: 'The caller: principal, roles in force, permissions, session assurance.' } }, async (request) => {
    const c = callerOf(request);
    return {
      principal: c.principal,
      via: c.via,
      roles: c.bindings,
      permissions: [...c.permissions].sort(),
      factors: await lg.auth.secondFactors(c.principal.id),
      ...(c.session === undefined ? {} : { session: assuranceBody(c.session) }),
    };
  });

  app.post('/v1/me/totp', { schema: { tags: ['auth'], summary: 'Start enrolling an authenticator app: a new secret and its otpauth:// URI (for a QR code).' } }, async (request, reply) => {
    const c = callerOf(request);
    if (c.session === undefined) throw notSession();
    return reply.code(201).send(await lg.auth.enrolTotp(c.session, c.principal));
  });

  app.post<{ Body: { code: string } }>(
    '/v1/me/totp/confirm',
    {
      schema: {
        tags: ['auth'],
        summary: 'Confirm the authenticator app with its first code; the session is then at AAL2.',
        body: { type: 'object', additionalProperties: false, required: ['code'], properties: { code: { type: 'string', pattern: '^[0-9]{6}$' } } },
      },
    },
    async (request) => {
      const c = callerOf(request);
      if (c.session === undefined) throw notSession();
      return assuranceBody(await lg.auth.confirmTotp(c.session, c.principal, request.body.code, request.ip));
    },
  );

  app.post(
    '/v1/me/passkeys/options',
    {
      schema: {
        tags: ['auth'],
        summary: 'Start adding a passkey: options for navigator.credentials.create() and the challenge id. Needs a sign-in within 10 minutes (and AAL2 once a second factor exists).',
        response: problemResponses(401, 403, 500),
      },
    },
    async (request) => {
      const c = callerOf(request);
      if (c.session === undefined) throw notSession();
      return ceremonyBody(await lg.auth.passkeyEnrolmentOptions(c.session, c.principal));
    },
  );

  app.post<{ Body: { challenge_id: string; response: unknown; label?: string } }>(
    '/v1/me/passkeys',
    {
      schema: {
        tags: ['auth'],
        summary: 'Add the passkey the browser created; the session is raised to what it proves.',
        body: passkeyAnswer({ label: str(100) }),
        response: problemResponses(400, 401, 403, 409, 500),
      },
    },
    async (request, reply) => {
      const c = callerOf(request);
      if (c.session === undefined) throw notSession();
      const { challenge_id, response, label } = request.body;
      const added = await lg.auth.enrolPasskey(c.session, c.principal, { challengeId: challenge_id, response, ...(label === undefined ? {} : { label }) });
      return reply.code(201).send({
        passkey: { id: added.id, label: added.label, credential_id: added.credentialId, synced: added.synced, created_at: new Date(added.createdAtMs).toISOString() },
        session: assuranceBody(added.session),
      });
    },
  );

  app.post(
    '/v1/me/step-up/passkey/options',
    {
      schema: {
        tags: ['auth'],
        summary: 'Start a step-up with a passkey: options for navigator.credentials.get() listing your passkeys, and the challenge id.',
        response: problemResponses(401, 403, 409, 500),
      },
    },
    async (request) => {
      const c = callerOf(request);
      if (c.session === undefined) throw notSession();
      return ceremonyBody(await lg.auth.passkeyStepUpOptions(c.session, c.principal));
    },
  );

  app.post<{ Body: { challenge_id: string; response: unknown } }>(
    '/v1/me/step-up/passkey',
    {
      schema: {
        tags: ['auth'],
        summary: 'Step the session up with a passkey: its acr and amr become the passkey\u2019s, auth_time now.',
        body: passkeyAnswer(),
        response: problemResponses(400, 401, 403, 409, 429, 500),
      },
    },
    async (request) => {
      const c = callerOf(request);
      if (c.session === undefined) throw notSession();
      const session = await lg.auth.stepUpWithPasskey(c.session, c.principal, { challengeId: request.body.challenge_id, response: request.body.response }, request.ip);
      return assuranceBody(session);
    },
  );
}

export function assuranceBody(s: { id: string; state: string; assurance: { acr: string; amr: string[]; authTimeMs: number }; expiresAtMs: number }) {
  return {
    id: s.id,
    state: s.state,
    acr: s.assurance.acr,
    amr: s.assurance.amr,
    auth_time: new Date(s.assurance.authTimeMs).toISOString(),
    expires_at: new Date(s.expiresAtMs).toISOString(),
  };
}

function notSession(): LoopgateError {
  return new LoopgateError('LOOPGATE_ERR_FORBIDDEN', 'this needs a signed-in person (a session), not an API key');
}
