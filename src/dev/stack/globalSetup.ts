/**
 * Starts the one real stack a test run shares: a Temporal dev server (in memory, free ports, same
 * search attributes as temporal-dev.yaml), a fresh Postgres database with the migrations applied,
 * the workflow code bundled once (with its interceptors), and a sealing key for model provider keys (the API's and worker's
 * CREDENTIALS_ENCRYPTION_KEY). Coordinates go to a JSON file named by TPS_TEST_STACK_FILE.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DefaultLogger, bundleWorkflowCode } from '@temporalio/worker';
import { createScratchDatabase } from '../scratchDatabase';
import { ownDevServerSettings, startTemporalDevServer } from '../temporalDevServer';
import { STACK_FILE_ENV, newTestCredentialsKey, type TestStack } from './stackFile';
import { WORKFLOW_INTERCEPTOR_MODULES } from '../../worker/tracing';

export default async function globalSetup(): Promise<void> {
  const workDir = mkdtempSync(path.join(os.tmpdir(), 'tps-test-'));
  const { cli, server } = await ownDevServerSettings({ log: (line) => process.stderr.write(`${line}\n`) });
  const temporal = await startTemporalDevServer(cli, server);
  const databaseUrl = await createScratchDatabase('tps_test', process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL);

  const { code } = await bundleWorkflowCode({
    workflowsPath: require.resolve('../../workflows'),
    workflowInterceptorModules: WORKFLOW_INTERCEPTOR_MODULES, // as a worker bundling itself: tracing (src/worker/tracing.ts)
    logger: new DefaultLogger('WARN'),
  });
  const workflowBundlePath = path.join(workDir, 'workflow-bundle.js');
  writeFileSync(workflowBundlePath, code);

  const stack: TestStack = {
    temporalAddress: temporal.address,
    namespace: temporal.namespace,
    temporalUiUrl: temporal.uiUrl,
    databaseUrl,
    workflowBundlePath,
    workDir,
    credentialsKey: newTestCredentialsKey(),
  };
  const stackFile = path.join(workDir, 'stack.json');
  writeFileSync(stackFile, JSON.stringify(stack, null, 2));
  process.env[STACK_FILE_ENV] = stackFile;
  (globalThis as Record<string, unknown>).__TPS_TEMPORAL__ = temporal;
}
