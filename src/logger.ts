/** Structured JSON logging (pino). One root logger per process; modules take children of it. */
import pino, { type DestinationStream, type Logger } from 'pino';

export type { Logger };

/**
 * Paths pino replaces with `[Redacted]` in every log line, so that no secret reaches a log: a model
 * provider key in a request body (`PUT /v1/workspaces/{id}/credentials/{provider}`) or in any object
 * logged with an `apiKey` field, and the credentials of a request's headers (the API's bearer token,
 * a model API key, a proxy's credentials) as pino-http logs them (`req.headers`) or as code logs a
 * headers object. Case matters: Node gives header names in lower case.
 */
export const REDACTED_PATHS: readonly string[] = [
  'apiKey',
  '*.apiKey',
  'body.apiKey',
  'req.body.apiKey',
  '*.body.apiKey',
  'headers.authorization',
  'headers["x-api-key"]',
  'headers["proxy-authorization"]',
  'headers.cookie',
  '*.headers.authorization',
  '*.headers["x-api-key"]',
  '*.headers["proxy-authorization"]',
  '*.headers.cookie',
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'req.headers["proxy-authorization"]',
  'req.headers.cookie',
];

/**
 * Creates the process's root logger. `name` is the process role: `api`, `worker`, `dev`.
 * `destination`: where lines go (default standard output); tests pass a stream to read them.
 * Every logger redacts {@link REDACTED_PATHS}.
 */
export function createLogger(name: string, level = process.env.LOG_LEVEL ?? 'info', destination?: DestinationStream): Logger {
  const options = { name, level, redact: { paths: [...REDACTED_PATHS] } };
  return destination ? pino(options, destination) : pino(options);
}
