/** Error translation shared by the activities. */
import { ApplicationFailure, Context } from '@temporalio/activity';
import { isDatabaseUnavailable } from '../db/unavailable';
import { BranchTakenError } from '../domain/naming';
import { ProviderError } from '../providers/types';
import { DEPENDENCY_UNAVAILABLE, type DependencyOutage } from '../workflows/dependencyOutage';

/**
 * Runs `fn`, turning domain and provider errors into Temporal ApplicationFailures whose `type` is the
 * error's stable type (`BranchTaken`, `RepositoryNotFound`, ...); errors a retry cannot fix become
 * non-retryable.
 *
 * An unreachable database is not the step's fault: it becomes the non-retryable `DependencyUnavailable`
 * with {@link DependencyOutage} details (which attempt hit it), so that this activity's own retry
 * budget is not spent on it; the workflow waits the outage out and schedules the step again with
 * the attempts it had left (src/workflows/dependencyOutage.ts).
 *
 * Messages are one sentence for people (they become the task's status message): an unexpected error
 * is reported by its kind only; its full text and stack stay in the cause (worker log, run history).
 */
export async function asActivityErrors<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof ApplicationFailure) throw err;
    if (err instanceof BranchTakenError) throw ApplicationFailure.nonRetryable(err.message, 'BranchTaken');
    if (err instanceof ProviderError) {
      throw ApplicationFailure.create({ message: err.message, type: err.type, nonRetryable: !err.retryable, cause: err });
    }
    if (isDatabaseUnavailable(err)) {
      const outage: DependencyOutage = { dependency: 'database', attempt: Context.current().info.attempt };
      throw ApplicationFailure.create({ message: 'the database did not answer', type: DEPENDENCY_UNAVAILABLE, nonRetryable: true, details: [outage], cause: asError(err) });
    }
    throw ApplicationFailure.create({ message: unexpectedErrorMessage(err), type: 'UnexpectedError', cause: asError(err) });
  }
}

/**
 * One sentence for an error nobody classified: its first line when that reads as a plain sentence
 * (no path, no code excerpt, at most 200 characters), else its kind, e.g. `an unexpected database
 * error (P2025) occurred`.
 */
export function unexpectedErrorMessage(err: unknown): string {
  const e = err as { name?: unknown; code?: unknown; message?: unknown };
  const line = typeof e?.message === 'string' ? e.message.trim().split('\n')[0]!.trim() : '';
  const plain = line.length > 0 && line.length <= 200 && !/[`→]|\/[\w.@-]+\/|\bat\s+\S+\s+\(|invocation/.test(line);
  if (plain && !(typeof e?.name === 'string' && e.name.startsWith('PrismaClient'))) return line;
  const code = typeof e?.code === 'string' && /^[A-Z0-9_]{2,20}$/.test(e.code) ? ` (${e.code})` : '';
  const kind = typeof e?.name === 'string' && e.name.startsWith('PrismaClient') ? 'database error' : typeof e?.name === 'string' ? e.name : 'error';
  return `an unexpected ${kind}${code} occurred`;
}

const asError = (err: unknown): Error => (err instanceof Error ? err : new Error(String(err)));
