/**
 * createTask starts the provisionTask run just after it answers (src/temporal/provisionStarter.ts), so
 * a test that reads a run right after a create first waits for the run to exist.
 */
import { WorkflowNotFoundError, type Client, type WorkflowHandle } from '@temporalio/client';

/**
 * The handle of `workflowId` once its run exists.
 * @throws WorkflowNotFoundError if it does not exist within `timeoutMs` (default 15 s).
 */
export async function runOf(temporal: Client, workflowId: string, timeoutMs = 15_000): Promise<WorkflowHandle> {
  const handle = temporal.workflow.getHandle(workflowId);
  for (const deadline = Date.now() + timeoutMs; ; await new Promise((r) => setTimeout(r, 50))) {
    try {
      await handle.describe();
      return handle;
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError) || Date.now() > deadline) throw err;
    }
  }
}
