/**
 * `killTask`: stops a task wherever it is (docs/PRODUCT.md#kill): cancels its provisioning run and
 * waits until that run has closed (in-flight provider calls finish first, so nothing is made after the
 * clean-up), closes its tabs, destroys its sandboxes (agent process stopped, directory removed), and
 * ends the task in `killed` with a `task.kill` event. Each step is idempotent, so a retried or replayed
 * kill converges. Workflow code only: no I/O.
 */
import { proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { KillActivities } from './killTask.contract';
import { MIRROR_ACTIVITY_OPTIONS } from './policies';

const { cancelProvisioning, closeTaskSessions, destroyTaskSandboxes, markKilled } = proxyActivities<KillActivities>({
  ...MIRROR_ACTIVITY_OPTIONS,
  startToCloseTimeout: 5 * 60_000,
  heartbeatTimeout: 30_000,
});

export async function killTask(input: { taskId: string }): Promise<void> {
  const { taskId } = input;
  const provisioning = await cancelProvisioning({ taskId });
  const sessions = await closeTaskSessions({ taskId });
  const sandboxes = await destroyTaskSandboxes({ taskId });
  await markKilled({
    taskId,
    dedupeKey: `${workflowInfo().runId}:killed`,
    summary: { provisioningCancelled: provisioning.wasRunning, tabsClosed: sessions.closed, sandboxesDestroyed: sandboxes.destroyed },
  });
}
