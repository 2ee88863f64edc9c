/**
 * Killing or archiving a task (docs/PRODUCT.md#kill, #archive): one `killTask` run per outcome
 * (workflow id `kill-task-<id>` or `archive-task-<id>`) cancels provisioning, closes the task's tabs,
 * destroys its sandboxes and ends it in `killed` with a `task.kill` event, or in `archived` with a
 * `task.archive` event (the record and its history are kept either way). The run goes on in the
 * background.
 */
import type { Task } from '../generated/prisma/client';
import { isReleased } from '../domain/status';
import { startArchiveTask, startKillTask, startUnlessRunning } from '../temporal/client';
import type { ServiceDeps } from './deps';
import { DomainError } from './errors';

/** How a task is released: `killed` (it stops wherever it is) or `archived` (also put away). */
export type ReleaseOutcome = 'killed' | 'archived';

/**
 * Starts the run that ends `task` in `outcome`, unless nothing is left to do: a kill of a task that is
 * `killed` or `archived` (an archived task has nothing left to stop), an archive of one that is
 * `archived` (a killed task's archive only flips its status). A run already going counts as started.
 * @returns `task` unchanged (follow its events for the run's progress).
 * @throws DomainError unavailable `workflow_start_failed` when the run could not be started.
 */
export async function releaseTask(deps: Pick<ServiceDeps, 'temporal' | 'taskQueue' | 'logger'>, task: Task, outcome: ReleaseOutcome): Promise<Task> {
  const done = outcome === 'killed' ? isReleased(task.status) : task.status === 'archived';
  if (done) return task;
  const start = outcome === 'killed' ? startKillTask : startArchiveTask;
  try {
    await startUnlessRunning(() => start(deps.temporal, { task, taskQueue: deps.taskQueue }));
  } catch (err) {
    deps.logger.error({ err, taskId: task.id, outcome }, `starting the ${outcome === 'killed' ? 'kill' : 'archive'} run failed`);
    throw new DomainError('unavailable', 'workflow_start_failed', `the ${outcome === 'killed' ? 'kill' : 'archive'} could not be started; try again`);
  }
  return task;
}
