/**
 * The HTTP door: Fastify, one route module per surface, errors as problem+json, X-Request-ID echoed, an
 * OpenAPI document built from the route schemas. Routes call the service layer and nothing else.
 */
import { randomUUID } from 'node:crypto';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import cookie from '@fastify/cookie';
import { registerAuth } from './auth.js';
import { registerAuthRoutes } from './routes/auth.js';
import { registerPrincipalRoutes } from './routes/principals.js';
import { registerWebhookRoutes } from './routes/webhooks.js';
import { registerCaseRoutes } from './routes/cases.js';
import { registerCollectorRoute, registerConsoleRoutes } from './routes/console.js';
import { registerStatsRoutes } from './routes/stats.js';
import { LoopgateError } from '../core/errors.js';
import type { Loopgate } from '../loopgate.js';
import { sendProblem, toLoopgateError } from './problem.js';
import { registerAuditRoutes } from './routes/audit.js';
import { registerAuthzenRoutes } from './routes/authzen.js';
import { registerDecisionRoutes } from './routes/decisions.js';
import { registerHealthRoutes } from './routes/health.js';
import { registerOpenApiRoute } from './routes/openapi.js';
import { registerPolicyRoutes } from './routes/policies.js';
import { addEventFormats } from '../core/events/parse.js';
import { registerSchemas } from './schemas.js';

export interface HttpOptions {
  /** A pino logger (or false for none). */
  logger?: FastifyBaseLogger | false;
}

const REQUEST_ID = /^[\x21-\x7e]{1,128}$/;

export async function buildHttpApp(lg: Loopgate, options: HttpOptions = {}): Promise<FastifyInstance> {
  const { config } = lg;
  const app = Fastify({
    loggerInstance: options.logger === false || options.logger === undefined ? undefined : options.logger,
    bodyLimit: config.server.body_limit,
    trustProxy: config.server.trust_proxy,
    logController: new LogController({ disableRequestLogging: !config.log.requests }),
    requestIdHeader: false,
    // The caller's X-Request-ID (when printable and short) becomes the log correlation id, and is echoed.
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    // Route schemas are validated strictly: every error is reported, nothing is coerced, and unknown properties
    // are errors where a schema forbids them (Fastify's default would silently strip them).
    ajv: {
      customOptions: { allErrors: true, verbose: true, coerceTypes: false, removeAdditional: false, useDefaults: true },
      plugins: [addEventFormats],
    },
  });

  // JSON only: without this, Fastify would parse text/plain bodies as strings and report a validation error
  // instead of the unsupported media type.
  app.removeContentTypeParser('text/plain');

  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
    if (!lg.isReady() && !request.url.startsWith('/healthz') && !request.url.startsWith('/readyz')) {
      throw new LoopgateError('LOOPGATE_ERR_SHUTTING_DOWN', 'Loopgate is shutting down; retry on another instance');
    }
  });

  // While the server drains (after close() began), tell clients not to reuse the connection.
  app.addHook('onSend', async (_request, reply) => {
    if (!app.server.listening) reply.header('connection', 'close');
  });

  app.setErrorHandler((error, request, reply) => {
    const err = toLoopgateError(error as FastifyError);
    if (err.status >= 500) request.log.error({ err: error, code: err.code }, 'request failed');
    else request.log.debug({ code: err.code, detail: err.message }, 'request rejected');
    return sendProblem(reply, err, request);
  });

  app.setNotFoundHandler((request, reply) =>
    sendProblem(reply, new LoopgateError('LOOPGATE_ERR_NOT_FOUND', `no route for ${request.method} ${request.url.split('?')[0]}`), request),
  );

  await app.register(swagger, {
    // Shared schemas keep their $id as the component name (Problem, Decision, …) instead of def-N.
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Loopgate',
        version: '0.1.0',
        description: 'Risk-scored identity decisions with verified people in the loop.',
        license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
      },
      tags: [
        { name: 'decisions', description: 'Score an identity event and decide.' },
        { name: 'authzen', description: 'OpenID AuthZEN Authorization API 1.0.' },
        { name: 'policies', description: 'The active policy bundle.' },
        { name: 'audit', description: 'The tamper-evident audit log: signed checkpoints, entries, RFC 6962 proofs, search.' },
        { name: 'auth', description: 'Sign-in, second factors, sessions, first-admin setup.' },
        { name: 'principals', description: 'People, services and agents; roles and scopes; API keys.' },
        { name: 'webhooks', description: 'Signed notifications to waiting callers, with retries and a dead-letter list.' },
        { name: 'operations', description: 'Health, readiness, this document.' },
      ],
    },
  });

  await app.register(cookie);
  registerSchemas(app);
  registerAuth(app, lg);
  registerHealthRoutes(app, lg);
  registerAuthRoutes(app, lg);
  registerPrincipalRoutes(app, lg);
  registerWebhookRoutes(app, lg);
  registerCaseRoutes(app, lg);
  registerStatsRoutes(app, lg);
  registerDecisionRoutes(app, lg);
  registerAuthzenRoutes(app, lg);
  registerPolicyRoutes(app, lg);
  registerAuditRoutes(app, lg);
  registerOpenApiRoute(app);
  registerCollectorRoute(app);
  await registerConsoleRoutes(app);
  await app.ready();
  return app;
}

/** The base URL clients use to reach this server. */
export function publicBaseUrl(lg: Loopgate, actualPort?: number): string {
  if (lg.config.server.public_url !== undefined) return lg.config.server.public_url.replace(/\/$/, '');
  const host = lg.config.server.host === '0.0.0.0' || lg.config.server.host === '::' ? 'localhost' : lg.config.server.host;
  return `http://${host.includes(':') ? `[${host}]` : host}:${actualPort ?? lg.config.server.port}`;
}
