/**
 * Temporal client side of the service: connecting, and starting `provisionTask` for a task.
 */
import { Client, Connection, WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { SearchAttributeType, TypedSearchAttributes, WorkflowIdReusePolicy, defineSearchAttributeKey } from '@temporalio/common';
import { PROVISION_WORKFLOW_TYPE, provisionWorkflowId, type ProvisionTaskInput } from '../workflows/contracts';

/** Custom search attributes set on every run (registered by temporal-dev.yaml), for finding a task's run in the Web UI. */
export const TASK_ID_ATTRIBUTE = defineSearchAttributeKey('TaskId', SearchAttributeType.KEYWORD);
export const WORKSPACE_ID_ATTRIBUTE = defineSearchAttributeKey('WorkspaceId', SearchAttributeType.KEYWORD);

/**
 * A client of the Temporal frontend at `address` (host:port). The connection is lazy: it is made on
 * the first call, so a process can start while Temporal is down (calls then fail, and are answered
 * 503 `workflow_unavailable` by the API). The caller closes `client.connection`.
 */
export async function createTemporalClient(opts: { address: string; namespace: string }): Promise<Client> {
  const connection = Connection.lazy({ address: opts.address });
  return new Client({ connection, namespace: opts.namespace });
}

/**
 * Starts the task's `provisionTask` run and returns as soon as Temporal has accepted the start
 * request; nothing waits for the run itself.
 * @returns the workflow id and the first run id.
 * @throws WorkflowExecutionAlreadyStartedError if the task already has a run (same workflow id).
 */
export async function startProvisionTask(
  client: Client,
  opts: { taskId: string; workspaceId: string; taskQueue: string } & Pick<ProvisionTaskInput, 'stepTimeoutsMs' | 'dependencyPatienceMs'>,
): Promise<{ workflowId: string; runId: string }> {
  const input: ProvisionTaskInput = {
    taskId: opts.taskId,
    ...(opts.stepTimeoutsMs ? { stepTimeoutsMs: opts.stepTimeoutsMs } : {}),
    ...(opts.dependencyPatienceMs !== undefined ? { dependencyPatienceMs: opts.dependencyPatienceMs } : {}),
  };
  const handle = await client.workflow.start(PROVISION_WORKFLOW_TYPE, {
    taskQueue: opts.taskQueue,
    workflowId: provisionWorkflowId(opts.taskId),
    // A new run only after a failed, cancelled or terminated one (retry after `error`): a late or
    // duplicate start (provision starter and recovery sweep racing) never provisions a task twice.
    workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
    args: [input],
    typedSearchAttributes: new TypedSearchAttributes([
      { key: TASK_ID_ATTRIBUTE, value: opts.taskId },
      { key: WORKSPACE_ID_ATTRIBUTE, value: opts.workspaceId },
    ]),
  });
  return { workflowId: handle.workflowId, runId: handle.firstExecutionRunId };
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
