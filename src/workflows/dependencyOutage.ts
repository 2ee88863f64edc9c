/**
 * Waiting out an infrastructure outage inside a workflow, without spending a step's provider attempts.
 *
 * A step activity that cannot reach the database fails with the non-retryable type
 * {@link DEPENDENCY_UNAVAILABLE} and {@link DependencyOutage} details (src/activities/errors.ts), so
 * Temporal stops retrying it at once. {@link outlastOutages} then sleeps (a durable timer, with
 * backoff) and schedules the activity again with the attempts it had left: the attempt that hit the
 * outage is not counted, and each new schedule has its own start-to-close limit, so an outage of any
 * length up to the patience neither spends the step's retry budget nor its timeout.
 *
 * Workflow code only: no I/O.
 */
import { ApplicationFailure, patched, sleep, type ActivityOptions } from '@temporalio/workflow';
import { activityCause } from './failures';

/** Failure type of an activity that could not reach a dependency (the database). */
export const DEPENDENCY_UNAVAILABLE = 'DependencyUnavailable';

/** Details of a {@link DEPENDENCY_UNAVAILABLE} failure. */
export interface DependencyOutage {
  /** What did not answer, as people name it: `database`. */
  dependency: string;
  /** The activity attempt (1-based) that hit the outage; it does not count against the step. */
  attempt: number;
}

/**
 * Patch id: runs recorded before outages were waited out ended the step (and the task) in `error`
 * when an activity gave up on the database; `patched` keeps their replay deterministic.
 */
export const DEPENDENCY_WAIT_PATCH = 'wait-out-dependency-outages';

/** Backoff between two schedules of an activity that found a dependency down: 1 s doubling to 30 s. */
const WAIT_INITIAL_MS = 1_000;
const WAIT_MAX_MS = 30_000;

/** What the caller sees while an outage is waited out (for its query state). */
export interface OutageWaitState {
  dependency: string;
  /** ISO-8601 workflow time when the first schedule hit the outage. */
  since: string;
  /** Schedules that hit it so far. */
  hits: number;
  /** Provider attempts spent before (not counting attempts that hit an outage). */
  attemptsSpent: number;
}

/** The outage a failure reports, or null for any other failure. */
export function dependencyOutageOf(err: unknown): DependencyOutage | null {
  const cause = activityCause(err);
  if (!(cause instanceof ApplicationFailure) || cause.type !== DEPENDENCY_UNAVAILABLE) return null;
  const details = cause.details?.[0] as Partial<DependencyOutage> | undefined;
  return { dependency: details?.dependency ?? 'database', attempt: details?.attempt ?? 1 };
}

/**
 * Calls `schedule(options)` until it returns or fails for another reason than a dependency outage.
 * `options` is `policy` with its retry budget (`maximumAttempts`) less the attempts already spent on
 * real failures.
 * @param opts.patienceMs how long an outage is waited out (ms, counted from its first hit); then the
 *   step fails with `the <dependency> did not answer for <duration>`.
 * @param opts.onWait called before each wait, and with null once a schedule returns after an outage.
 * @param opts.patched true when the caller's own patch implies {@link DEPENDENCY_WAIT_PATCH} (no marker is checked).
 * @throws the schedule's own failure, or a non-retryable `DependencyUnavailable` past the patience.
 */
export async function outlastOutages<T>(
  policy: ActivityOptions,
  schedule: (options: ActivityOptions) => Promise<T>,
  opts: { patienceMs: number; onWait?: (wait: OutageWaitState | null) => void; patched?: boolean },
): Promise<T> {
  const maximumAttempts = policy.retry?.maximumAttempts;
  let wait = null as OutageWaitState | null;
  for (;;) {
    const budget = maximumAttempts === undefined ? undefined : Math.max(1, maximumAttempts - (wait?.attemptsSpent ?? 0));
    try {
      const result = await schedule({ ...policy, retry: { ...policy.retry, maximumAttempts: budget } });
      if (wait) opts.onWait?.(null);
      return result;
    } catch (err) {
      const outage = dependencyOutageOf(err);
      if (!outage || !(opts.patched || patched(DEPENDENCY_WAIT_PATCH))) throw err;
      const now = Date.now(); // workflow time: deterministic on replay
      const sinceMs = wait ? Date.parse(wait.since) : now;
      wait = {
        dependency: outage.dependency,
        since: new Date(sinceMs).toISOString(),
        hits: (wait?.hits ?? 0) + 1,
        attemptsSpent: (wait?.attemptsSpent ?? 0) + outage.attempt - 1,
      };
      if (now - sinceMs >= opts.patienceMs) {
        throw ApplicationFailure.create({
          type: DEPENDENCY_UNAVAILABLE,
          message: `the ${outage.dependency} did not answer for ${humanDuration(now - sinceMs)}`,
          nonRetryable: true,
          cause: err instanceof Error ? err : undefined,
        });
      }
      opts.onWait?.(wait);
      await sleep(Math.min(WAIT_INITIAL_MS * 2 ** (wait.hits - 1), WAIT_MAX_MS));
    }
  }
}

/** 90_000 -> "1.5 min", 5_000 -> "5 s". */
function humanDuration(ms: number): string {
  if (ms >= 60_000) return `${Math.round(ms / 6_000) / 10} min`;
  return `${Math.round(ms / 1_000)} s`;
}
