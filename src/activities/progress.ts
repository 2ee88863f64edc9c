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
import type { TaskLogSource } from '../domain/taskLogs';
import { createTaskLogWriter } from '../taskLogs/taskLogWriter';

/** A step attempt's progress function, with its provisioning log ({@link ProgressFn}'s `output` and `secret` always present). */
export interface StepReport extends ProgressFn {
  output: NonNullable<ProgressFn['output']>;
  secret: NonNullable<ProgressFn['secret']>;
  /** Writes what the step's log still buffers; call once, when the attempt ends. Never rejects. */
  close(): Promise<void>;
}

/**
 * `(step, taskId)` gives the report function of one attempt of that step: call it once per attempt,
 * when the attempt starts (its creation time is the attempt's start).
 */
export type StepProgressReporter = (step: ProvisionStep, taskId: string) => StepReport;

/**
 * Builds the reporter the activities use. Each report is also written to the task's provisioning log
 * as a `service` line (src/taskLogs). Write failures are logged, never thrown: progress is advisory
 * and must not fail a step (a database outage is the step's own concern).
 */
export function createStepProgressReporter(prisma: Pick<PrismaClient, '$executeRaw' | '$queryRaw'>, logger: Logger): StepProgressReporter {
  const logs = createTaskLogWriter({ prisma, logger });
  return (step, taskId) => {
    const attemptStartedAt = new Date().toISOString();
    const log = logs.open(taskId, step, Context.current().info.attempt);
    const report = async (subStep: string, message: string) => {
      const ctx = Context.current();
      const { attempt, isLocal } = ctx.info;
      if (!isLocal) ctx.heartbeat({ subStep, message }); // local activities have no heartbeat
      log.write('service', `${message}\n`);
      const progress: StepProgressReport = { step, attempt, attemptStartedAt, subStep, message, at: new Date().toISOString() };
      try {
        await prisma.$executeRaw`UPDATE tasks SET step_progress = ${JSON.stringify(progress)}::jsonb WHERE id = ${taskId}`;
      } catch (err) {
        logger.warn({ err, step, subStep }, 'could not record step progress');
      }
    };
    return Object.assign(report, {
      output: (source: TaskLogSource, text: string) => log.write(source, text),
      secret: (...values: string[]) => log.addSecrets(...values),
      close: () => log.close(),
    });
  };
}

/**
 * Runs one attempt of `step`: `fn` gets the attempt's report; when it throws, the error's message is
 * the last line of the step's log ("failed: …"), so a failed step's log ends with why. The log is
 * written before this settles.
 */
export async function reportingStep<T>(reporter: StepProgressReporter, step: ProvisionStep, taskId: string, fn: (report: StepReport) => Promise<T>): Promise<T> {
  const report = reporter(step, taskId);
  try {
    return await fn(report);
  } catch (err) {
    report.output('service', `failed: ${err instanceof Error ? err.message : String(err)}\n`);
    throw err;
  } finally {
    await report.close();
  }
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
