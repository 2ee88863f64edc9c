/**
 * Describing a failed activity call for people, the one way every workflow does it: the failure's
 * stable type and a one-line message (a status message is one sentence, never a stack or a code
 * excerpt; docs/PRODUCT.md#status-messages). Workflow code only: no I/O.
 */
import { ActivityFailure, ApplicationFailure, TimeoutFailure, isCancellation } from '@temporalio/workflow';

/** What an activity call failed with: the cause inside Temporal's ActivityFailure wrapper, else `err`. */
export function activityCause(err: unknown): unknown {
  return err instanceof ActivityFailure ? err.cause : err;
}

/**
 * `{type, message}` of a failed activity call: an ApplicationFailure's type and message, a timeout as
 * `StepTimeout` "timed out (start-to-close)", anything else as `Error` with its message; the message
 * is cut to its first line and at most 300 characters.
 */
export function describeActivityFailure(err: unknown): { type: string; message: string; timeout?: TimeoutFailure } {
  const cause = activityCause(err);
  if (cause instanceof TimeoutFailure) return { type: 'StepTimeout', message: `timed out (${timeoutName(cause.timeoutType)})`, timeout: cause };
  if (cause instanceof ApplicationFailure) return { type: cause.type ?? 'Error', message: oneLine(cause.message) };
  return { type: 'Error', message: oneLine(cause instanceof Error ? cause.message : String(cause)) };
}

/** `START_TO_CLOSE` -> `start-to-close`, as a person reads it. */
export function timeoutName(type: unknown): string {
  return String(type ?? 'unknown')
    .toLowerCase()
    .replace(/_/g, '-');
}

/** The first line of `text`, at most 300 characters. */
function oneLine(text: string): string {
  const line = text.trim().split('\n')[0]!.trim();
  return line.length > 300 ? `${line.slice(0, 297)}...` : line;
}

/**
 * True when a failed activity call is one its retry policy would try again: not cancelled, not a
 * non-retryable ApplicationFailure, not of a type in `options.retry.nonRetryableErrorTypes`.
 */
export function retryableByPolicy(err: unknown, options: { retry?: { nonRetryableErrorTypes?: string[] } }): boolean {
  if (isCancellation(err)) return false;
  const cause = activityCause(err);
  if (cause instanceof ApplicationFailure) return !cause.nonRetryable && !(options.retry?.nonRetryableErrorTypes ?? []).includes(cause.type ?? '');
  return true; // timeouts and other failures are retried
}
