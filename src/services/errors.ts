/**
 * Errors of the use cases (./*.ts), independent of any transport: a stable snake_case `code`, a
 * one-sentence `message`, the `kind` of failure and, where one input is to blame, that input's name.
 * The REST API turns them into HTTP answers in one place (src/api/errors.ts); nothing here knows
 * about statuses or headers.
 */

/**
 * What went wrong, as a caller can act on it:
 * - `invalid`: the input breaks a rule of the service (an unknown provider, a repository outside the roots);
 * - `not_found`: what the input names does not exist (or belongs to another workspace);
 * - `conflict`: it exists, but its state does not allow the operation now (a task not in error, a tab not ready);
 * - `mismatch`: a repeated request contradicts the first one (an idempotency key reused with another body);
 * - `unavailable`: a dependency could not take the work now; the same request may succeed later.
 */
export type DomainErrorKind = 'invalid' | 'not_found' | 'conflict' | 'mismatch' | 'unavailable';

/**
 * Name of the input a {@link DomainError} is about, as the service calls it (the transport knows where
 * each came from in its request): `provider`, `repository`, `idempotencyKey`, `cursor`, `taskId`, `sessionId`.
 */
export type DomainErrorField = 'provider' | 'repository' | 'idempotencyKey' | 'cursor' | 'taskId' | 'sessionId';

import { DATABASE_RETRY_AFTER_SECONDS, isDatabaseUnavailable } from '../db/unavailable';
import { TEMPORAL_RETRY_AFTER_SECONDS, isTemporalUnavailable } from '../temporal/unavailable';

export class DomainError extends Error {
  override readonly name = 'DomainError';
  /** The input to blame, if one is. */
  readonly field?: DomainErrorField;
  /** For `unavailable`: seconds after which the same request may succeed; unset when unknown. */
  readonly retryAfterSeconds?: number;

  /**
   * @param kind what went wrong ({@link DomainErrorKind}).
   * @param code stable snake_case code clients match on (e.g. `task_not_in_error`).
   * @param message one sentence for humans; never a stack trace or a path of this service's source.
   * @param options `field`: the input to blame; `retryAfterSeconds`: for `unavailable`, when a retry may succeed.
   */
  constructor(
    readonly kind: DomainErrorKind,
    readonly code: string,
    message: string,
    options: { field?: DomainErrorField; retryAfterSeconds?: number } = {},
  ) {
    super(message);
    this.field = options.field;
    this.retryAfterSeconds = options.retryAfterSeconds;
  }
}

/**
 * The DomainError of any error a use case let through, for every transport alike (REST answers and
 * Socket.IO acks): a DomainError as it is; an unreachable database as unavailable
 * `database_unavailable`, an unreachable Temporal as unavailable `workflow_unavailable`, each with its
 * retry delay; null for anything else (a fault of ours: the transport answers `internal` and logs it).
 */
export function asDomainError(err: unknown): DomainError | null {
  if (err instanceof DomainError) return err;
  if (isDatabaseUnavailable(err)) {
    return new DomainError('unavailable', 'database_unavailable', 'the database is not answering right now; try again shortly', {
      retryAfterSeconds: DATABASE_RETRY_AFTER_SECONDS,
    });
  }
  if (isTemporalUnavailable(err)) {
    return new DomainError('unavailable', 'workflow_unavailable', 'the workflow service is not answering right now; try again shortly', {
      retryAfterSeconds: TEMPORAL_RETRY_AFTER_SECONDS,
    });
  }
  return null;
}
