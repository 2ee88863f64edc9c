/**
 * A task's provisioning as its `provisionTask` run sees it, read through the run's `provisionState`
 * query, with the running step's latest progress report from the task row added (its attempt,
 * sub-step and message: activities write those there instead of signalling the run,
 * docs/ARCHITECTURE.md#step-progress): the full state, or the short progress summary shown on the
 * task while it provisions.
 */
import { WorkflowNotFoundError } from '@temporalio/client';
import type { Task } from '../generated/prisma/client';
import type { StepProgressReport } from '../domain/records';
import { TEMPORAL_RETRY_AFTER_SECONDS } from '../temporal/unavailable';
import { provisionStateQuery, type ProvisionState } from '../workflows/provisionTask.contract';
import type { ServiceDeps } from './deps';
import { DomainError } from './errors';

/** How long the full-state read waits for Temporal to answer the query, in ms. */
const QUERY_DEADLINE_MS = 5_000;

/** How long the progress summary waits for the query, in ms, before it gives up (null). */
const PROGRESS_DEADLINE_MS = 2_000;

/** Summary of the current step: ISO-8601 times; every field null when there is no step yet. */
export interface ProvisioningProgress {
  currentStep: string | null;
  subStep: string | null;
  attempt: number | null;
  lastProgressAt: string;
  timesOutAt: string | null;
}

/**
 * What a task whose run has not started yet shows (the run is started after the create has answered):
 * its status (`init_enqueue_provision`), no step.
 */
function queuedState(task: Task): ProvisionState {
  return {
    taskId: task.id,
    status: task.status,
    statusMessage: task.statusMessage,
    currentStep: null,
    steps: {},
    lastProgressAt: task.updatedAt.toISOString(),
  };
}

/**
 * Current step, sub-step, attempt, last progress and the end of the attempt's start-to-close timeout,
 * for a task that is provisioning. A task still queued needs no query.
 * @returns null (and logs a warning) when the run cannot be asked within 2 s; never throws.
 */
export async function provisioningProgress(deps: Pick<ServiceDeps, 'temporal' | 'logger'>, task: Task): Promise<ProvisioningProgress | null> {
  try {
    const state =
      task.status === 'init_enqueue_provision'
        ? queuedState(task) // nothing to ask yet
        : withReportedProgress(await queryState(deps, task, PROGRESS_DEADLINE_MS), task);
    const step = state.currentStep ? state.steps[state.currentStep] : undefined;
    const attemptStart = step?.attemptStartedAt ?? step?.startedAt;
    return {
      currentStep: state.currentStep,
      subStep: step?.subStep ?? null,
      attempt: step?.attempt ?? null,
      lastProgressAt: state.lastProgressAt,
      timesOutAt: step && attemptStart ? new Date(Date.parse(attemptStart) + step.startToCloseTimeoutMs).toISOString() : null,
    };
  } catch (err) {
    deps.logger.warn({ err, workflowId: task.workflowId }, 'live progress unavailable');
    return null;
  }
}

/**
 * The run's full provisioning state (current step, per-step attempts and times, last progress, timeout
 * per attempt). A task still queued whose run has not started yet gets its queued state.
 * @throws DomainError unavailable `workflow_unavailable` (retry after 5 s) when Temporal cannot answer
 *   within 5 s or the run cannot be queried.
 */
export async function provisioningState(deps: Pick<ServiceDeps, 'temporal' | 'logger'>, task: Task): Promise<ProvisionState> {
  try {
    return withReportedProgress(await queryState(deps, task, QUERY_DEADLINE_MS), task);
  } catch (err) {
    if (err instanceof WorkflowNotFoundError && task.status === 'init_enqueue_provision') return queuedState(task);
    deps.logger.warn({ err, taskId: task.id }, 'provisionState query failed');
    throw new DomainError('unavailable', 'workflow_unavailable', 'the provisioning run cannot be queried right now; try again shortly', {
      retryAfterSeconds: TEMPORAL_RETRY_AFTER_SECONDS,
    });
  }
}

/** The run's `provisionState` query, abandoned (call and all) after `deadlineMs`. */
function queryState(deps: Pick<ServiceDeps, 'temporal'>, task: Task, deadlineMs: number): Promise<ProvisionState> {
  return deps.temporal.connection.withDeadline(Date.now() + deadlineMs, () => deps.temporal.workflow.getHandle(task.workflowId).query(provisionStateQuery));
}

/**
 * `state` with the task's stored progress report applied to the step it names, when that step is
 * still running in `state` and the report is newer than what the run holds (a report of an earlier
 * run predates the step's start and is ignored). After a database outage the run holds the attempts
 * spent before it (`waitingFor.attemptsSpent`): they are added, as the run did for signalled reports.
 */
export function withReportedProgress(state: ProvisionState, task: Pick<Task, 'stepProgress'>): ProvisionState {
  const report = task.stepProgress as StepProgressReport | null;
  const step = report ? state.steps[report.step] : undefined;
  if (!report || !step || step.endedAt || report.at < step.startedAt || report.at <= (step.lastProgressAt ?? '')) return state;
  const attempt = report.attempt + (step.waitingFor?.attemptsSpent ?? 0);
  const newAttempt = attempt > step.attempt || !step.attemptStartedAt;
  return {
    ...state,
    lastProgressAt: report.at > state.lastProgressAt ? report.at : state.lastProgressAt,
    steps: {
      ...state.steps,
      [report.step]: {
        ...step,
        attempt: Math.max(attempt, step.attempt),
        attemptStartedAt: newAttempt ? report.attemptStartedAt : step.attemptStartedAt,
        subStep: report.subStep,
        lastProgressMessage: report.message,
        lastProgressAt: report.at,
      },
    },
  };
}
