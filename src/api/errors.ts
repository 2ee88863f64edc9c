/**
 * Error contract of the REST API: every error answer is JSON
 *   { "error": { "code": <stable snake_case>, "message": <human text>, "field"?: <path of the bad input>,
 *                "issues"?: [{ field, code, message }] } }
 */
import type { ErrorRequestHandler, RequestHandler } from 'express';
import type { ZodError } from 'zod';
import type { Logger } from '../logger';

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
    readonly issues?: Array<{ field: string; code: string; message: string }>,
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

export const notFound: RequestHandler = (req, _res, next) => next(new HttpError(404, 'route_not_found', `no route for ${req.method} ${req.path}`));

export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err, _req, res, _next) => {
    if (err instanceof HttpError) {
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
