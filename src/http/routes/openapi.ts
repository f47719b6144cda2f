import type { FastifyInstance } from 'fastify';
import { EVENT_TYPES } from '../../core/events/schema.js';
import { eventComponentName, eventComponents } from '../schemas.js';

type OpenApiDocument = {
  components?: { schemas?: Record<string, unknown> };
  paths?: Record<string, Record<string, { requestBody?: { content?: Record<string, { schema?: { properties?: Record<string, unknown> } }> } }>>;
};

export function registerOpenApiRoute(app: FastifyInstance): void {
  let cached: string | undefined;
  app.get(
    '/openapi.json',
    { schema: { tags: ['operations'], summary: 'This OpenAPI 3.1 document.', hide: false } },
    async (_request, reply) => {
      cached ??= JSON.stringify(withEventSchemas(app.swagger() as OpenApiDocument));
      return reply.type('application/json').send(cached);
    },
  );
}

/** Adds one component per event type and points the decision request's `event` at them. */
function withEventSchemas(doc: OpenApiDocument): OpenApiDocument {
  doc.components ??= {};
  doc.components.schemas = { ...doc.components.schemas, ...eventComponents() };
  const body = doc.paths?.['/v1/decisions']?.post?.requestBody?.content?.['application/json']?.schema;
  if (body?.properties !== undefined) {
    body.properties.event = {
      description: 'An identity event; `type` selects the schema.',
      oneOf: EVENT_TYPES.map((t) => ({ $ref: `#/components/schemas/${eventComponentName(t)}` })),
      discriminator: { propertyName: 'type' },
    };
  }
  return doc;
}
