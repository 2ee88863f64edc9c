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
import { log, patched, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { KillActivities, KillTaskInput } from './killTask.contract';
import { KILL_ACTIVITY_OPTIONS, KILL_HOST_DESTROY_WAIT_MS } from './policies';
import { SANDBOX_HOSTS_PATCH } from './sandboxHosts.contract';
import { describeActivityFailure } from './failures';

/**
 * The kill's activities, each call with a one-line Web UI `summary` (what it does, to what). A
 * summary is metadata of the scheduling command, not part of what replay compares, so it needs no patch
 * (runs recorded before summaries replay unchanged: test/replay).
 */
const kill = (summary: string) => proxyActivities<KillActivities>({ ...KILL_ACTIVITY_OPTIONS, summary });

/**
 * Removes the task's sandboxes: recorded destroyed on the shared queue, then each removed by its
 * own host (runs recorded before sandbox hosts: all by the worker that takes the one activity).
 */
async function destroySandboxes(taskId: string): Promise<{ destroyed: number }> {
  if (!patched(SANDBOX_HOSTS_PATCH)) return kill('kill: destroy the task’s sandboxes').destroyTaskSandboxes({ taskId });
  const { sandboxes } = await kill('kill: record the task’s sandboxes destroyed').markSandboxesDestroyed({ taskId });
  for (const { sandboxId, taskQueue } of sandboxes) {
    if (taskQueue === null) continue; // its host was lost
    const { destroySandbox } = proxyActivities<KillActivities>({
      ...KILL_ACTIVITY_OPTIONS,
      taskQueue,
      scheduleToCloseTimeout: KILL_HOST_DESTROY_WAIT_MS,
      summary: `kill: remove sandbox ${sandboxId} on its host (${taskQueue})`,
    });
    await destroySandbox({ sandboxId }).catch((err) => log.warn('sandbox left for its host to remove', { sandboxId, error: describeActivityFailure(err).message }));
  }
  return { destroyed: sandboxes.length };
}

/** Runs the kill (or, with `outcome: 'archived'`, the archive) of task `input.taskId`. */
export async function killTask(input: KillTaskInput): Promise<void> {
  const { taskId, outcome = 'killed' } = input;
  const provisioning = await kill('kill: cancel the provisioning run and wait until it has closed').cancelProvisioning({ taskId });
  const sessions = await kill('kill: close the task’s tabs').closeTaskSessions({ taskId });
  const sandboxes = await destroySandboxes(taskId);
  await kill(`kill: record the task ${outcome}`).markKilled({
    taskId,
    dedupeKey: `${workflowInfo().runId}:${outcome}`,
    summary: { provisioningCancelled: provisioning.wasRunning, tabsClosed: sessions.closed, sandboxesDestroyed: sandboxes.destroyed },
    // Only an archive names its outcome: a kill's argument stays what it always was.
    ...(outcome === 'archived' ? { outcome } : {}),
  });
}
