/**
 * Builds the Temporal worker that runs `provisionTask`, `workbenchSession`, `killTask` and their activities on one task queue.
 */
import { NativeConnection, Worker } from '@temporalio/worker';
import type { ProvisionActivities } from '../workflows/provisionTask.contract';
import type { KillActivities } from '../workflows/killTask.contract';
import type { WorkbenchActivities } from '../workflows/workbenchSession.contract';

export interface ProvisionWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  activities: ProvisionActivities & WorkbenchActivities & KillActivities;
  /** A prebuilt workflow bundle (tests bundle once per run); without it the worker bundles src/workflows. */
  workflowBundle?: { codePath: string };
}

export async function createWorker(opts: ProvisionWorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: opts.connection,
    namespace: opts.namespace,
    taskQueue: opts.taskQueue,
    activities: { ...opts.activities },
    // On shutdown (SIGINT/SIGTERM) in-flight activities get this long to finish; after that they are
    // cancelled and, being idempotent, retried by another worker.
    shutdownGraceTime: '20s',
    ...(opts.workflowBundle ? { workflowBundle: opts.workflowBundle } : { workflowsPath: require.resolve('../workflows') }),
  });
}
