/**
 * The audit log over HTTP: the signed checkpoint, entries, RFC 6962 proofs, search, and the verifier keys.
 * Every read is itself recorded in the log (action `audit.read`) before anything is returned: if that record
 * cannot be written, nothing is returned. Reading the log will require the auditor or admin role once callers
 * authenticate (the principals issue); until then the API is open to whoever reaches it, and each read names
 * the caller's address.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { auditRead } from '../../core/audit/records.js';
import { LoopgateError } from '../../core/errors.js';
import type { Loopgate } from '../../loopgate.js';
import type { AuditSearch } from '../../store/store.js';
import { MAX_ENTRIES_PER_READ } from '../../services/audit.js';
import { requestActor } from '../auth.js';
import { problemResponses } from '../schemas.js';

const INDEX = { type: 'string', pattern: '^(0|[1-9][0-9]{0,15})$', 'x-expected': 'a non-negative integer' } as const;
const TIME = { type: 'string', format: 'date-time' } as const;
const TEXT = { type: 'string', minLength: 1, maxLength: 256 } as const;

const hash = { type: 'string', description: 'Base64 SHA-256 hash.' } as const;
const checkpointSchema = {
  type: 'object',
  properties: {
    origin: { type: 'string' },
    size: { type: 'integer' },
    root: hash,
    checkpoint: { type: 'string', description: 'The signed note (c2sp.org/tlog-checkpoint, c2sp.org/signed-note, Ed25519).' },
    key_id: { type: 'string' },
    created_at: { type: 'string', format: 'date-time' },
  },
} as const;
const entrySchema = {
  type: 'object',
  properties: {
    index: { type: 'integer' },
    leaf_hash: hash,
    entry: { type: 'object', additionalProperties: true, description: 'The entry; its leaf is SHA-256(0x00 ‖ RFC 8785 form).' },
  },
} as const;
const entriesSchema = {
  type: 'object',
  properties: {
    entries: { type: 'array', items: entrySchema },
    next: { type: 'string', description: 'When there may be more: for entries, the next `start`; for search, the next `after`.' },
  },
} as const;

type Query = Record<string, string | undefined>;

function int(q: Query, name: string): number | undefined {
  return q[name] === undefined ? undefined : Number(q[name]);
}

function requireInt(q: Query, name: string): number {
  const v = int(q, name);
  if (v === undefined) throw new LoopgateError('LOOPGATE_ERR_VALIDATION', `query parameter ${name} is required`);
  return v;
}

function querySchema(properties: Record<string, unknown>, required: string[] = []) {
  return { type: 'object', additionalProperties: false, properties, required };
}

export function registerAuditRoutes(app: FastifyInstance, lg: Loopgate): void {
  /**
   * Reads, records the read, then answers: nothing leaves before its read is durably logged, and a request that
   * fails validation (schema or range) reads nothing and records nothing.
   */
  const recordRead = (request: FastifyRequest<{ Querystring: Query }>, what: string) =>
    lg.audit.record(auditRead(requestActor(request, lg), what, { ...request.query }));
  const logged = (what: string, handler: (request: FastifyRequest<{ Querystring: Query }>) => Promise<unknown>) =>
    async (request: FastifyRequest<{ Querystring: Query }>) => {
      const result = await handler(request);
      await recordRead(request, what);
      return result;
    };

  app.get<{ Querystring: Query }>(
    '/v1/audit/checkpoint',
    {
      schema: {
        tags: ['audit'],
        summary: 'The latest signed checkpoint of the audit log (JSON, or the bare signed note with Accept: text/plain).',
        querystring: querySchema({}),
        response: { 200: checkpointSchema, ...problemResponses(503) },
      },
    },
    async (request, reply) => {
      const cp = await lg.audit.latestCheckpoint();
      await recordRead(request, 'checkpoint');
      // The bare signed note is what transparency-log tooling (witnesses, monitors) reads.
      if (prefersText(request)) return reply.type('text/plain; charset=utf-8').send(cp.checkpoint);
      return cp;
    },
  );

  app.post(
    '/v1/audit/checkpoints',
    {
      schema: {
        tags: ['audit'],
        summary: 'Sign a checkpoint of the log now (or return the latest, if it already covers every entry).',
        response: { 201: checkpointSchema, ...problemResponses(503) },
      },
    },
    async (_request, reply) => reply.code(201).send(lg.audit.view(await lg.audit.checkpoint())),
  );

  app.get<{ Querystring: Query }>(
    '/v1/audit/entries',
    {
      schema: {
        tags: ['audit'],
        summary: `Entries start..end, both included (as RFC 6962 get-entries); at most ${MAX_ENTRIES_PER_READ} per call.`,
        querystring: querySchema({ start: INDEX, end: INDEX }, ['start', 'end']),
        response: { 200: entriesSchema, ...problemResponses(400) },
      },
    },
    logged('entries', async (request) => {
      const start = requireInt(request.query, 'start');
      const end = requireInt(request.query, 'end');
      const entries = await lg.audit.entries(start, end);
      const last = entries[entries.length - 1]?.index;
      return last !== undefined && last < end && last + 1 < lg.audit.size ? { entries, next: String(last + 1) } : { entries };
    }),
  );

  app.get<{ Querystring: Query }>(
    '/v1/audit/proofs/inclusion',
    {
      schema: {
        tags: ['audit'],
        summary: 'RFC 6962 inclusion proof (audit path) of entry `index` in the tree of `size` entries (default: the latest checkpoint).',
        querystring: querySchema({ index: INDEX, size: INDEX }, ['index']),
        response: {
          200: {
            type: 'object',
            properties: { leaf_index: { type: 'integer' }, tree_size: { type: 'integer' }, leaf_hash: hash, audit_path: { type: 'array', items: hash } },
          },
          ...problemResponses(400),
        },
      },
    },
    logged('inclusion_proof', async (request) => lg.audit.inclusionProof(requireInt(request.query, 'index'), int(request.query, 'size'))),
  );

  app.get<{ Querystring: Query }>(
    '/v1/audit/proofs/consistency',
    {
      schema: {
        tags: ['audit'],
        summary: 'RFC 6962 consistency proof that the tree of `from` entries is a prefix of the tree of `to` entries.',
        querystring: querySchema({ from: INDEX, to: INDEX }, ['from', 'to']),
        response: {
          200: { type: 'object', properties: { first: { type: 'integer' }, second: { type: 'integer' }, consistency: { type: 'array', items: hash } } },
          ...problemResponses(400),
        },
      },
    },
    logged('consistency_proof', async (request) =>
      lg.audit.consistencyProof(requireInt(request.query, 'from'), requireInt(request.query, 'to')),
    ),
  );

  app.get<{ Querystring: Query }>(
    '/v1/audit/search',
    {
      schema: {
        tags: ['audit'],
        summary: 'Entries by actor, target, case, decision, action and time range, oldest first; page with `after`.',
        querystring: querySchema({
          actor: { ...TEXT, description: 'Actor id (principal id).' },
          target_type: TEXT,
          target_id: TEXT,
          case: TEXT,
          decision: { ...TEXT, description: 'A decision id: its batch entry and every entry linking to it.' },
          action: TEXT,
          since: { ...TIME, description: 'Entries at or after this time.' },
          until: { ...TIME, description: 'Entries before this time.' },
          after: { ...INDEX, description: 'Entries after this index: pass the `next` of the previous page.' },
          limit: { type: 'string', pattern: '^[1-9][0-9]{0,3}$', 'x-expected': 'an integer from 1 to 9999', description: `At most ${MAX_ENTRIES_PER_READ} (default 100).` },
        }),
        response: { 200: entriesSchema, ...problemResponses(400) },
      },
    },
    logged('search', async (request) => {
      const q = request.query;
      if (q.target_type !== undefined && q.target_id === undefined) {
        throw new LoopgateError('LOOPGATE_ERR_VALIDATION', 'query parameter target_id is required with target_type', {
          errors: [{ parameter: 'target_id', detail: 'is required with target_type' }],
        });
      }
      const limit = Math.min(int(q, 'limit') ?? 100, MAX_ENTRIES_PER_READ);
      const search: AuditSearch = { limit };
      if (q.actor !== undefined) search.actor = q.actor;
      if (q.target_id !== undefined) search.target = q.target_type === undefined ? { id: q.target_id } : { type: q.target_type, id: q.target_id };
      if (q.case !== undefined) search.case = q.case;
      if (q.decision !== undefined) search.decision = q.decision.toLowerCase();
      if (q.action !== undefined) search.action = q.action;
      if (q.since !== undefined) search.since = Date.parse(q.since);
      if (q.until !== undefined) search.until = Date.parse(q.until);
      if (q.after !== undefined) search.after = Number(q.after);
      const entries = await lg.audit.search(search);
      const last = entries[entries.length - 1];
      return entries.length === limit && last !== undefined ? { entries, next: String(last.index) } : { entries };
    }),
  );

  app.get<{ Querystring: Query }>(
    '/v1/audit/keys',
    {
      schema: {
        tags: ['audit'],
        summary: 'The log origin and the verifier keys its checkpoints are signed with (the active key first).',
        querystring: querySchema({}),
        response: { 200: { type: 'object', properties: { origin: { type: 'string' }, keys: { type: 'array', items: { type: 'string' } } } } },
      },
    },
    logged('keys', async () => ({ origin: lg.audit.origin, keys: lg.audit.verifierKeys() })),
  );
}

function prefersText(request: FastifyRequest): boolean {
  const accept = request.headers.accept ?? '';
  return accept.includes('text/plain') && !accept.includes('application/json');
}
