/**
 * Archiving a task: its archive run (the `killTask` workflow with outcome `archived`, workflow id
 * `archive-task-<id>`) stops the agent, closes its tabs, releases its sandboxes and ends it in
 * `archived` with a `task.archive` event; the record and its history are kept. A killed task has
 * nothing left to release: its archive only flips the status. The archive runs in the background.
 */
import type { Task } from '../generated/prisma/client';
import { startArchiveTask, startUnlessRunning } from '../temporal/client';
import type { ServiceDeps } from './deps';
import { DomainError } from './errors';

/**
 * Starts the archive run of `task` unless it is `archived` already; an archive already running counts
 * as started.
 * @returns `task` unchanged (follow its events for the archive's progress).
 * @throws DomainError unavailable `workflow_start_failed` when the run could not be started.
 */
export async function archiveTask(deps: Pick<ServiceDeps, 'temporal' | 'taskQueue' | 'logger'>, task: Task): Promise<Task> {
  if (task.status === 'archived') return task;
  try {
    await startUnlessRunning(() => startArchiveTask(deps.temporal, { taskId: task.id, taskQueue: deps.taskQueue }));
  } catch (err) {
    deps.logger.error({ err, taskId: task.id }, 'starting the archive run failed');
    throw new DomainError('unavailable', 'workflow_start_failed', 'the archive could not be started; try again');
  }
  return task;
}
