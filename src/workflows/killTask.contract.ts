/** Contract of the `killTask` workflow (./killTask.ts): its type, id and activities. */

export const KILL_TASK_WORKFLOW_TYPE = 'killTask';
export const killWorkflowId = (taskId: string) => `kill-task-${taskId}`;

/** Activities of `killTask` (src/activities/killTask.activities.ts). */
export interface KillActivities {
  /** Requests cancellation of the task's provisioning run and waits until it has closed. */
  cancelProvisioning(input: { taskId: string }): Promise<{ wasRunning: boolean }>;
  /** Closes every open tab of the task; their runs end their agent sessions. */
  closeTaskSessions(input: { taskId: string }): Promise<{ closed: number }>;
  /** Stops and removes every sandbox of the task. */
  destroyTaskSandboxes(input: { taskId: string }): Promise<{ destroyed: number }>;
  /** Sets the task to `killed` with a `task.kill` event (once). */
  markKilled(input: { taskId: string; dedupeKey: string; summary: Record<string, unknown> }): Promise<void>;
}
