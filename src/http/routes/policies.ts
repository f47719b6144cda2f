import type { FastifyInstance } from 'fastify';
import { LoopgateError } from '../../core/errors.js';
import type { Loopgate } from '../../loopgate.js';
import { requestActor } from '../auth.js';
import { problemResponses } from '../schemas.js';

export function registerPolicyRoutes(app: FastifyInstance, lg: Loopgate): void {
  app.get(
    '/v1/policies',
    {
      schema: {
        tags: ['policies'],
        summary: 'The active policy bundle: version, files, rules, routes and settings.',
        response: { 200: { type: 'object', additionalProperties: true } },
      },
    },
    async () => {
      const b = lg.policies.current();
      return {
        version: b.version,
        directory: lg.policies.directory,
        files: b.files,
        policies: b.policies,
        routes: Object.fromEntries(b.routes),
        settings: b.settings,
      };
    },
  );

  app.post(
    '/v1/policies/reload',
    {
      schema: {
        tags: ['policies'],
        summary: 'Reload the bundle from its directory; an invalid bundle is rejected and the active one stays.',
        response: {
          200: { type: 'object', properties: { version: { type: 'string' }, changed: { type: 'boolean' } } },
          ...problemResponses(422),
        },
      },
    },
    async (request) => {
      const r = await lg.policies.reload('api', requestActor(request, lg));
      if (r.ok) return { version: r.version, changed: r.changed };
      throw new LoopgateError('LOOPGATE_ERR_POLICY_INVALID', `the bundle has ${r.errors.length} error(s); version ${r.version ?? 'none'} stays active`, {
        errors: r.errors.map((e) => ({ pointer: '#', detail: `${e.file}:${e.line}:${e.column}: ${e.message}` })),
        extra: { policy_errors: r.errors, active_version: r.version },
      });
    },
  );
}
