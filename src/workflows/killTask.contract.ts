/** Contract of the `killTask` workflow (./killTask.ts): its type, ids, input and activities. */
import type { TaskReleasedPayload } from '../domain/events';

export const KILL_TASK_WORKFLOW_TYPE = 'killTask';
/** Workflow id of a task's kill run. */
export const killWorkflowId = (taskId: string) => `kill-task-${taskId}`;
/** Workflow id of a task's archive run (the same `killTask` workflow with outcome `archived`). */
export const archiveWorkflowId = (taskId: string) => `archive-task-${taskId}`;

/** Final status a `killTask` run records: `killed` (a kill) or `archived` (an archive). */
export type KillOutcome = 'killed' | 'archived';

/** Input of `killTask`. Runs started before `outcome` existed have none, and are kills. */
export interface KillTaskInput {
  taskId: string;
  /** Default `killed`. */
  outcome?: KillOutcome;
}

/** Activities of `killTask` (src/activities/killTask.activities.ts). */
export interface KillActivities {
  /** Requests cancellation of the task's provisioning run and waits until it has closed. */
  cancelProvisioning(input: { taskId: string }): Promise<{ wasRunning: boolean }>;
  /** Closes every open tab of the task; their runs end their agent sessions. */
  closeTaskSessions(input: { taskId: string }): Promise<{ closed: number }>;
  /** Stops and removes every sandbox of the task, on the worker that runs it (runs recorded before sandbox hosts). */
  destroyTaskSandboxes(input: { taskId: string }): Promise<{ destroyed: number }>;
  /**
   * Records every sandbox of the task `destroyed` (so a provisioning activity in flight removes what it
   * makes) and ends their lifecycle runs; on the shared queue.
   * @returns each with its host's task queue, or null when its host was lost (nothing to reach there).
   */
  markSandboxesDestroyed(input: { taskId: string }): Promise<{ sandboxes: Array<{ sandboxId: string; taskQueue: string | null }> }>;
  /** Stops and removes sandbox `sandboxId` (already recorded destroyed); on its host's task queue. */
  destroySandbox(input: { sandboxId: string }): Promise<void>;
  /**
   * Records the run's outcome (once): `killed` with a `task.kill` event (the default, and all a run
   * recorded before `outcome` existed), or `archived` with a `task.archive` event. A kill never
   * overwrites `archived`.
   */
  markKilled(input: { taskId: string; dedupeKey: string; summary: TaskReleasedPayload; outcome?: KillOutcome }): Promise<void>;
}
