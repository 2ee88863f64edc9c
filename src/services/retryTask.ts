/**
 * Retrying a task in `error`: a new provisionTask run under the same workflow id, which reuses what
 * is sound (title and branch, the clone, a live sandbox-agent, an open session). Tabs that showed the
 * failure follow the new run.
 */
import type { Task } from '../generated/prisma/client';
import { appendTaskEvent } from '../db/taskEvents';
import { startProvisionTask, startUnlessRunning } from '../temporal/client';
import type { ServiceDeps } from './deps';
import { DomainError } from './errors';

/**
 * Sets `found` back to `init_enqueue_provision` with a `task.retry` event (once per failure: the check
 * and the change happen under the task's row lock), then starts its provisioning run.
 * @param found the task as the caller read it; its status is checked again under the lock.
 * @returns the task row after the change.
 * @throws DomainError conflict `task_not_in_error` unless the task is in `error` | unavailable
 *   `workflow_start_failed` when the run could not be started (the task stays queued and the recovery
 *   sweep starts it later).
 */
export async function retryTask(deps: ServiceDeps, found: Task): Promise<Task> {
  const notInError = (status: string | undefined) => new DomainError('conflict', 'task_not_in_error', `the task is ${status}; only a task in error can be retried`);
  if (found.status !== 'error') throw notInError(found.status);
  const task = await deps.prisma.$transaction(async (tx) => {
    const [row] = await tx.$queryRaw<Array<{ status: string }>>`SELECT status::text AS status FROM tasks WHERE id = ${found.id}::uuid FOR UPDATE`;
    if (row?.status !== 'error') throw notInError(row?.status);
    await appendTaskEvent(tx, deps.notifier, {
      taskId: found.id,
      type: 'task.retry',
      payload: { previousStatusMessage: found.statusMessage },
      dedupeKey: `retry:${found.lastEventSeq}`,
      patch: { status: 'init_enqueue_provision', statusMessage: 'provision queued (retry)' },
    });
    return tx.task.findUniqueOrThrow({ where: { id: found.id } });
  });
  try {
    await startUnlessRunning(() => startProvisionTask(deps.temporal, { task, taskQueue: deps.taskQueue, retry: true }));
  } catch (err) {
    deps.logger.error({ err, taskId: task.id }, 'restarting provisionTask failed');
    throw new DomainError('unavailable', 'workflow_start_failed', 'provisioning could not be restarted; the recovery sweep will start it');
  }
  return task;
}
