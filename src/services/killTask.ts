/**
 * Killing a task wherever it is: its `killTask` run cancels provisioning, closes its tabs, destroys
 * its sandboxes and ends it in `killed` with a `task.kill` event. The kill runs in the background.
 */
import { isReleased } from '../domain/status';
import type { Task } from '../generated/prisma/client';
import { startKillTask, startUnlessRunning } from '../temporal/client';
import type { ServiceDeps } from './deps';
import { DomainError } from './errors';

/**
 * Starts the kill run of `task` unless it is `killed` or `archived` already (an archived task has
 * nothing left to stop); a kill already running counts as started.
 * @returns `task` unchanged (follow its events for the kill's progress).
 * @throws DomainError unavailable `workflow_start_failed` when the run could not be started.
 */
export async function killTask(deps: Pick<ServiceDeps, 'temporal' | 'taskQueue' | 'logger'>, task: Task): Promise<Task> {
  if (isReleased(task.status)) return task;
  try {
    await startUnlessRunning(() => startKillTask(deps.temporal, { taskId: task.id, taskQueue: deps.taskQueue }));
  } catch (err) {
    deps.logger.error({ err, taskId: task.id }, 'starting killTask failed');
    throw new DomainError('unavailable', 'workflow_start_failed', 'the kill could not be started; try again');
  }
  return task;
}
