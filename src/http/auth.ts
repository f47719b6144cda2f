/**
 * Who may call what. Every route has one entry in ACCESS, the single table a security review reads; a route
 * without an entry is refused to everyone (fail closed), and a test checks that every route has one.
 *
 * Credentials: `Authorization: Bearer <session token | API key>`, or the console's session cookie, which must be
 * accompanied on unsafe methods by the session's CSRF token in `X-CSRF-Token` (the cookie is SameSite=Strict too).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AuditActor } from '../core/audit/entry.js';
import type { Permission } from '../core/auth/roles.js';
import { LoopgateError } from '../core/errors.js';
import type { Loopgate } from '../loopgate.js';
import type { Caller } from '../services/auth.js';

/**
 * - `public`: no credential (health, readiness, metadata, sign-in itself);
 * - `pending`: a session still waiting for its second factor is enough (completing it);
 * - `signed_in`: any valid credential;
 * - a permission: a credential whose roles grant it.
 */
export type Access = 'public' | 'pending' | 'signed_in' | Permission;

export const ACCESS: Record<string, Access> = {
  'GET /healthz': 'public',
  'GET /readyz': 'public',
  'GET /openapi.json': 'public',
  'GET /.well-known/authzen-configuration': 'public',
  'POST /v1/decisions': 'decisions:write',
  'GET /v1/decisions/:id': 'decisions:read',
  'GET /v1/decisions/:id/events': 'decisions:read',
  'POST /access/v1/evaluation': 'decisions:write',
  'POST /access/v1/evaluations': 'decisions:write',
  'GET /v1/policies': 'policies:read',
  'POST /v1/policies/reload': 'policies:manage',
  'GET /v1/audit/checkpoint': 'audit:read',
  'POST /v1/audit/checkpoints': 'audit:read',
  'GET /v1/audit/entries': 'audit:read',
  'GET /v1/audit/proofs/inclusion': 'audit:read',
  'GET /v1/audit/proofs/consistency': 'audit:read',
  'GET /v1/audit/search': 'audit:read',
  'GET /v1/audit/keys': 'audit:read',
  'GET /v1/setup': 'public',
  'POST /v1/setup': 'public',
  'POST /v1/auth/password': 'public',
  'POST /v1/auth/totp': 'pending',
  'POST /v1/auth/passkey/options': 'public',
  'POST /v1/auth/passkey': 'public',
  'POST /v1/auth/sign-out': 'pending',
  'GET /v1/me': 'signed_in',
  'POST /v1/me/totp': 'signed_in',
  'POST /v1/me/totp/confirm': 'signed_in',
  'POST /v1/me/passkeys/options': 'signed_in',
  'POST /v1/me/passkeys': 'signed_in',
  'POST /v1/me/step-up/passkey/options': 'signed_in',
  'POST /v1/me/step-up/passkey': 'signed_in',
  'GET /v1/principals': 'principals:manage',
  'POST /v1/principals': 'principals:manage',
  'GET /v1/principals/:id': 'principals:manage',
  'POST /v1/principals/:id/roles': 'principals:manage',
  'DELETE /v1/principals/:id/roles/:binding': 'principals:manage',
  'POST /v1/principals/:id/password': 'principals:manage',
  'GET /v1/roles': 'signed_in',
  'PUT /v1/roles/:name': 'principals:manage',
  'GET /v1/api-keys': 'principals:manage',
  'POST /v1/api-keys': 'principals:manage',
  'DELETE /v1/api-keys/:id': 'principals:manage',
  'GET /v1/cases': 'signed_in',
  'GET /v1/cases/:id': 'signed_in',
  'POST /v1/cases/:id/claim': 'signed_in',
  'POST /v1/cases/:id/release': 'signed_in',
  'POST /v1/cases/:id/comments': 'signed_in',
  'POST /v1/cases/:id/assign': 'cases:manage',
  'POST /v1/cases/:id/cancel': 'cases:manage',
  'POST /v1/cases/:id/verdicts/challenge': 'signed_in',
  'POST /v1/cases/:id/verdicts': 'signed_in',
  'GET /v1/stream': 'signed_in',
  'GET /v1/webhooks': 'webhooks:manage',
  'POST /v1/webhooks': 'webhooks:manage',
  'DELETE /v1/webhooks/:id': 'webhooks:manage',
  'GET /v1/webhooks/dead-letters': 'webhooks:manage',
  'POST /v1/webhooks/deliveries/:id/retry': 'webhooks:manage',
  'GET /v1/keys/approval': 'signed_in',
  'GET /v1/stats/review': 'cases:read_all',
  'GET /collector.js': 'public',
  // The console's static files (dist/console): public, as the sign-in page must load before anyone signs in.
  'GET /*': 'public',
  'HEAD /*': 'public',
};

export const SESSION_COOKIE = 'loopgate_session';
const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

declare module 'fastify' {
  interface FastifyRequest {
    caller?: Caller;
  }
}

export function accessOf(method: string, url: string | undefined): Access | undefined {
  return url === undefined ? undefined : ACCESS[`${method} ${url}`];
}

function unauthenticated(detail: string): LoopgateError {
  return new LoopgateError('LOOPGATE_ERR_UNAUTHENTICATED', detail);
}

export function registerAuth(app: FastifyInstance, lg: Loopgate): void {
  app.addHook('preHandler', async (request: FastifyRequest, reply: FastifyReply) => {
    const url = request.routeOptions.url;
    if (url === undefined) return; // not found: the 404 handler answers
    const access = accessOf(request.method, url);
    if (access === undefined) throw new LoopgateError('LOOPGATE_ERR_FORBIDDEN', `${request.method} ${url} has no access rule; it is refused to everyone`);
    const caller = await resolveCaller(request, lg, access === 'public');
    if (caller !== undefined) request.caller = caller;
    if (access === 'public') return;
    if (caller === undefined) {
      reply.header('www-authenticate', 'Bearer realm="loopgate"');
      throw unauthenticated('this endpoint needs a credential: a session (sign in) or an API key, as Authorization: Bearer …');
    }
    if (access === 'pending') return;
    if (caller.session?.state === 'mfa_pending') {
      throw new LoopgateError('LOOPGATE_ERR_MFA_REQUIRED', 'complete the sign-in with your second factor first', { extra: { factors: await lg.auth.secondFactors(caller.principal.id) } });
    }
    if (access === 'signed_in') return;
    if (!caller.permissions.has(access)) {
      throw new LoopgateError('LOOPGATE_ERR_FORBIDDEN', `this endpoint needs the ${access} permission, which none of ${caller.principal.id}'s roles in force grants`);
    }
  });
}

async function resolveCaller(request: FastifyRequest, lg: Loopgate, publicRoute: boolean): Promise<Caller | undefined> {
  const header = request.headers.authorization;
  if (header !== undefined) {
    const m = /^Bearer\s+(\S+)$/i.exec(header);
    const caller = m === null ? undefined : await lg.auth.authenticateBearer(m[1]!, request.ip);
    if (caller === undefined) {
      // A credential that was offered and is not valid is an error even on a public route: never fall back silently.
      throw unauthenticated('the bearer credential is not valid (unknown, expired or revoked)');
    }
    return caller;
  }
  const cookie = request.cookies?.[SESSION_COOKIE];
  if (cookie === undefined || cookie === '') return undefined;
  const csrf = request.headers['x-csrf-token'];
  try {
    return await lg.auth.authenticateCookie(cookie, typeof csrf === 'string' ? csrf : undefined, UNSAFE.has(request.method));
  } catch (e) {
    // A public route (signing in again, setup) does not act for the cookie's session: without its CSRF token the
    // cookie is ignored there, so a tab that lost the token can still sign in. Everywhere else it is refused.
    if (publicRoute && e instanceof LoopgateError && e.code === 'LOOPGATE_ERR_CSRF') return undefined;
    throw e;
  }
}

/** The authenticated caller of a route that requires one. */
export function callerOf(request: FastifyRequest): Caller {
  if (request.caller === undefined) throw unauthenticated('this endpoint needs a credential');
  return request.caller;
}

/** Who made a request, as the audit log records it. */
export function requestActor(request: FastifyRequest, lg: Loopgate): AuditActor {
  if (request.caller !== undefined) return lg.auth.callerActor(request.caller);
  return { kind: 'anonymous', id: `ip:${request.ip}` };
}
