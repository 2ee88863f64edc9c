/**
 * Failure types no retry can fix: a provider raises them non-retryable (src/providers/types.ts
 * ProviderError), and every step's retry policy lists them (src/workflows/policies.ts), so a task ends
 * in `error` at the first one. One list for both; pure data, imported by workflow code too.
 */
export const FINAL_ERROR_TYPES = ['RepositoryNotFound', 'RepositoryNotAllowed', 'SandboxDiskFull', 'BranchTaken', 'InvalidAgent', 'SessionCreateTimeout'] as const;

/** One of {@link FINAL_ERROR_TYPES}. */
export type FinalErrorType = (typeof FINAL_ERROR_TYPES)[number];
