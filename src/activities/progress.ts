/**
 * Progress reporting from inside a step activity: a heartbeat (so Temporal's heartbeat timeout can
 * detect a stuck attempt and the Web UI shows the details) plus a `stepProgress` signal to the
 * activity's own workflow, which keeps it in memory for the `provisionState` query.
 */
import { Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import type { ProvisionStep } from '../domain/status';
import type { Logger } from '../logger';
import { stepProgressSignal } from '../workflows/provisionTask.contract';
import type { ProgressFn } from '../providers/types';

export type StepProgressReporter = (step: ProvisionStep) => ProgressFn;

/**
 * Builds the reporter the activities use. Signal failures are logged, never thrown: progress is
 * advisory and must not fail a step.
 */
export function createStepProgressReporter(client: Client, logger: Logger): StepProgressReporter {
  return (step) => async (subStep, message) => {
    const ctx = Context.current();
    const { attempt, workflowExecution } = ctx.info;
    ctx.heartbeat({ subStep, message });
    if (!workflowExecution) return; // a standalone activity has no workflow to report to
    try {
      await client.workflow
        .getHandle(workflowExecution.workflowId, workflowExecution.runId)
        .signal(stepProgressSignal, { step, attempt, subStep, message, at: new Date().toISOString() });
    } catch (err) {
      logger.warn({ err, step, subStep }, 'could not report step progress');
    }
  };
}

/** Interval of the keep-alive heartbeat, in ms: well inside the steps' 30 s heartbeat timeout. */
export const KEEPALIVE_HEARTBEAT_MS = 5_000;

/**
 * Runs `fn` while heartbeating every {@link KEEPALIVE_HEARTBEAT_MS} with the last reported details,
 * so a long provider call (a large clone, a slow agent start) is not taken for a dead worker, while
 * a worker that really dies still misses its heartbeats and the attempt is retried.
 */
export async function withKeepAliveHeartbeat<T>(fn: () => Promise<T>): Promise<T> {
  const ctx = Context.current();
  const timer = setInterval(() => ctx.heartbeat(), KEEPALIVE_HEARTBEAT_MS);
  try {
    return await fn();
  } finally {
    clearInterval(timer);
  }
}
