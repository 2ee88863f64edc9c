/**
 * The environment of a worker or API process (src/dev/serviceProcess.ts) on the run's shared stack:
 * this process's environment, the stack's database, Temporal server and sealing key of model provider
 * keys, a task queue of the caller's, and the caller's own settings on top.
 */
import type { TestStack } from './stackFile';

/** Environment for `spawnService` against `stack`, polling or starting runs on `taskQueue`; `extra` wins. */
export function stackServiceEnv(stack: TestStack, taskQueue: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    DATABASE_URL: stack.databaseUrl,
    TEMPORAL_ADDRESS: stack.temporalAddress,
    TEMPORAL_NAMESPACE: stack.namespace,
    TEMPORAL_TASK_QUEUE: taskQueue,
    CREDENTIALS_ENCRYPTION_KEY: stack.credentialsKey,
    // Tests name a real agent when they want one, and model requests never leave this machine.
    DEFAULT_AGENT: 'offline',
    MODEL_API_ORIGINS: 'anthropic=http://127.0.0.1:9,openai=http://127.0.0.1:9',
    ...extra,
  };
}
