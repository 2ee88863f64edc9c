/**
 * Contract of the `sandboxLifecycle` workflow: one run per sandbox for as long as it exists, the one
 * place where a provisioned sandbox changes state (docs/PRODUCT.md#sandbox-lifecycle). It stops the
 * sandbox on a durable idle timer (SANDBOX_IDLE_STOP_MINUTES) or on request, resumes it when a tab
 * needs the agent or a user asks, and records an agent found dead (reconcile) as `stopped`. Commands
 * arrive as signals and run one at a time, in arrival order, so a stop and a resume never overlap.
 *
 * Started by `provisionTask` once the task is `running`; signals come with signal-with-start
 * (src/temporal/client.ts), so a sandbox provisioned before this workflow existed gets its run
 * at its first command.
 */
import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { SandboxState, SandboxStateReason } from '../domain/sandboxLifecycle';

export const SANDBOX_LIFECYCLE_WORKFLOW_TYPE = 'sandboxLifecycle';

/** Workflow id of a sandbox's lifecycle run (`sandbox-<sandboxId>`). */
export function sandboxLifecycleWorkflowId(sandboxId: string): string {
  return `sandbox-${sandboxId}`;
}

export interface SandboxLifecycleInput {
  /** Task queue of the sandbox's host (src/hosts), when the starter knew it; else the run looks it up at its first command. */
  hostTaskQueue?: string;
  taskId: string;
  sandboxId: string;
  /** Stop after this long without a turn, in ms; 0 = never (SANDBOX_IDLE_STOP_MINUTES). */
  idleStopMs: number;
}

/** Signal: stop the sandbox now (POST /v1/tasks/:id/stop). */
export const stopSandboxSignal = defineSignal<[{ reason: Extract<SandboxStateReason, 'requested'> }]>('stopSandbox');
/**
 * Signal: resume the sandbox (a user's POST …/resume, or a tab that needs the agent). `requester`: the
 * workflow id of a tab run to tell with {@link sandboxAwakeSignal} once the sandbox is ready (or not).
 */
export const resumeSandboxSignal = defineSignal<[{ reason: Extract<SandboxStateReason, 'requested' | 'use'>; requester?: string }]>('resumeSandbox');
/** Signal from reconcile: the sandbox is `ready` but its agent does not run; record it `stopped`. */
export const agentExitedSignal = defineSignal('agentExited');
/** Signal from kill/archive: the sandbox was destroyed; the run ends. */
export const sandboxDestroyedSignal = defineSignal('sandboxDestroyed');

/** Signal to a tab's run: the sandbox it asked to resume is ready (`ok`), or could not be resumed. */
export const sandboxAwakeSignal = defineSignal<[{ ok: boolean; message?: string }]>('sandboxAwake');

export interface SandboxLifecycleState {
  sandboxId: string;
  /** The state this run last recorded or found (the row in Postgres is the truth). */
  state: SandboxState | 'unknown';
  /** When the idle timer fires next (ISO-8601), or null when none runs. */
  idleStopAt: string | null;
  /** The command running now, if any. */
  running: 'stop' | 'resume' | 'check_agent' | 'idle_stop' | null;
  /** Commands waiting behind it. */
  queued: number;
}

/** Query: the run's live state, from workflow memory. */
export const sandboxLifecycleStateQuery = defineQuery<SandboxLifecycleState>('sandboxLifecycleState');

/** What a stop found or did. */
export type StopOutcome =
  | { outcome: 'stopped' }
  /** Idle stop only: a turn ran within the idle time (or runs now); ask again in `dueInMs`. */
  | { outcome: 'busy'; dueInMs: number }
  /** Nothing to stop: asleep already, its agent runs (agent check), or it is waking. */
  | { outcome: 'unchanged'; state: SandboxState }
  /** The sandbox row is destroyed or gone. */
  | { outcome: 'gone' };

export type ResumeOutcome = { outcome: 'ready' } | { outcome: 'lost' } | { outcome: 'gone' };

/** Activities of `sandboxLifecycle` (src/activities/sandboxLifecycle.activities.ts). */
export interface SandboxLifecycleActivities {
  /**
   * Stops the sandbox (`ready` -> `stopping` -> `stopped`, processes ended, files kept).
   * `ifIdleForMs`: only when no turn started or ended in that long and none runs (idle stop).
   * `ifAgentExited`: only when its agent does not run (reconcile). `reason` goes into the events.
   */
  stopSandbox(input: { sandboxId: string; reason: SandboxStateReason; ifIdleForMs?: number; ifAgentExited?: boolean }): Promise<StopOutcome>;
  /**
   * Resumes the sandbox: `stopped` -> `resuming` -> `ready` with its sandbox-agent started again, confined
   * as before, in the same files; `lost` when the files are gone. A `ready` sandbox whose agent does
   * not run is recorded `stopped` first. Heartbeats while the agent starts.
   */
  resumeSandbox(input: { sandboxId: string; reason: SandboxStateReason }): Promise<ResumeOutcome>;

  /** Starts the sandbox's lifecycle run (provisionTask, once the task is `running`); an existing run is kept. */
  startSandboxLifecycle(input: { taskId: string; sandboxId: string }): Promise<void>;
  /**
   * Asks the sandbox's lifecycle run to resume it (signal-with-start) and to tell `requester` (a tab
   * run's workflow id) with {@link sandboxAwakeSignal} once it is ready or cannot be.
   */
  requestSandboxResume(input: { taskId: string; sandboxId: string; requester: string }): Promise<void>;
}
