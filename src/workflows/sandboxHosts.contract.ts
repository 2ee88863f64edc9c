/**
 * Contract of sandbox placement and routing (docs/DEPLOYMENT.md#placement), shared by the workflows
 * (no I/O here) and the activities: the two orchestration activities that say on which sandbox
 * host's task queue a sandbox's activities are scheduled, and the patch that turned routing on.
 */

/**
 * Patch id: every activity on a sandbox is scheduled on the task queue of the host that holds it
 * (Temporal's worker-specific task queues), and a new sandbox is placed on a host first. Runs recorded
 * before it scheduled them on the shared queue; they keep doing so (served by a worker that has both
 * roles, the default).
 */
export const SANDBOX_HOSTS_PATCH = 'sandbox-host-task-queues';

/** Where a sandbox lives. */
export interface SandboxLocation {
  sandboxId: string;
  hostId: string;
  /** The host's own task queue. */
  taskQueue: string;
}

/** Activities on the shared (orchestration) queue that place and locate sandboxes. */
export interface SandboxPlacementActivities {
  /**
   * First part of step init_create_sandbox: the task's sandbox row on a host (src/hosts/placement.ts).
   * While no live host has room it waits, with the step's sub-step `waiting_for_sandbox_host`, until
   * one has or its attempt's limit is near; then it fails retryable `NoSandboxHost`.
   */
  placeSandbox(input: { taskId: string }): Promise<SandboxLocation>;
  /**
   * Placement without waiting (a local activity of lean `provisionTask` runs): the task's sandbox row
   * on a host, or null when no live host has room now (the run then schedules `placeSandbox`, which
   * waits where the Web UI and the run's query can see it).
   */
  tryPlaceSandbox(input: { taskId: string }): Promise<SandboxLocation | null>;
  /**
   * The host of sandbox `sandboxId` (retried while it has none: a sandbox made before hosts existed,
   * until its host adopts it).
   */
  locateSandbox(input: { sandboxId: string }): Promise<SandboxLocation>;
}
