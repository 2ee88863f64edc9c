/**
 * Contract of the `provisionTask` workflow: its input, result, query, signal and the activity
 * interface it calls. Shared by the workflow (runs in Temporal's sandbox: no I/O here), the
 * activities, the API and tests.
 */
import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { StepTiming } from '../domain/records';
import type { NewTaskEvent } from '../domain/events';
import type { ProvisionStep, TaskStatus } from '../domain/status';
import type { OutageWaitState } from './dependencyOutage';

export const PROVISION_WORKFLOW_TYPE = 'provisionTask';

/** Workflow id of a task's provisioning run, derived from the task id. */
export function provisionWorkflowId(taskId: string): string {
  return `provision-task-${taskId}`;
}

/** The status a provisioning run starts from (the task's status until its first step starts), also its first `TaskStatus` search attribute. */
export const PROVISION_START_STATUS = 'init_enqueue_provision' satisfies TaskStatus;

export interface ProvisionTaskInput {
  taskId: string;
  /**
   * Per-attempt limits (start-to-close, ms) replacing the policy's for some steps; for operators and
   * tests that need a step to time out quickly. Retry counts stay as in ./policies.ts.
   */
  stepTimeoutsMs?: Partial<Record<ProvisionStep, number>>;
  /**
   * How long a step waits out a database outage before it fails (ms); default DEPENDENCY_PATIENCE_MS
   * in ./policies.ts. For operators and tests.
   */
  dependencyPatienceMs?: number;
}

export interface ProvisionTaskResult {
  status: 'running';
  sandboxId: string;
  sessionId: string;
}

/** Live state of one step, as held in workflow memory. Times are ISO-8601, durations in ms. */
export interface StepState {
  startedAt: string;
  endedAt?: string;
  /** Attempt number of the step's activity, as last reported by the activity itself (1-based). */
  attempt: number;
  /** When the current attempt started (reported by the activity). */
  attemptStartedAt?: string;
  /** The step activity's start-to-close timeout, in ms: the current attempt times out at attemptStartedAt + this. */
  startToCloseTimeoutMs: number;
  /** Latest sub-step the activity reported, e.g. `cloning`. */
  subStep?: string;
  lastProgressMessage?: string;
  lastProgressAt?: string;
  /** Set while the step waits out a database outage (./dependencyOutage.ts); its attempts are not spent meanwhile. */
  waitingFor?: OutageWaitState;
}

/** What the `provisionState` query returns. */
export interface ProvisionState {
  taskId: string;
  status: TaskStatus;
  statusMessage: string;
  currentStep: ProvisionStep | null;
  steps: Partial<Record<ProvisionStep, StepState>>;
  /** Time of the latest progress of any kind (transition or activity report). */
  lastProgressAt: string;
  error?: { step: ProvisionStep; type: string; message: string };
}

/** Query: live step state, read from workflow memory only. */
export const provisionStateQuery = defineQuery<ProvisionState>('provisionState');

/**
 * Sent by a step's activity at the start of each attempt and at each sub-step, in runs recorded
 * before the lean-provision-history patch (their histories hold these signals); activities now
 * write {@link import('../domain/records').StepProgressReport} onto the task row instead.
 */
export interface StepProgress {
  step: ProvisionStep;
  attempt: number;
  subStep: string;
  message: string;
  /** ISO-8601, the activity's clock. */
  at: string;
}

/** Signal: a step activity reports progress (attempt, sub-step). */
export const stepProgressSignal = defineSignal<[StepProgress]>('stepProgress');

/** Input of the mirror activity: one state transition of a task. */
export interface TransitionInput {
  taskId: string;
  status: TaskStatus;
  statusMessage: string;
  event: NewTaskEvent & { dedupeKey: string };
  stepTimings: Record<string, StepTiming>;
  /** Task columns that change with this transition. */
  fields?: { title?: string; branchName?: string; activeSandboxId?: string; activeSessionId?: string };
}

/** Activities `provisionTask` calls; built by `createProvisionActivities` (src/activities/provisionTask.activities.ts). */
export interface ProvisionActivities {
  /** Mirrors a transition into Postgres (task row + history event, one transaction) and notifies. */
  recordTransition(input: TransitionInput): Promise<{ seq: number }>;
  /**
   * Mirrors several transitions, in order, in one transaction (lean runs: a step's end with the next
   * step's start). Each transition's step timings take the attempt of the running step's latest
   * progress report when that is higher. Returns the last event's sequence number.
   */
  recordTransitions(input: { transitions: TransitionInput[] }): Promise<{ seq: number }>;
  /**
   * The hand-over at `running` (lean runs), as one local activity: `transitions` written, the task's
   * waiting tabs released with the sandbox, and the sandbox's `sandboxLifecycle` run started. Each part
   * is idempotent, so a retry repeats nothing.
   */
  handOverProvisioning(input: { transitions: TransitionInput[]; taskId: string; sandboxId: string }): Promise<void>;
  /**
   * Step init_ensure_name: picks and reserves the task's title and branch. `started`: the step's start
   * (runs since the task-status-search-attribute patch; empty or absent before), written first, as
   * `recordTransitions` writes it (idempotent: a retry writes it once), so the step's first write costs
   * no history event of its own.
   */
  ensureName(input: { taskId: string; started?: TransitionInput[] }): Promise<{ title: string; branchName: string }>;
  /**
   * Step init_create_sandbox, on the sandbox's host: the sandbox with the repository on the task's
   * branch. `sandboxId`: the row placement made (runs recorded before placement give none, and the
   * row is found or made here).
   */
  createSandbox(input: { taskId: string; sandboxId?: string }): Promise<{ sandboxId: string; directory: string; provider: string }>;
  /** Step init_ensure_agent: sandbox-agent running and healthy in the sandbox. */
  ensureAgent(input: { taskId: string; sandboxId: string }): Promise<{ endpoint: string }>;
  /** Step init_create_session: an agent session open in the repository's directory. */
  createSession(input: { taskId: string; sandboxId: string }): Promise<{ sessionId: string; agent: string }>;
}
