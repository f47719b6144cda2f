/**
 * Errors to RFC 9457 problem documents. Every error reaching the HTTP door becomes `application/problem+json`
 * with a stable `code`; framework errors are translated to Loopgate's codes, unexpected errors become a 500
 * that reveals nothing internal (the details go to the log, with the request id).
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { LoopgateError, toProblem, type FieldError } from '../core/errors.js';
import { fieldErrors } from '../core/events/parse.js';

export const PROBLEM_JSON = 'application/problem+json';

export function sendProblem(reply: FastifyReply, err: LoopgateError, request: FastifyRequest): FastifyReply {
  const problem = toProblem(err, request.url.split('?')[0]);
  // Headers the standards define for these answers: Retry-After on a lockout, the RFC 9470 step-up challenge.
  if (typeof problem.retry_after === 'number') reply.header('retry-after', String(problem.retry_after));
  if (typeof problem.www_authenticate === 'string') {
    reply.header('www-authenticate', problem.www_authenticate);
    delete problem.www_authenticate;
  } else if (problem.status === 401 && !reply.hasHeader('www-authenticate')) {
    reply.header('www-authenticate', 'Bearer realm="loopgate"');
  }
  return reply.code(problem.status).type(PROBLEM_JSON).send(JSON.stringify(problem));
}

/** Translates framework and validation errors to Loopgate errors. */
export function toLoopgateError(error: FastifyError & { validationContext?: string }): LoopgateError {
  if (error instanceof LoopgateError) return error;
  if (error.validation !== undefined) {
    const context = error.validationContext ?? 'body';
    const found = fieldErrors(error.validation as never, (path) => `#${path}`);
    if (context === 'body') {
      return new LoopgateError('LOOPGATE_ERR_VALIDATION', found.map((e) => `${e.pointer.slice(1) || '/'} ${e.detail}`).join('; '), {
        errors: found,
      });
    }
    // Query and path parameters are named, not pointed at: they are not part of a JSON document.
    const kind = context === 'querystring' ? 'query parameter' : 'parameter';
    const errors: FieldError[] = found.map((e) => ({ parameter: e.pointer.slice(2).replaceAll('~1', '/').replaceAll('~0', '~'), detail: e.detail }));
    return new LoopgateError(
      'LOOPGATE_ERR_VALIDATION',
      errors.map((e) => `${kind} ${'parameter' in e ? e.parameter : ''} ${e.detail}`).join('; '),
      { errors },
    );
  }
  switch (error.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new LoopgateError('LOOPGATE_ERR_MALFORMED_JSON', error.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' ? 'the request body is empty' : 'the request body is not valid JSON');
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new LoopgateError('LOOPGATE_ERR_BODY_TOO_LARGE', 'the request body is larger than the configured limit (server.body_limit)');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new LoopgateError('LOOPGATE_ERR_UNSUPPORTED_MEDIA_TYPE', 'send the body as application/json');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new LoopgateError('LOOPGATE_ERR_VALIDATION', 'Content-Length does not match the body');
    default:
      break;
  }
  // secure-json-parse reports a JSON syntax error or a prototype-poisoning key as a plain SyntaxError.
  if (error instanceof SyntaxError || error.statusCode === 400) {
    return new LoopgateError('LOOPGATE_ERR_MALFORMED_JSON', 'the request body is not valid JSON');
  }
  if (error.statusCode === 413) return new LoopgateError('LOOPGATE_ERR_BODY_TOO_LARGE');
  if (error.statusCode === 415) return new LoopgateError('LOOPGATE_ERR_UNSUPPORTED_MEDIA_TYPE');
  return new LoopgateError('LOOPGATE_ERR_INTERNAL', 'an internal error occurred; quote the X-Request-ID when reporting it', { cause: error });
}
