/**
 * Progress reporting from inside a step activity: a heartbeat (so Temporal's heartbeat timeout can
 * detect a stuck attempt and the Web UI shows the details under the pending activity) plus one
 * UPDATE of the task row's `step_progress` (docs/ARCHITECTURE.md#step-progress), which the API merges
 * into the run's live state. A report costs no workflow signal, no workflow task and no history event.
 */
import { Context } from '@temporalio/activity';
import type { PrismaClient } from '../generated/prisma/client';
import type { StepProgressReport } from '../domain/records';
import type { ProvisionStep } from '../domain/status';
import type { Logger } from '../logger';
import type { ProgressFn } from '../providers/types';

/**
 * `(step, taskId)` gives the report function of one attempt of that step: call it once per attempt,
 * when the attempt starts (its creation time is the attempt's start).
 */
export type StepProgressReporter = (step: ProvisionStep, taskId: string) => ProgressFn;

/**
 * Builds the reporter the activities use. Write failures are logged, never thrown: progress is
 * advisory and must not fail a step (a database outage is the step's own concern).
 */
export function createStepProgressReporter(prisma: Pick<PrismaClient, '$executeRaw'>, logger: Logger): StepProgressReporter {
  return (step, taskId) => {
    const attemptStartedAt = new Date().toISOString();
    return async (subStep, message) => {
      const ctx = Context.current();
      const { attempt, isLocal } = ctx.info;
      if (!isLocal) ctx.heartbeat({ subStep, message }); // local activities have no heartbeat
      const report: StepProgressReport = { step, attempt, attemptStartedAt, subStep, message, at: new Date().toISOString() };
      try {
        await prisma.$executeRaw`UPDATE tasks SET step_progress = ${JSON.stringify(report)}::jsonb WHERE id = ${taskId}`;
      } catch (err) {
        logger.warn({ err, step, subStep }, 'could not record step progress');
      }
    };
  };
}

/** Interval of the keep-alive heartbeat, in ms: well inside the steps' 30 s heartbeat timeout. */
export const KEEPALIVE_HEARTBEAT_MS = 5_000;

/**
 * Runs `fn` while heartbeating every {@link KEEPALIVE_HEARTBEAT_MS} with the last reported details,
 * so a long provider call (a large clone, a slow agent start) is not taken for a dead worker, while
 * a worker that really dies still misses its heartbeats and the attempt is retried. In a local
 * activity (no heartbeats) it just runs `fn`.
 */
export async function withKeepAliveHeartbeat<T>(fn: () => Promise<T>): Promise<T> {
  const ctx = Context.current();
  if (ctx.info.isLocal) return fn();
  const timer = setInterval(() => ctx.heartbeat(), KEEPALIVE_HEARTBEAT_MS);
  try {
    return await fn();
  } finally {
    clearInterval(timer);
  }
}
