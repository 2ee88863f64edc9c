/**
 * Builds the Temporal workers of a worker process (docs/DEPLOYMENT.md#worker-roles): the orchestration
 * worker (the workflows `provisionTask`, `workbenchSession`, `killTask`, `sandboxLifecycle` and the
 * activities that touch only Postgres and Temporal, on the shared task queue), and the sandbox host's
 * worker (activities only, on the host's own queue).
 */
import { NativeConnection, Worker } from '@temporalio/worker';
import type { OrchestrationActivities, SandboxHostActivities } from '../activities';
import type { FloorActivities } from '../workflows/provisioningFloor';
import type { Tracing } from '../observability/tracing';
import { ACTIVITY_TRACING_INTERCEPTORS, WORKFLOW_INTERCEPTOR_MODULES, workflowTracingSinks } from './tracing';

interface CommonOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
}

/** On shutdown (SIGINT/SIGTERM) in-flight activities get this long to finish; then they are cancelled and, being idempotent, retried. */
const SHUTDOWN_GRACE = '20s' as const;

/** The options both workers share: where they poll, what they run (activities traced: ./tracing.ts), how they stop. */
function baseOptions(opts: CommonOptions & { activities: object }) {
  return {
    connection: opts.connection,
    namespace: opts.namespace,
    taskQueue: opts.taskQueue,
    activities: { ...opts.activities },
    shutdownGraceTime: SHUTDOWN_GRACE,
    interceptors: { activity: ACTIVITY_TRACING_INTERCEPTORS },
  };
}

/**
 * The orchestration worker on the shared queue.
 * @param opts.activities the orchestration activities; with both roles in one process, the host's
 *   too, for runs recorded before sandbox hosts (they schedule every activity on the shared queue).
 * @param opts.workflowBundle a prebuilt workflow bundle (tests bundle once per run, with the workflow
 *   interceptor modules of ./tracing.ts); without it src/workflows is bundled, with them.
 * @param opts.tracing this process's tracing (src/observability/tracing.ts): the workflows' spans go to
 *   its span processor; without it (or with tracing off) they are dropped.
 */
export async function createOrchestrationWorker(
  opts: CommonOptions & {
    activities: OrchestrationActivities & Partial<SandboxHostActivities> & Partial<FloorActivities>;
    workflowBundle?: { codePath: string };
    tracing?: Tracing;
  },
): Promise<Worker> {
  const base = baseOptions(opts);
  return Worker.create({
    ...base,
    ...(opts.workflowBundle
      ? { workflowBundle: opts.workflowBundle }
      : { workflowsPath: require.resolve('../workflows'), interceptors: { ...base.interceptors, workflowModules: WORKFLOW_INTERCEPTOR_MODULES } }),
    sinks: workflowTracingSinks(opts.tracing),
  });
}

/** A sandbox host's worker: the sandbox activities only, on the host's own task queue (src/hosts/registry.ts). */
export async function createSandboxHostWorker(opts: CommonOptions & { activities: SandboxHostActivities & Partial<FloorActivities> }): Promise<Worker> {
  return Worker.create(baseOptions(opts));
}
