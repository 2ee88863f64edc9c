/**
 * Timeouts and retry policies of the provisioning activities, one per step.
 * Sources: docs/PRODUCT.md#step-limits-180-s and #agent-session-creation-is-not-retried-on-its-own-timeout (180 s for sandbox, agent and session steps;
 * session creation retried only on transient errors, never on its own timeout, because a timed-out
 * create may still complete). Pure data: imported by workflow code.
 */
import type { ActivityOptions, LocalActivityOptions } from '@temporalio/workflow';
import type { ProvisionStep } from '../domain/status';
import { FINAL_ERROR_TYPES } from '../domain/failures';

/** Every step's non-retryable failure types: the one list of final errors (src/domain/failures.ts). */
const FINAL_ERRORS: string[] = [...FINAL_ERROR_TYPES];

export const STEP_ACTIVITY_OPTIONS: Record<ProvisionStep, ActivityOptions & { startToCloseTimeout: number }> = {
  init_ensure_name: {
    startToCloseTimeout: 60_000,
    heartbeatTimeout: 15_000,
    retry: { initialInterval: 1_000, backoffCoefficient: 2, maximumInterval: 10_000, maximumAttempts: 5, nonRetryableErrorTypes: FINAL_ERRORS },
  },
  init_create_sandbox: {
    startToCloseTimeout: 180_000,
    heartbeatTimeout: 30_000,
    retry: { initialInterval: 2_000, backoffCoefficient: 2, maximumInterval: 30_000, maximumAttempts: 3, nonRetryableErrorTypes: FINAL_ERRORS },
  },
  init_ensure_agent: {
    startToCloseTimeout: 180_000,
    heartbeatTimeout: 30_000,
    retry: { initialInterval: 2_000, backoffCoefficient: 2, maximumInterval: 30_000, maximumAttempts: 3, nonRetryableErrorTypes: FINAL_ERRORS },
  },
  init_create_session: {
    startToCloseTimeout: 180_000,
    heartbeatTimeout: 30_000,
    // The activity turns its own request timeout into the final `SessionCreateTimeout`; only
    // transient failures (connection refused/reset, 502/503) reach a retry, and a retry first closes
    // the earlier attempt's agent server so no second session is left alive.
    retry: {
      initialInterval: 1_000,
      backoffCoefficient: 2,
      maximumInterval: 10_000,
      maximumAttempts: 3,
      nonRetryableErrorTypes: FINAL_ERRORS,
    },
  },
};

/**
 * How long a kill waits for a sandbox's host to take the removal (ms): a host that is down keeps it
 * waiting that long; then the kill completes without it, and the host removes the sandbox itself
 * when it comes back (its row is `destroyed` already: src/recovery/sandboxAgents.ts).
 */
export const KILL_HOST_DESTROY_WAIT_MS = 30 * 60_000;

/** The mirror activity retries until Postgres answers: a task's history must not miss a transition. */
export const MIRROR_ACTIVITY_OPTIONS: ActivityOptions = {
  startToCloseTimeout: 15_000,
  retry: { initialInterval: 500, backoffCoefficient: 2, maximumInterval: 30_000 },
};

/**
 * Activities of `killTask` (./killTask.ts): each is retried until it is done, like a mirror write; one
 * may take up to 5 minutes (a sandbox's processes and files removed), heartbeating.
 */
export const KILL_ACTIVITY_OPTIONS: ActivityOptions = { ...MIRROR_ACTIVITY_OPTIONS, startToCloseTimeout: 5 * 60_000, heartbeatTimeout: 30_000 };

/** Activities of `workbenchSession`: opening a session as the provisioning session step; a turn may take minutes. */
export const SESSION_ACTIVITY_OPTIONS = {
  open: STEP_ACTIVITY_OPTIONS.init_create_session,
  prompt: {
    startToCloseTimeout: 15 * 60_000,
    heartbeatTimeout: 30_000,
    // A prompt is never sent twice: a failed or timed-out turn is reported, not retried.
    retry: { maximumAttempts: 1 },
  },
} satisfies Record<string, ActivityOptions>;

/** The mirror write as a local activity (same limits; retried until Postgres answers). */
export const MIRROR_LOCAL_ACTIVITY_OPTIONS: LocalActivityOptions = {
  startToCloseTimeout: 15_000,
  retry: { initialInterval: 500, backoffCoefficient: 2, maximumInterval: 30_000 },
};

/**
 * The first attempt of a step as a local activity (lean runs of `provisionTask` run their short
 * orchestration steps so): the step's start-to-close limit, one attempt. Local activities have no
 * heartbeats and no task queue of their own; they run on the worker of the workflow task.
 */
export function firstAttemptOnly(options: ActivityOptions): LocalActivityOptions {
  return { startToCloseTimeout: options.startToCloseTimeout, retry: { ...options.retry, maximumAttempts: 1 }, ...(options.summary ? { summary: options.summary } : {}) };
}

/** The rest of a step after a failed first attempt (run as a regular activity): its attempts less one. */
export function afterFirstAttempt(options: ActivityOptions): ActivityOptions {
  const max = options.retry?.maximumAttempts;
  return { ...options, retry: { ...options.retry, maximumAttempts: max === undefined ? undefined : Math.max(1, max - 1) } };
}

/**
 * How long a provisioning step or a tab's session opening waits out a database outage before it
 * fails (ms). Outages are waited out without spending the step's attempts (./dependencyOutage.ts).
 */
export const DEPENDENCY_PATIENCE_MS = 60 * 60_000;

/**
 * Activities of `sandboxLifecycle`: a stop ends processes (a few seconds each); a resume starts
 * sandbox-agent as the agent step does (same limit). Each is retried a few times; a command that
 * still fails is reported (the tab that asked shows it) and the run goes on with the next one.
 */
export const LIFECYCLE_ACTIVITY_OPTIONS = {
  stop: {
    startToCloseTimeout: 60_000,
    heartbeatTimeout: 30_000,
    retry: { initialInterval: 1_000, backoffCoefficient: 2, maximumInterval: 10_000, maximumAttempts: 5 },
  },
  resume: {
    startToCloseTimeout: STEP_ACTIVITY_OPTIONS.init_ensure_agent.startToCloseTimeout,
    heartbeatTimeout: 30_000,
    retry: { initialInterval: 1_000, backoffCoefficient: 2, maximumInterval: 10_000, maximumAttempts: 3 },
  },
} satisfies Record<string, ActivityOptions>;

/**
 * Activities of `sandboxPool` (docs/ARCHITECTURE.md#warm-sandbox-pools). Planning and placement touch
 * only Postgres: local activities retried until it answers. Warming a member clones and starts an
 * agent like the create and agent steps together (their limits added); its failures are retried a few
 * times, then the member is dropped and the pool tries again at its next round. A destroy is retried
 * until it is done, so no member's processes or files outlive it.
 */
export const POOL_ACTIVITY_OPTIONS = {
  plan: { startToCloseTimeout: 30_000, retry: { initialInterval: 1_000, backoffCoefficient: 2, maximumInterval: 30_000 } },
  warm: {
    startToCloseTimeout: STEP_ACTIVITY_OPTIONS.init_create_sandbox.startToCloseTimeout + STEP_ACTIVITY_OPTIONS.init_ensure_agent.startToCloseTimeout,
    heartbeatTimeout: 30_000,
    retry: { initialInterval: 2_000, backoffCoefficient: 2, maximumInterval: 30_000, maximumAttempts: 3, nonRetryableErrorTypes: FINAL_ERRORS },
  },
  destroy: { startToCloseTimeout: 120_000, heartbeatTimeout: 30_000, retry: { initialInterval: 1_000, backoffCoefficient: 2, maximumInterval: 60_000 } },
} satisfies { plan: LocalActivityOptions; warm: ActivityOptions; destroy: ActivityOptions };

/** A pool run waits at least this long after a round in which a member failed to warm, ms (no hot loop on a broken repository). */
export const POOL_FAILURE_BACKOFF_MS = 30_000;
/** A pool run continues as new after this many rounds, so its history stays short. */
export const POOL_ROUNDS_PER_RUN = 100;
