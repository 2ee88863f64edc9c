/**
 * Recovery of the gap between the task row and its workflow: `POST /v1/tasks` commits the row,
 * answers, then starts `provisionTask` (src/temporal/provisionStarter.ts). If the API process dies
 * between the two, or Temporal refuses the start, the task would stay in `init_enqueue_provision`
 * forever. This sweep finds such tasks and starts their runs (docs/PRODUCT.md#provisioning-survives-restarts). Starting is idempotent (the workflow id is derived from the task id),
 * so several workers may sweep at once and a run the API did start is left alone.
 *
 * A retried task (`task.retry`) whose new run was never started is one too, also when its previous run
 * completed (its sandbox host was lost after it was `running`: src/hosts/lostHosts.ts): the start is
 * then made as a retry, which may follow a completed run, once Temporal shows no run started since
 * the retry was recorded.
 */
import type { Client } from '@temporalio/client';
import type { PrismaClient } from '../generated/prisma/client';
import type { Logger } from '../logger';
import { startProvisionTask, startUnlessRunning } from '../temporal/client';
import { provisionWorkflowId } from '../workflows/provisionTask.contract';

export interface SweepOptions {
  prisma: PrismaClient;
  temporal: Client;
  taskQueue: string;
  logger: Logger;
  /** Only tasks whose row is at least this old (ms), so requests still in flight are left to finish. */
  minAgeMs: number;
  /** At most this many tasks per sweep. */
  batchSize?: number;
  /** Called for each run the sweep started (the worker's `provisioning_recovery_starts_total`). */
  onStarted?: () => void;
}

/**
 * One sweep. @returns the ids of tasks whose run this sweep started (those already running are skipped).
 */
export async function startUnstartedTasks(opts: SweepOptions): Promise<string[]> {
  const stale = await opts.prisma.task.findMany({
    where: { status: 'init_enqueue_provision', createdAt: { lt: new Date(Date.now() - opts.minAgeMs) } },
    orderBy: { createdAt: 'asc' },
    take: opts.batchSize ?? 100,
    select: { id: true, workspaceId: true, repository: true, prompt: true, title: true, branchName: true, requestedBranch: true, providerId: true, agentType: true },
  });
  const started: string[] = [];
  for (const task of stale) {
    try {
      const start = (retry: boolean) => startUnlessRunning(() => startProvisionTask(opts.temporal, { task, taskQueue: opts.taskQueue, retry }));
      if ((await start(false)) || ((await retryNeverStarted(opts, task.id)) && (await start(true)))) {
        started.push(task.id);
        opts.onStarted?.();
        opts.logger.warn({ taskId: task.id }, 'started provisionTask for a task whose run was never started');
      }
    } catch (err) {
      opts.logger.error({ err, taskId: task.id }, 'recovery could not start provisionTask');
    }
  }
  return started;
}

/**
 * Whether task `taskId` was retried and its run never started: its latest run completed, and started
 * before the latest `task.retry` event was written (a run the retry started would be later).
 */
async function retryNeverStarted(opts: Pick<SweepOptions, 'prisma' | 'temporal'>, taskId: string): Promise<boolean> {
  const retry = await opts.prisma.taskEvent.findFirst({ where: { taskId, type: 'task.retry' }, orderBy: { seq: 'desc' }, select: { createdAt: true } });
  if (!retry) return false;
  const latest = await opts.temporal.workflow.getHandle(provisionWorkflowId(taskId)).describe();
  return latest.status.name === 'COMPLETED' && latest.startTime < retry.createdAt;
}

/**
 * Runs {@link startUnstartedTasks} now and then every `intervalMs` until the returned stop function is
 * called. Sweep errors are logged; the next sweep tries again.
 */
export function runUnstartedTaskSweeper(opts: SweepOptions & { intervalMs: number }): () => Promise<void> {
  let running: Promise<unknown> = Promise.resolve();
  const sweep = () => {
    running = startUnstartedTasks(opts).catch((err) => opts.logger.error({ err }, 'recovery sweep failed'));
  };
  sweep();
  const timer = setInterval(sweep, opts.intervalMs);
  return async () => {
    clearInterval(timer);
    await running;
  };
}
