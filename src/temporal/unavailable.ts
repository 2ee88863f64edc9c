/**
 * Telling "the Temporal frontend did not answer" apart from Temporal's answers about a workflow
 * (not found, already started, query failed in the workflow, ...). Used to answer 503
 * `workflow_unavailable` instead of 500, and by readiness.
 */

/** gRPC status codes of a frontend that is down, overloaded or too slow: UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED. */
const UNAVAILABLE_GRPC_CODES = new Set([14, 4, 8]);

const UNAVAILABLE_MESSAGE = /\b(UNAVAILABLE|DEADLINE_EXCEEDED|ECONNREFUSED|ECONNRESET|Connection refused|transport error|tcp connect error)\b/i;

/**
 * True when `err` (a `ServiceError` of `@temporalio/client`, a gRPC error, or a connection error,
 * possibly wrapped as a `cause`) means the Temporal frontend could not be reached or did not answer.
 */
export function isTemporalUnavailable(err: unknown): boolean {
  const seen = new Set<unknown>();
  for (let e: unknown = err; e && typeof e === 'object' && !seen.has(e); e = (e as { cause?: unknown }).cause) {
    seen.add(e);
    const o = e as { code?: unknown; message?: unknown; name?: unknown };
    if (typeof o.code === 'number' && UNAVAILABLE_GRPC_CODES.has(o.code)) return true;
    if (typeof o.code === 'string' && (o.code === 'ECONNREFUSED' || o.code === 'ECONNRESET')) return true;
    if (typeof o.message === 'string' && UNAVAILABLE_MESSAGE.test(o.message)) return true;
  }
  return false;
}

/** Seconds a client should wait before retrying a request that found Temporal unavailable. */
export const TEMPORAL_RETRY_AFTER_SECONDS = 5;
