/** Error translation shared by the activities. */
import { ApplicationFailure } from '@temporalio/activity';
import { BranchTakenError } from '../domain/naming';
import { ProviderError } from '../providers/types';

/**
 * Runs `fn`, turning domain and provider errors into Temporal ApplicationFailures whose `type` is the
 * error's stable type (`BranchTaken`, `RepositoryNotFound`, ...); errors a retry cannot fix become
 * non-retryable.
 */
export async function asActivityErrors<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof BranchTakenError) throw ApplicationFailure.nonRetryable(err.message, 'BranchTaken');
    if (err instanceof ProviderError) {
      throw ApplicationFailure.create({ message: err.message, type: err.type, nonRetryable: !err.retryable, cause: err });
    }
    throw err;
  }
}
