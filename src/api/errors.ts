/**
 * Error contract of the REST API: every error answer is JSON
 *   { "error": { "code": <stable snake_case>, "message": <human text>, "field"?: <path of the bad input>,
 *                "issues"?: [{ field, code, message }] } }
 *
 * An unavailable dependency is never a 500: a request that needed an unreachable database answers
 * 503 `database_unavailable`, one that needed an unreachable Temporal frontend 503
 * `workflow_unavailable`; every 503 carries `Retry-After` (seconds). Messages are one sentence;
 * the error itself (stack, cause) goes to the log only.
 *
 * The use cases (src/services) throw DomainError; {@link httpErrorOf} is the one place that gives each
 * its HTTP status and names the request field it is about.
 */
import type { ErrorRequestHandler, RequestHandler } from 'express';
import type { ZodError } from 'zod';
import type { Logger } from '../logger';
import { DomainError, asDomainError, type DomainErrorField, type DomainErrorKind } from '../services/errors';

/** Retry-After (seconds) of a 503 that names no other. */
const DEFAULT_RETRY_AFTER_SECONDS = 5;

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
    readonly issues?: Array<{ field: string; code: string; message: string }>,
    /** For 503: seconds after which a retry may succeed (the `Retry-After` header; default 5). */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
  }
}

/** 400 `validation_failed` from a zod error; `field` is the first offending path, prefixed by where it was (body, query, params). */
export function validationError(where: 'body' | 'query' | 'params' | 'header', err: ZodError): HttpError {
  const issues = err.issues.map((i) => {
    // An unknown key is reported on its parent; name the key itself.
    const path = i.code === 'unrecognized_keys' ? [...i.path, i.keys[0]] : i.path;
    return { field: [where, ...path.map(String)].join('.'), code: i.code, message: i.message };
  });
  const first = issues[0]!;
  return new HttpError(400, 'validation_failed', `${first.field}: ${first.message}`, first.field, issues);
}

/** HTTP status of each kind of domain error. */
const STATUS_OF_KIND: Record<DomainErrorKind, number> = { invalid: 400, not_found: 404, conflict: 409, mismatch: 422, unavailable: 503 };

/** Where each input a service names comes from in a REST request (the answer's `field`). */
const FIELD_OF_INPUT: Record<DomainErrorField, string> = {
  provider: 'body.provider',
  repository: 'body.repository',
  idempotencyKey: 'header.idempotency-key',
  cursor: 'query.cursor',
  taskId: 'params.id',
  sessionId: 'params.sessionId',
};

/**
 * The HTTP answer of a domain error: status by kind (invalid 400, not_found 404, conflict 409,
 * mismatch 422, unavailable 503 with `Retry-After` = `retryAfterSeconds` or 5), the code and message
 * unchanged, the field as the request's path (e.g. `idempotencyKey` -> `header.idempotency-key`).
 */
export function httpErrorOf(err: DomainError): HttpError {
  return new HttpError(STATUS_OF_KIND[err.kind], err.code, err.message, err.field && FIELD_OF_INPUT[err.field], undefined, err.retryAfterSeconds);
}

export const notFound: RequestHandler = (req, _res, next) => next(new HttpError(404, 'route_not_found', `no route for ${req.method} ${req.path}`));

export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    const domain = err instanceof HttpError ? null : asDomainError(err);
    if (domain) {
      if (!(err instanceof DomainError)) logger.warn({ err, method: req.method, path: req.path }, domain.code.replace('_', ' '));
      err = httpErrorOf(domain);
    }
    if (err instanceof HttpError) {
      if (err.status === 503) res.set('Retry-After', String(err.retryAfterSeconds ?? DEFAULT_RETRY_AFTER_SECONDS));
      res.status(err.status).json({ error: { code: err.code, message: err.message, field: err.field, issues: err.issues } });
      return;
    }
    // body-parser errors carry a status and a type
    const status = typeof err?.status === 'number' ? err.status : 500;
    if (status === 400 && err.type === 'entity.parse.failed') {
      res.status(400).json({ error: { code: 'malformed_json', message: 'request body is not valid JSON', field: 'body' } });
      return;
    }
    if (status === 413) {
      res.status(413).json({ error: { code: 'payload_too_large', message: 'request body is too large', field: 'body' } });
      return;
    }
    if (status === 415) {
      res.status(415).json({ error: { code: 'unsupported_media_type', message: 'send application/json', field: 'body' } });
      return;
    }
    logger.error({ err }, 'unhandled error');
    res.status(500).json({ error: { code: 'internal', message: 'internal error' } });
  };
}
