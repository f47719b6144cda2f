import type { FastifyInstance } from 'fastify';
import type { Loopgate } from '../../loopgate.js';
import { requestActor } from '../auth.js';
import { problemResponses } from '../schemas.js';

export function registerWebhookRoutes(app: FastifyInstance, lg: Loopgate): void {
  app.get('/v1/webhooks', { schema: { tags: ['webhooks'], summary: 'Webhooks (never their secrets).' } }, async () => ({ webhooks: await lg.webhooks.list() }));

  app.post<{ Body: { url: string; events: string[] } }>(
    '/v1/webhooks',
    {
      schema: {
        tags: ['webhooks'],
        summary: 'Subscribe a URL to events (e.g. decision.final, case.created, or *); the signing secret is shown once.',
        description: 'Deliveries follow Standard Webhooks: webhook-id (the same on every retry), webhook-timestamp, webhook-signature v1 = HMAC-SHA256.',
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['url', 'events'],
          properties: { url: { type: 'string', minLength: 1, maxLength: 2048 }, events: { type: 'array', items: { type: 'string', minLength: 1, maxLength: 128 }, minItems: 1, maxItems: 32 } },
        },
        response: problemResponses(400, 401, 403),
      },
    },
    async (request, reply) => reply.code(201).send(await lg.webhooks.create(request.body, requestActor(request, lg))),
  );

  app.delete<{ Params: { id: string } }>('/v1/webhooks/:id', { schema: { tags: ['webhooks'], summary: 'Remove a webhook (its pending deliveries are dropped).' } }, async (request, reply) => {
    await lg.webhooks.remove(request.params.id, requestActor(request, lg));
    return reply.code(204).send();
  });

  app.get('/v1/webhooks/dead-letters', { schema: { tags: ['webhooks'], summary: 'Deliveries that failed every attempt.' } }, async () => ({ deliveries: await lg.webhooks.deadLetters() }));

  app.post<{ Params: { id: string } }>('/v1/webhooks/deliveries/:id/retry', { schema: { tags: ['webhooks'], summary: 'Send a dead delivery again (same delivery id).' } }, async (request, reply) => {
    await lg.webhooks.redeliver(request.params.id, requestActor(request, lg));
    return reply.code(202).send();
  });
}
