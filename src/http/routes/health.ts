import type { FastifyInstance } from 'fastify';
import { LoopgateError } from '../../core/errors.js';
import type { Loopgate } from '../../loopgate.js';
import { problemResponses } from '../schemas.js';

export function registerHealthRoutes(app: FastifyInstance, lg: Loopgate): void {
  app.get(
    '/healthz',
    {
      schema: {
        tags: ['operations'],
        summary: 'Liveness: the process answers.',
        response: { 200: { type: 'object', properties: { status: { type: 'string', const: 'ok' } } } },
      },
    },
    async () => ({ status: 'ok' }),
  );

  app.get(
    '/readyz',
    {
      schema: {
        tags: ['operations'],
        summary: 'Readiness: started, the database answers and a policy is active; 503 while starting or draining.',
        response: {
          200: {
            type: 'object',
            properties: {
              status: { type: 'string', const: 'ready' },
              store: { type: 'string' },
              policy_version: { type: 'string' },
            },
          },
          ...problemResponses(503),
        },
      },
    },
    async () => {
      if (!lg.isReady()) throw new LoopgateError('LOOPGATE_ERR_NOT_READY', 'starting or shutting down');
      try {
        await lg.store.ping();
      } catch (e) {
        throw new LoopgateError('LOOPGATE_ERR_STORE_UNAVAILABLE', 'the database does not answer', { cause: e });
      }
      return { status: 'ready', store: lg.store.dialect, policy_version: lg.policies.current().version };
    },
  );
}
