import type { FastifyRequest } from 'fastify';
import type { AuditActor } from '../core/audit/entry.js';

/**
 * Who made a request, as the audit log records it. Until callers authenticate (the principals issue), every
 * caller is anonymous and known only by its network address.
 */
export function requestActor(request: FastifyRequest): AuditActor {
  return { kind: 'anonymous', id: `ip:${request.ip}` };
}
