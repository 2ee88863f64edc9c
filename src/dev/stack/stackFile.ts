/** Coordinates of the per-run test stack, written by globalSetup and read by suites. */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';

export interface TestStack {
  temporalAddress: string;
  namespace: string;
  temporalUiUrl: string;
  databaseUrl: string;
  workflowBundlePath: string;
  /** Root under which suites make sandboxes and test repositories. */
  workDir: string;
  /** CREDENTIALS_ENCRYPTION_KEY of the run's API and worker (32 random bytes, base64, made by {@link newTestCredentialsKey}). */
  credentialsKey: string;
}

export const STACK_FILE_ENV = 'TPS_TEST_STACK_FILE';

export function readStack(): TestStack {
  const file = process.env[STACK_FILE_ENV];
  if (!file) throw new Error(`${STACK_FILE_ENV} is not set: run the suite through jest (globalSetup)`);
  return JSON.parse(readFileSync(file, 'utf8')) as TestStack;
}

/** A fresh sealing key for a test stack's model provider keys: 32 random bytes, base64. */
export function newTestCredentialsKey(): string {
  return randomBytes(32).toString('base64');
}
