/**
 * Temporal client side of the service: connecting, and starting (typed) and signalling the runs of
 * the four workflows: `provisionTask` per task, `workbenchSession` per tab, `killTask` per kill or
 * archive, `sandboxLifecycle` per sandbox, `sandboxPool` per warm sandbox pool.
 */
import { Client, Connection, WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, type WorkflowHandle } from '@temporalio/client';
import { TypedSearchAttributes, WorkflowIdReusePolicy } from '@temporalio/common';
import { OpenTelemetryWorkflowClientInterceptor } from '@temporalio/interceptors-opentelemetry/lib/client';
import { TASK_ID_ATTRIBUTE, WORKSPACE_ID_ATTRIBUTE, taskRunMetadata, type TaskRunSubject } from './runMetadata';
import { PROVISION_START_STATUS, PROVISION_WORKFLOW_TYPE, provisionWorkflowId, type ProvisionTaskInput } from '../workflows/provisionTask.contract';
import { KILL_TASK_WORKFLOW_TYPE, archiveWorkflowId, killWorkflowId } from '../workflows/killTask.contract';
import { WORKBENCH_SESSION_WORKFLOW_TYPE, type WorkbenchSessionInput } from '../workflows/workbenchSession.contract';
import type { killTask } from '../workflows/killTask';
import type { provisionTask } from '../workflows/provisionTask';
import type { workbenchSession } from '../workflows/workbenchSession';
import type { sandboxLifecycle } from '../workflows/sandboxLifecycle';
import type { sandboxPool } from '../workflows/sandboxPool';
import { SANDBOX_POOL_WORKFLOW_TYPE, refillSandboxPoolSignal, sandboxPoolWorkflowId } from '../workflows/sandboxPool.contract';
import {
  SANDBOX_LIFECYCLE_WORKFLOW_TYPE,
  agentExitedSignal,
  resumeSandboxSignal,
  sandboxLifecycleWorkflowId,
  stopSandboxSignal,
  type SandboxLifecycleInput,
} from '../workflows/sandboxLifecycle.contract';

export { TASK_ID_ATTRIBUTE, WORKSPACE_ID_ATTRIBUTE, type TaskRunSubject } from './runMetadata';

/**
 * A client of the Temporal frontend at `address` (host:port). The connection is lazy: it is made on
 * the first call, so a process can start while Temporal is down (calls then fail, and are answered
 * 503 `workflow_unavailable` by the API). The caller closes `client.connection`.
 * Traced (docs/OBSERVABILITY.md#traces): each start, signal and query is a span (`StartWorkflow:<type>`,
 * …) in the active trace, whose context the run receives in its headers; without a tracer provider
 * registered (tracing off) the spans are no-ops and the trace header the run gets is empty.
 */
export async function createTemporalClient(opts: { address: string; namespace: string }): Promise<Client> {
  const connection = Connection.lazy({ address: opts.address });
  return new Client({ connection, namespace: opts.namespace, interceptors: { workflow: [new OpenTelemetryWorkflowClientInterceptor()] } });
}

/**
 * Starts the task's `provisionTask` run and returns as soon as Temporal has accepted the start
 * request; nothing waits for the run itself.
 * @param opts.retry a retry of a task in `error` (src/services/retryTask.ts): a new run also after a
 *   run that completed (a task whose sandbox host was lost after it was `running`: src/hosts/lostHosts.ts).
 * @returns the workflow id and the first run id.
 * @throws WorkflowExecutionAlreadyStartedError if the task already has a run (same workflow id).
 */
export async function startProvisionTask(
  client: Client,
  opts: { task: TaskRunSubject; taskQueue: string; retry?: boolean } & Pick<ProvisionTaskInput, 'stepTimeoutsMs' | 'dependencyPatienceMs'>,
): Promise<{ workflowId: string; runId: string }> {
  const input: ProvisionTaskInput = {
    taskId: opts.task.id,
    ...(opts.stepTimeoutsMs ? { stepTimeoutsMs: opts.stepTimeoutsMs } : {}),
    ...(opts.dependencyPatienceMs !== undefined ? { dependencyPatienceMs: opts.dependencyPatienceMs } : {}),
  };
  const handle = await client.workflow.start<typeof provisionTask>(PROVISION_WORKFLOW_TYPE, {
    taskQueue: opts.taskQueue,
    workflowId: provisionWorkflowId(opts.task.id),
    // A new run only after a failed, cancelled or terminated one: a late or duplicate start (provision
    // starter and recovery sweep racing) never provisions a task twice. A retry (decided under the
    // task's row lock, once per failure) may also follow a completed run.
    workflowIdReusePolicy: opts.retry ? WorkflowIdReusePolicy.ALLOW_DUPLICATE : WorkflowIdReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
    args: [input],
    ...taskRunMetadata(opts.task, opts.retry ? 'Provisioning (retry)' : 'Provisioning', PROVISION_START_STATUS),
  });
  return { workflowId: handle.workflowId, runId: handle.firstExecutionRunId };
}

/**
 * Starts the `workbenchSession` run of tab `sessionId` under `workflowId` (the tab row's) and returns
 * once Temporal has accepted the start.
 * @throws WorkflowExecutionAlreadyStartedError if the tab already has a run; what the client throws otherwise.
 */
export async function startWorkbenchSession(
  client: Client,
  opts: Omit<WorkbenchSessionInput, 'taskId'> & { task: TaskRunSubject; tabName: string; workflowId: string; taskQueue: string },
): Promise<void> {
  await client.workflow.start<typeof workbenchSession>(WORKBENCH_SESSION_WORKFLOW_TYPE, {
    taskQueue: opts.taskQueue,
    workflowId: opts.workflowId,
    args: [{ taskId: opts.task.id, sessionId: opts.sessionId }],
    ...taskRunMetadata(opts.task, `Tab "${opts.tabName}"`),
  });
}

/**
 * Starts the task's `killTask` run (workflow id `kill-task-<taskId>`) and returns once Temporal has
 * accepted the start.
 * @throws WorkflowExecutionAlreadyStartedError if a kill of the task is running; what the client throws otherwise.
 */
export async function startKillTask(client: Client, opts: { task: TaskRunSubject; taskQueue: string }): Promise<void> {
  await client.workflow.start<typeof killTask>(KILL_TASK_WORKFLOW_TYPE, {
    taskQueue: opts.taskQueue,
    workflowId: killWorkflowId(opts.task.id),
    args: [{ taskId: opts.task.id }],
    ...taskRunMetadata(opts.task, 'Kill'),
  });
}

/**
 * Starts the task's archive run (workflow id `archive-task-<taskId>`): the `killTask` workflow with
 * outcome `archived`, so it ends the task in `archived` with a `task.archive` event. Returns once
 * Temporal has accepted the start.
 * @throws WorkflowExecutionAlreadyStartedError if an archive of the task is running; what the client throws otherwise.
 */
export async function startArchiveTask(client: Client, opts: { task: TaskRunSubject; taskQueue: string }): Promise<void> {
  await client.workflow.start<typeof killTask>(KILL_TASK_WORKFLOW_TYPE, {
    taskQueue: opts.taskQueue,
    workflowId: archiveWorkflowId(opts.task.id),
    args: [{ taskId: opts.task.id, outcome: 'archived' }],
    ...taskRunMetadata(opts.task, 'Archive'),
  });
}

/** Where a sandbox's lifecycle run goes and what it is started with; `workspaceId`: the task's, for its `WorkspaceId` search attribute. */
export interface SandboxLifecycleStart {
  taskQueue: string;
  input: SandboxLifecycleInput;
  workspaceId: string;
}

/** `TaskId` and `WorkspaceId` of a sandbox's lifecycle run (set only when a call starts it). */
const lifecycleSearchAttributes = (opts: SandboxLifecycleStart) =>
  new TypedSearchAttributes([
    { key: TASK_ID_ATTRIBUTE, value: opts.input.taskId },
    { key: WORKSPACE_ID_ATTRIBUTE, value: opts.workspaceId },
  ]);

/**
 * Starts the `sandboxLifecycle` run of `input.sandboxId` unless it runs already.
 * @returns true when this call started it.
 * @throws what the client throws (Temporal unreachable: see ./unavailable.ts).
 */
export async function startSandboxLifecycle(client: Client, opts: SandboxLifecycleStart): Promise<boolean> {
  return startUnlessRunning(() =>
    client.workflow.start<typeof sandboxLifecycle>(SANDBOX_LIFECYCLE_WORKFLOW_TYPE, {
      taskQueue: opts.taskQueue,
      workflowId: sandboxLifecycleWorkflowId(opts.input.sandboxId),
      args: [opts.input],
      typedSearchAttributes: lifecycleSearchAttributes(opts),
    }),
  );
}

/** A command for a sandbox's lifecycle run (./../workflows/sandboxLifecycle.contract.ts), as a signal. */
export type SandboxLifecycleCommand =
  | { kind: 'stop' }
  | { kind: 'resume'; reason: 'requested' | 'use'; requester?: string }
  /** Reconcile found its agent not running. */
  | { kind: 'agent_exited' };

/**
 * Sends `command` to the `sandboxLifecycle` run of `input.sandboxId` (signal-with-start: the run is
 * started first when there is none, e.g. a sandbox provisioned before the workflow existed). Returns
 * once Temporal has accepted it.
 * @throws what the client throws (Temporal unreachable: see ./unavailable.ts).
 */
export async function signalSandboxLifecycle(client: Client, opts: SandboxLifecycleStart, command: SandboxLifecycleCommand): Promise<void> {
  const common = {
    taskQueue: opts.taskQueue,
    workflowId: sandboxLifecycleWorkflowId(opts.input.sandboxId),
    args: [opts.input] as [SandboxLifecycleInput],
    typedSearchAttributes: lifecycleSearchAttributes(opts),
  };
  if (command.kind === 'stop') {
    await client.workflow.signalWithStart<typeof sandboxLifecycle, [{ reason: 'requested' }]>(SANDBOX_LIFECYCLE_WORKFLOW_TYPE, {
      ...common,
      signal: stopSandboxSignal,
      signalArgs: [{ reason: 'requested' }],
    });
  } else if (command.kind === 'resume') {
    const { reason, requester } = command;
    await client.workflow.signalWithStart<typeof sandboxLifecycle, [{ reason: 'requested' | 'use'; requester?: string }]>(SANDBOX_LIFECYCLE_WORKFLOW_TYPE, {
      ...common,
      signal: resumeSandboxSignal,
      signalArgs: [{ reason, ...(requester ? { requester } : {}) }],
    });
  } else {
    await client.workflow.signalWithStart<typeof sandboxLifecycle, []>(SANDBOX_LIFECYCLE_WORKFLOW_TYPE, { ...common, signal: agentExitedSignal, signalArgs: [] });
  }
}

/**
 * Wakes the `sandboxPool` run of `poolId` (signal-with-start: a pool whose run ended, or never had
 * one, gets a new run). Returns once Temporal has accepted it.
 * @throws what the client throws (Temporal unreachable: see ./unavailable.ts).
 */
export async function refillSandboxPool(client: Client, opts: { taskQueue: string; pool: { id: string; workspaceId: string } }): Promise<void> {
  await client.workflow.signalWithStart<typeof sandboxPool, []>(SANDBOX_POOL_WORKFLOW_TYPE, {
    taskQueue: opts.taskQueue,
    workflowId: sandboxPoolWorkflowId(opts.pool.id),
    args: [{ poolId: opts.pool.id }],
    signal: refillSandboxPoolSignal,
    signalArgs: [],
    // A pool serves its workspace's tasks: its run is found by `WorkspaceId`, not by any one task.
    typedSearchAttributes: new TypedSearchAttributes([{ key: WORKSPACE_ID_ATTRIBUTE, value: opts.pool.workspaceId }]),
  });
}

/**
 * Runs `send` (a signal, or a termination) against the run of `workflowId`; a run that has ended
 * already, or never existed, needs nothing, so WorkflowNotFoundError is swallowed.
 * @throws any other error of the call.
 */
export async function signalUnlessEnded(client: Client, workflowId: string, send: (handle: WorkflowHandle) => Promise<unknown>): Promise<void> {
  try {
    await send(client.workflow.getHandle(workflowId));
  } catch (err) {
    if (!(err instanceof WorkflowNotFoundError)) throw err;
  }
}

/** Link to a run in the Temporal Web UI. */
export function temporalUiLink(uiUrl: string, namespace: string, workflowId: string): string {
  return `${uiUrl}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}`;
}

/**
 * Runs a workflow start for which "already started" is success (the workflow id is derived from the
 * task or tab, so an existing run is the run we want).
 * @returns true when this call started the run, false when it existed already.
 * @throws any other error of the start.
 */
export async function startUnlessRunning(start: () => Promise<unknown>): Promise<boolean> {
  try {
    await start();
    return true;
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) return false;
    throw err;
  }
}
