/**
 * OpenID AuthZEN Authorization API 1.0: evaluation, evaluations (all three semantics) and PDP metadata.
 * Every evaluation is a Loopgate decision (stored, with risk and reasons); `decision` is true only for allow.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import {
  authzenToEvent,
  decisionToAuthzen,
  eventTypeFor,
  type AuthzenAction,
  type AuthzenDecision,
  type AuthzenEntity,
  type AuthzenEvaluation,
  type EvaluationsSemantic,
} from '../../core/authzen.js';
import { LoopgateError } from '../../core/errors.js';
import type { Loopgate } from '../../loopgate.js';
import { publicBaseUrl } from '../app.js';
import { problemResponses, ref } from '../schemas.js';

interface EvaluationsBody {
  subject?: AuthzenEntity;
  action?: AuthzenAction;
  resource?: AuthzenEntity;
  context?: Record<string, unknown>;
  evaluations?: Array<Partial<AuthzenEvaluation>>;
  options?: { evaluations_semantic?: EvaluationsSemantic };
}

export function registerAuthzenRoutes(app: FastifyInstance, lg: Loopgate): void {
  // The PDP identifier comes from configuration (server.public_url, else the listening host and port), never from
  // the request's Host header: AuthZEN metadata exists to prevent mix-ups, so a client must not be able to set it.
  const baseUrl = (request: FastifyRequest) => {
    const address = request.server.server.address();
    return publicBaseUrl(lg, typeof address === 'object' && address !== null ? address.port : undefined);
  };

  async function evaluate(e: AuthzenEvaluation, request: FastifyRequest): Promise<AuthzenDecision> {
    const type = eventTypeFor(e);
    try {
      const { decision } = await lg.decisions.decide(authzenToEvent(e), { pointerPrefix: '/event' });
      return decisionToAuthzen(decision, `${baseUrl(request)}/v1/decisions/${decision.id}`);
    } catch (err) {
      if (err instanceof LoopgateError && err.status === 400) {
        throw new LoopgateError(
          'LOOPGATE_ERR_VALIDATION',
          `the request maps to a Loopgate ${type} event that is not valid (see docs/authzen.md): ${err.message}`,
          err.errors === undefined ? { extra: { mapped_event_type: type } } : { errors: err.errors, extra: { mapped_event_type: type } },
        );
      }
      throw err;
    }
  }

  app.post<{ Body: AuthzenEvaluation }>(
    '/access/v1/evaluation',
    {
      schema: {
        tags: ['authzen'],
        summary: 'AuthZEN Access Evaluation: may this subject perform this action on this resource?',
        body: ref('AuthzenEvaluationRequest'),
        response: { 200: ref('AuthzenDecision'), ...problemResponses(400, 413, 415, 503) },
      },
    },
    async (request) => evaluate(request.body, request),
  );

  app.post<{ Body: EvaluationsBody }>(
    '/access/v1/evaluations',
    {
      schema: {
        tags: ['authzen'],
        summary: 'AuthZEN Access Evaluations: several evaluations in one request.',
        body: ref('AuthzenEvaluationsRequest'),
        response: {
          200: {
            description: 'The decisions in request order (or one decision when the request has no evaluations array).',
            type: 'object',
            properties: { evaluations: { type: 'array', items: ref('AuthzenDecision') }, decision: { type: 'boolean' }, context: { type: 'object', additionalProperties: true } },
          },
          ...problemResponses(400, 413, 415, 503),
        },
      },
    },
    async (request) => {
      const body = request.body;
      // Without an evaluations array the request is a single Access Evaluation, answered as one (AuthZEN 1.0).
      if (body.evaluations === undefined || body.evaluations.length === 0) {
        const missing = (['subject', 'action', 'resource'] as const).filter((k) => body[k] === undefined);
        if (missing.length > 0) {
          throw new LoopgateError('LOOPGATE_ERR_VALIDATION', `without evaluations, the request needs ${missing.join(', ')}`, {
            errors: missing.map((k) => ({ pointer: `#/${k}`, detail: 'is required (there is no evaluations array)' })),
          });
        }
        return evaluate(body as AuthzenEvaluation, request);
      }
      const semantic = body.options?.evaluations_semantic ?? 'execute_all';
      const items = body.evaluations.map((item) => ({
        subject: item.subject ?? body.subject,
        action: item.action ?? body.action,
        resource: item.resource ?? body.resource,
        context: item.context ?? body.context,
      }));
      const one = async (item: (typeof items)[number]): Promise<AuthzenDecision> => {
        const missing = (['subject', 'action', 'resource'] as const).filter((k) => item[k] === undefined);
        if (missing.length > 0) {
          return { decision: false, context: { error: { status: 400, message: `missing ${missing.join(', ')} (neither in the item nor as a default)` } } };
        }
        try {
          return await evaluate(item as AuthzenEvaluation, request);
        } catch (err) {
          // Per-item failures are denials with the error in the context; decisions default to closed.
          const status = err instanceof LoopgateError ? err.status : 500;
          const message = err instanceof LoopgateError && status < 500 ? err.message : 'internal error';
          if (status >= 500) request.log.error({ err }, 'evaluation failed');
          return { decision: false, context: { error: { status, message } } };
        }
      };
      if (semantic === 'execute_all') return { evaluations: await Promise.all(items.map(one)) };
      const evaluations: AuthzenDecision[] = [];
      for (const item of items) {
        const d = await one(item);
        evaluations.push(d);
        if (semantic === 'deny_on_first_deny' && !d.decision) break;
        if (semantic === 'permit_on_first_permit' && d.decision) break;
      }
      return { evaluations };
    },
  );

  app.get(
    '/.well-known/authzen-configuration',
    {
      schema: {
        tags: ['authzen'],
        summary: 'AuthZEN Policy Decision Point metadata.',
        response: {
          200: {
            type: 'object',
            properties: {
              policy_decision_point: { type: 'string' },
              access_evaluation_endpoint: { type: 'string' },
              access_evaluations_endpoint: { type: 'string' },
              capabilities: { type: 'array', items: { type: 'string' } },
            },
          },
        },
      },
    },
    async (request) => {
      const base = baseUrl(request);
      return {
        policy_decision_point: base,
        access_evaluation_endpoint: `${base}/access/v1/evaluation`,
        access_evaluations_endpoint: `${base}/access/v1/evaluations`,
        capabilities: [],
      };
    },
  );
}
