import type { FastifyInstance } from 'fastify';
import type { Loopgate } from '../../loopgate.js';
import { problemResponses, ref } from '../schemas.js';

interface DecisionBody {
  event: unknown;
  dry_run?: boolean;
}

export function registerDecisionRoutes(app: FastifyInstance, lg: Loopgate): void {
  app.post<{ Body: DecisionBody }>(
    '/v1/decisions',
    {
      schema: {
        tags: ['decisions'],
        summary: 'Score an event and decide: allow, challenge, deny or review.',
        description:
          'The event is validated against the schema of its type (see the *Event components); every invalid field is ' +
          'reported. The decision is stored durably before the response is sent. With dry_run, nothing is stored or learned.',
        body: {
          type: 'object',
          required: ['event'],
          additionalProperties: false,
          properties: {
            // Validated by the service against the schema of the event's type, so errors name each field.
            event: { description: 'An identity event (login, mfa, transaction, role.change, access.request, agent.action, session.signal).' },
            dry_run: { type: 'boolean', default: false, description: 'Evaluate without storing or learning.' },
          },
        },
        response: {
          201: { description: 'The decision.', content: { 'application/json': { schema: ref('Decision') } } },
          200: { description: 'The decision of a dry run (not stored).', content: { 'application/json': { schema: ref('Decision') } } },
          ...problemResponses(400, 413, 415, 503),
        },
      },
    },
    async (request, reply) => {
      const dryRun = request.body.dry_run === true;
      const { id, json } = await lg.decisions.decide(request.body.event, { dryRun, pointerPrefix: '/event' });
      if (!dryRun) reply.code(201).header('location', `/v1/decisions/${id}`);
      return reply.type('application/json').send(json);
    },
  );

  app.get<{ Params: { id: string } }>(
    '/v1/decisions/:id',
    {
      schema: {
        tags: ['decisions'],
        summary: 'A decision with its current status.',
        params: { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] },
        response: {
          200: { description: 'The decision.', content: { 'application/json': { schema: ref('Decision') } } },
          ...problemResponses(404),
        },
      },
    },
    async (request, reply) => reply.type('application/json').send(await lg.decisions.get(request.params.id)),
  );
}
