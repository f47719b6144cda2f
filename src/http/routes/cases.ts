/**
 * Cases and verdicts, and the two ways a waiting caller learns a final decision without polling: a server-sent
 * event stream per decision, and the reviewers' stream of case changes in their scope.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { LoopgateError } from '../../core/errors.js';
import { CASE_STATUSES, type CaseStatus } from '../../core/review/cases.js';
import { LABELS, VERDICTS } from '../../core/review/quorum.js';
import { RISK_LEVELS } from '../../core/risk/engine.js';
import type { Loopgate } from '../../loopgate.js';
import type { CaseEvent, VerdictInput } from '../../services/cases.js';
import { callerOf } from '../auth.js';
import { problemResponses } from '../schemas.js';

const idParams = { type: 'object', properties: { id: { type: 'string', maxLength: 64 } }, required: ['id'] };
const text = (max: number) => ({ type: 'string', maxLength: max });
const verdictFields = {
  verdict: { type: 'string', enum: VERDICTS },
  label: { type: 'string', enum: [...LABELS] },
  reason: text(2000),
};
/** Heartbeats keep proxies from closing an idle stream. */
const HEARTBEAT_MS = 15_000;
/** A decision stream also looks at the database this often: another instance may have made the decision final. */
const DECISION_POLL_MS = 2_000;

interface ListQuery {
  status?: string;
  type?: string;
  risk_level?: string;
  older_than?: string;
  newer_than?: string;
  limit?: string;
  after?: string;
}

/** Query parameters are strings (nothing is coerced): integers are matched by pattern. */
const COUNT = { type: 'string', pattern: '^(0|[1-9][0-9]{0,9})$', 'x-expected': 'a non-negative integer' } as const;

export function registerCaseRoutes(app: FastifyInstance, lg: Loopgate): void {
  app.get<{ Querystring: ListQuery }>(
    '/v1/cases',
    {
      schema: {
        tags: ['cases'],
        summary: 'Cases in your scope (newest first): those your roles review where their scope holds; admins and auditors see all.',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            status: { type: 'string', pattern: `^(${CASE_STATUSES.join('|')})(,(${CASE_STATUSES.join('|')}))*$`, description: 'Comma-separated statuses.' },
            type: text(64),
            risk_level: { type: 'string', enum: [...RISK_LEVELS, 'unknown'] },
            older_than: { ...COUNT, description: 'Seconds since the case was opened, at least.' },
            newer_than: { ...COUNT, description: 'Seconds since the case was opened, at most.' },
            limit: { type: 'string', pattern: '^([1-9]|[1-9][0-9]|1[0-9][0-9]|200)$', 'x-expected': 'an integer from 1 to 200' },
            after: text(200),
          },
        },
        response: problemResponses(400, 401),
      },
    },
    async (request) => {
      const q = request.query;
      return lg.cases.list(callerOf(request), {
        limit: q.limit === undefined ? 50 : Number(q.limit),
        ...(q.status === undefined ? {} : { status: q.status.split(',') as CaseStatus[] }),
        ...(q.type === undefined ? {} : { type: q.type }),
        ...(q.risk_level === undefined ? {} : { risk_level: q.risk_level }),
        ...(q.older_than === undefined ? {} : { older_than: Number(q.older_than) }),
        ...(q.newer_than === undefined ? {} : { newer_than: Number(q.newer_than) }),
        ...(q.after === undefined ? {} : { after: q.after }),
      });
    },
  );

  app.get<{ Params: { id: string } }>(
    '/v1/cases/:id',
    { schema: { tags: ['cases'], summary: 'A case: the event, the risk reasons, the subject’s baseline beside this event, verdicts, the timeline.', params: idParams, response: problemResponses(401, 404) } },
    async (request) => lg.cases.get(callerOf(request), request.params.id),
  );

  app.post<{ Params: { id: string } }>(
    '/v1/cases/:id/claim',
    { schema: { tags: ['cases'], summary: 'Take the case for a while (a lease; config review.lease_minutes). Claiming again renews it.', params: idParams, response: problemResponses(401, 403, 404, 409) } },
    async (request) => lg.cases.claim(callerOf(request), request.params.id),
  );

  app.post<{ Params: { id: string } }>(
    '/v1/cases/:id/release',
    { schema: { tags: ['cases'], summary: 'Give the case back without deciding it.', params: idParams, response: problemResponses(401, 404, 409) } },
    async (request) => lg.cases.release(callerOf(request), request.params.id),
  );

  app.post<{ Params: { id: string }; Body: { text: string } }>(
    '/v1/cases/:id/comments',
    {
      schema: {
        tags: ['cases'],
        summary: 'Add a comment to the case’s timeline (recorded in the audit log).',
        params: idParams,
        body: { type: 'object', additionalProperties: false, required: ['text'], properties: { text: { type: 'string', minLength: 1, maxLength: 4000 } } },
        response: problemResponses(400, 401, 403, 404),
      },
    },
    async (request, reply) => {
      await lg.cases.comment(callerOf(request), request.params.id, request.body.text);
      return reply.code(204).send();
    },
  );

  app.post<{ Params: { id: string }; Body: { reviewer: string; reason?: string } }>(
    '/v1/cases/:id/assign',
    {
      schema: {
        tags: ['cases'],
        summary: 'Give the case to a named reviewer (cases:manage); they must be in scope and free of conflicts.',
        params: idParams,
        body: { type: 'object', additionalProperties: false, required: ['reviewer'], properties: { reviewer: text(128), reason: text(2000) } },
        response: problemResponses(400, 401, 403, 404, 409),
      },
    },
    async (request) => lg.cases.assign(callerOf(request), request.params.id, request.body.reviewer, request.body.reason),
  );

  app.post<{ Params: { id: string }; Body: { reason: string } }>(
    '/v1/cases/:id/cancel',
    {
      schema: {
        tags: ['cases'],
        summary: 'Withdraw the case (cases:manage); its decision becomes final as denied.',
        params: idParams,
        body: { type: 'object', additionalProperties: false, required: ['reason'], properties: { reason: { type: 'string', minLength: 1, maxLength: 2000 } } },
        response: problemResponses(400, 401, 403, 404, 409),
      },
    },
    async (request) => lg.cases.cancel(callerOf(request), request.params.id, request.body.reason),
  );

  app.post<{ Params: { id: string }; Body: Pick<VerdictInput, 'verdict' | 'label' | 'reason'> }>(
    '/v1/cases/:id/verdicts/challenge',
    {
      schema: {
        tags: ['cases'],
        summary: 'The verdict payload to sign and its WebAuthn challenge (SHA-256 of the RFC 8785 canonical payload), usable once.',
        params: idParams,
        body: { type: 'object', additionalProperties: false, required: ['verdict', 'label'], properties: verdictFields },
        response: problemResponses(400, 401, 403, 404, 409),
      },
    },
    async (request, reply) => reply.code(201).send(await lg.cases.verdictChallenge(callerOf(request), request.params.id, request.body)),
  );

  app.post<{ Params: { id: string }; Body: VerdictInput }>(
    '/v1/cases/:id/verdicts',
    {
      schema: {
        tags: ['cases'],
        summary: 'Give a verdict: approve, deny or escalate, with a label and (when overriding the machine) a reason.',
        description:
          'With `nonce` and `proof` (a WebAuthn assertion over the challenge), the passkey signs the verdict. Without a proof, the ' +
          'session\u2019s assurance must satisfy the route (else 401 with WWW-Authenticate: Bearer error="insufficient_user_authentication") ' +
          'and the server signs the payload with its approval key (GET /v1/keys/approval).',
        params: idParams,
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['verdict', 'label'],
          properties: {
            ...verdictFields,
            nonce: text(64),
            proof: {
              type: 'object',
              additionalProperties: false,
              required: ['type', 'response'],
              properties: { type: { type: 'string', enum: ['webauthn'] }, response: { type: 'object' } },
            },
            baseline_exception: {
              type: 'object',
              additionalProperties: false,
              required: ['feature', 'until'],
              properties: { feature: text(32), value: text(512), until: { type: 'string', format: 'date-time' }, reason: text(2000) },
            },
          },
        },
        response: problemResponses(400, 401, 403, 404, 409),
      },
    },
    async (request, reply) => reply.code(201).send(await lg.cases.giveVerdict(callerOf(request), request.params.id, request.body, request.ip)),
  );

  app.get('/v1/keys/approval', { schema: { tags: ['cases'], summary: 'The public key (JWK Set) that signs TOTP-backed verdicts.' } }, async () => lg.cases.approvalKeys());

  app.get<{ Params: { id: string }; Querystring: { timeout?: string } }>(
    '/v1/decisions/:id/events',
    {
      schema: {
        tags: ['decisions'],
        summary: 'Server-sent events: one `decision.final` event when the decision is final (at once if it already is).',
        description: 'If the decision is still pending after `timeout` seconds, a `decision.pending` event ends the stream; reconnect to keep waiting.',
        params: idParams,
        querystring: { type: 'object', additionalProperties: false, properties: { timeout: { type: 'string', pattern: '^[1-9][0-9]{0,3}$', 'x-expected': 'seconds, 1 to 9999' } } },
        response: problemResponses(401, 404),
      },
    },
    async (request, reply) => {
      const id = request.params.id;
      const first = JSON.parse(await lg.decisions.get(id)) as { id: string; status: string };
      const stream = openStream(request, reply);
      if (first.status === 'final') return stream.end('decision.final', JSON.stringify(first));
      const decisionId = first.id;
      const onFinal = (finalId: string, body: string) => {
        if (finalId === decisionId) stream.end('decision.final', body);
      };
      lg.cases.events.on('decision.final', onFinal);
      const poll = setInterval(() => {
        void lg.decisions
          .get(decisionId)
          .then((body) => {
            if ((JSON.parse(body) as { status: string }).status === 'final') stream.end('decision.final', body);
          })
          .catch(() => undefined);
      }, DECISION_POLL_MS);
      const timeout = setTimeout(() => stream.end('decision.pending', JSON.stringify({ id: decisionId, status: 'pending' })), Number(request.query.timeout ?? 300) * 1000);
      stream.onClose(() => {
        lg.cases.events.off('decision.final', onFinal);
        clearInterval(poll);
        clearTimeout(timeout);
      });
    },
  );

  app.get(
    '/v1/stream',
    { schema: { tags: ['cases'], summary: 'Server-sent events: changes to the cases in your scope (case.opened, case.claimed, case.decided, …).' } },
    async (request, reply) => {
      const caller = callerOf(request);
      const stream = openStream(request, reply);
      const onCase = (e: CaseEvent) => {
        void lg.cases
          .canSee(caller, e.case_id)
          .then((ok) => ok && stream.send(e.type, JSON.stringify(e)))
          .catch(() => undefined);
      };
      lg.cases.events.on('case', onCase);
      stream.onClose(() => lg.cases.events.off('case', onCase));
    },
  );
}

/** A server-sent event stream on the raw response (Fastify hands the socket over). */
function openStream(request: FastifyRequest, reply: FastifyReply) {
  reply.hijack();
  const raw = reply.raw;
  raw.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
  raw.write(': stream open\n\n');
  const closers: Array<() => void> = [];
  let open = true;
  const heartbeat = setInterval(() => raw.write(': keep-alive\n\n'), HEARTBEAT_MS);
  const close = () => {
    if (!open) return;
    open = false;
    clearInterval(heartbeat);
    for (const c of closers) c();
  };
  request.raw.on('close', close);
  raw.on('close', close);
  let seq = 0;
  const send = (event: string, data: string) => {
    if (!open) return;
    if (/[\r\n]/.test(event)) throw new LoopgateError('LOOPGATE_ERR_INTERNAL', 'an event name cannot hold a line break');
    // JSON.stringify never emits a raw line break, so one `data:` line carries the whole document.
    raw.write(`id: ${++seq}\nevent: ${event}\ndata: ${data}\n\n`);
  };
  return {
    send,
    end(event: string, data: string) {
      send(event, data);
      close();
      raw.end();
    },
    onClose(fn: () => void) {
      if (open) closers.push(fn);
      else fn();
    },
  };
}
