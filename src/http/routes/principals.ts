import type { FastifyInstance } from 'fastify';
import type { Loopgate } from '../../loopgate.js';
import type { NewBinding, NewPrincipal } from '../../services/principals.js';
import { requestActor } from '../auth.js';
import { problemResponses } from '../schemas.js';

const str = (max = 256) => ({ type: 'string', minLength: 1, maxLength: max });
const binding = {
  type: 'object',
  additionalProperties: false,
  required: ['role'],
  properties: {
    role: str(63),
    condition: { ...str(4096), description: 'CEL over `case` and `reviewer`: the cases this binding reaches, e.g. case.subject.region == "EU".' },
    expires_at: { type: 'string', format: 'date-time' },
  },
};

export function registerPrincipalRoutes(app: FastifyInstance, lg: Loopgate): void {
  app.get('/v1/principals', { schema: { tags: ['principals'], summary: 'Every principal with its role bindings.' } }, async () => ({ principals: await lg.principals.list() }));

  app.post<{ Body: NewPrincipal }>(
    '/v1/principals',
    {
      schema: {
        tags: ['principals'],
        summary: 'Create a person, service or agent (services and agents need a human sponsor).',
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['id'],
          properties: {
            id: str(128),
            kind: { type: 'string', enum: ['human', 'service', 'agent'] },
            display_name: str(),
            sponsor: str(128),
            attributes: { type: 'object', additionalProperties: true, description: 'region, department, manager, email… (read by scope conditions as reviewer.*)' },
            roles: { type: 'array', items: binding, maxItems: 64 },
            password: str(1024),
          },
        },
        response: problemResponses(400, 401, 403, 409),
      },
    },
    async (request, reply) => reply.code(201).send(await lg.principals.create(request.body, requestActor(request, lg))),
  );

  app.get<{ Params: { id: string } }>('/v1/principals/:id', { schema: { tags: ['principals'], summary: 'A principal with its role bindings and API keys.' } }, async (request) => {
    const p = await lg.principals.get(request.params.id);
    return { ...p, roles: await lg.principals.bindings(p.id), api_keys: await lg.principals.apiKeys(p.id) };
  });

  app.post<{ Params: { id: string }; Body: NewBinding }>(
    '/v1/principals/:id/roles',
    { schema: { tags: ['principals'], summary: 'Grant a role, optionally scoped by a condition and with an expiry.', body: binding } },
    async (request, reply) => reply.code(201).send(await lg.principals.addBinding(request.params.id, request.body, requestActor(request, lg))),
  );

  app.delete<{ Params: { id: string; binding: string } }>(
    '/v1/principals/:id/roles/:binding',
    { schema: { tags: ['principals'], summary: 'Revoke a role binding.' } },
    async (request, reply) => {
      await lg.principals.removeBinding(request.params.id, request.params.binding, requestActor(request, lg));
      return reply.code(204).send();
    },
  );

  app.post<{ Params: { id: string }; Body: { password: string } }>(
    '/v1/principals/:id/password',
    {
      schema: {
        tags: ['principals'],
        summary: 'Set a principal’s password.',
        body: { type: 'object', additionalProperties: false, required: ['password'], properties: { password: str(1024) } },
      },
    },
    async (request, reply) => {
      await lg.principals.setPassword(request.params.id, request.body.password, requestActor(request, lg));
      return reply.code(204).send();
    },
  );

  app.get('/v1/roles', { schema: { tags: ['principals'], summary: 'Roles and their permissions.' } }, async () => ({ roles: await lg.principals.roles() }));

  app.put<{ Params: { name: string }; Body: { description?: string; permissions: string[] } }>(
    '/v1/roles/:name',
    {
      schema: {
        tags: ['principals'],
        summary: 'Define (or redefine) a custom role.',
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['permissions'],
          properties: { description: { type: 'string', maxLength: 1024 }, permissions: { type: 'array', items: { type: 'string' }, maxItems: 64 } },
        },
      },
    },
    async (request, reply) => {
      await lg.principals.defineRole({ name: request.params.name, ...request.body }, requestActor(request, lg));
      return reply.code(204).send();
    },
  );

  app.get('/v1/api-keys', { schema: { tags: ['principals'], summary: 'API keys (never their secrets).' } }, async () => ({ api_keys: await lg.principals.apiKeys() }));

  app.post<{ Body: { principal_id: string; roles: string[]; label?: string; expires_at?: string } }>(
    '/v1/api-keys',
    {
      schema: {
        tags: ['principals'],
        summary: 'Create an API key for a principal, carrying some of its roles; the key is shown once.',
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['principal_id', 'roles'],
          properties: { principal_id: str(128), roles: { type: 'array', items: str(63), minItems: 1, maxItems: 16 }, label: { type: 'string', maxLength: 256 }, expires_at: { type: 'string', format: 'date-time' } },
        },
      },
    },
    async (request, reply) => {
      const { key, info } = await lg.principals.createApiKey(request.body, requestActor(request, lg));
      return reply.code(201).send({ key, ...info });
    },
  );

  app.delete<{ Params: { id: string } }>('/v1/api-keys/:id', { schema: { tags: ['principals'], summary: 'Revoke an API key.' } }, async (request, reply) => {
    await lg.principals.revokeApiKey(request.params.id, requestActor(request, lg));
    return reply.code(204).send();
  });
}
