/**
 * Starts `provisionTask` runs for tasks createTask has already answered for.
 *
 * A create answers once the task row and its first event are committed, and provisioning is only
 * requested, never awaited by the request (docs/PRODUCT.md#create-answers-before-provisioning). The
 * committed row in `init_enqueue_provision` is the durable record of that request (a transactional
 * outbox): the request commits it and answers, and this starter then starts the run in the background. Keeping the
 * Temporal call off the request means createTask costs one SQL statement, and a slow or briefly
 * unavailable Temporal frontend (the dev server serialises all of its writes) delays provisioning
 * without failing or slowing the request (docs/BENCHMARKS.md, scenario 1).
 *
 * Nothing is lost: if a start fails after the Temporal client's own gRPC retries, or the API process
 * dies with starts still queued, the row stays in `init_enqueue_provision` and the worker's recovery
 * sweep (src/recovery/unstartedTasks.ts) starts it. Starting twice is harmless (see startUnlessRunning).
 */
import { context } from '@opentelemetry/api';
import type { Client } from '@temporalio/client';
import pLimit from 'p-limit';
import type { Logger } from '../logger';
import { startProvisionTask, startUnlessRunning } from './client';
import type { TaskRunSubject } from './runMetadata';

export interface ProvisionStarter {
  /**
   * Queues the start of `task`'s provisioning run and returns at once. The start runs in the trace
   * that is active now (the create request's: docs/OBSERVABILITY.md#traces), whenever its turn comes.
   */
  enqueue(task: TaskRunSubject): void;
  /** Starts queued or in flight (not yet answered by Temporal). */
  readonly pending: number;
  /** Resolves once every queued start has been tried (used on shutdown). */
  drain(): Promise<void>;
}

export interface ProvisionStarterOptions {
  temporal: Client;
  taskQueue: string;
  logger: Logger;
  /** Starts in flight at once (default 8): beyond that they wait their turn, in order. */
  concurrency?: number;
  /**
   * Starts allowed to wait (default 10 000). Past it a task is left to the recovery sweep rather than
   * held in memory: the row is durable, so nothing is lost, only delayed.
   */
  maxPending?: number;
}

export function createProvisionStarter(opts: ProvisionStarterOptions): ProvisionStarter {
  const limit = pLimit(opts.concurrency ?? 8);
  const maxPending = opts.maxPending ?? 10_000;
  const inFlight = new Set<Promise<void>>();

  const start = async (task: TaskRunSubject) => {
    try {
      await startUnlessRunning(() => startProvisionTask(opts.temporal, { task, taskQueue: opts.taskQueue }));
    } catch (err) {
      opts.logger.error({ err, taskId: task.id }, 'starting provisionTask failed; the recovery sweep will start it');
    }
  };

  return {
    enqueue(task) {
      if (limit.pendingCount >= maxPending) {
        opts.logger.warn({ taskId: task.id, pending: limit.pendingCount }, 'too many provisioning starts waiting; the recovery sweep will start this one');
        return;
      }
      // A queued start runs in whichever async context frees its slot: it is given the enqueuer's back.
      const enqueuedIn = context.active();
      const done = limit(() => context.with(enqueuedIn, () => start(task)));
      inFlight.add(done);
      void done.finally(() => inFlight.delete(done));
    },
    get pending() {
      return inFlight.size;
    },
    async drain() {
      while (inFlight.size > 0) await Promise.all([...inFlight]);
    },
  };
}
