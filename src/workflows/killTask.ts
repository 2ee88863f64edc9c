/**
 * `killTask`: stops a task wherever it is (docs/PRODUCT.md#kill): cancels its provisioning run and
 * waits until that run has closed (in-flight provider calls finish first, so nothing is made after the
 * clean-up), closes its tabs, destroys its sandboxes (agent process stopped, directory removed), and
 * ends the task in `killed` with a `task.kill` event. Each step is idempotent, so a retried or replayed
 * kill converges. Workflow code only: no I/O.
 *
 * An archive (docs/PRODUCT.md#archive) is the same run with input `outcome: 'archived'`: the same
 * commands in the same order, only the last activity's argument differs (it records `archived` with a
 * `task.archive` event), so runs recorded before `outcome` existed replay unchanged.
 */
import { proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { KillActivities, KillTaskInput } from './killTask.contract';
import { MIRROR_ACTIVITY_OPTIONS } from './policies';

const { cancelProvisioning, closeTaskSessions, destroyTaskSandboxes, markKilled } = proxyActivities<KillActivities>({
  ...MIRROR_ACTIVITY_OPTIONS,
  startToCloseTimeout: 5 * 60_000,
  heartbeatTimeout: 30_000,
});

/** Runs the kill (or, with `outcome: 'archived'`, the archive) of task `input.taskId`. */
export async function killTask(input: KillTaskInput): Promise<void> {
  const { taskId, outcome = 'killed' } = input;
  const provisioning = await cancelProvisioning({ taskId });
  const sessions = await closeTaskSessions({ taskId });
  const sandboxes = await destroyTaskSandboxes({ taskId });
  await markKilled({
    taskId,
    dedupeKey: `${workflowInfo().runId}:${outcome}`,
    summary: { provisioningCancelled: provisioning.wasRunning, tabsClosed: sessions.closed, sandboxesDestroyed: sandboxes.destroyed },
    // Only an archive names its outcome: a kill's argument stays what it always was.
    ...(outcome === 'archived' ? { outcome } : {}),
  });
}
