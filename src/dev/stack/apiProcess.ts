/**
 * An API process of its own against the test stack (tests that stop, kill or trace a real API process):
 * the environment `spawnService('api', …)` (src/dev/serviceProcess.ts) needs to serve it.
 */
import type { TestStack } from './stackFile';
import { tokenFor } from './auth';

/**
 * The process environment plus the stack's database, Temporal frontend and repository roots, the
 * task queue its provisioning starts go to, the port it listens on (127.0.0.1), one API token
 * (`tokenFor(workspaceId)`) for `workspaceId`, and its log level (default `silent`). `extra` is added last.
 */
export function apiProcessEnv(stack: TestStack, opts: { port: number; taskQueue: string; workspaceId: string; logLevel?: string; extra?: NodeJS.ProcessEnv }): NodeJS.ProcessEnv {
  return {
    ...process.env,
    DATABASE_URL: stack.databaseUrl,
    TEMPORAL_ADDRESS: stack.temporalAddress,
    TEMPORAL_TASK_QUEUE: opts.taskQueue,
    PORT: String(opts.port),
    REPOSITORY_ROOTS: stack.workDir,
    API_TOKENS: `${tokenFor(opts.workspaceId)}=${opts.workspaceId}`,
    LOG_LEVEL: opts.logLevel ?? 'silent',
    ...opts.extra,
  };
}
