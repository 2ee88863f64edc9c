/**
 * Task status names and provisioning steps, exactly as the specs name them
 * (docs/PRODUCT.md#statuses). Pure data: imported by workflow code too.
 */

/** Provisioning steps in the order `provisionTask` runs them. */
export const PROVISION_STEPS = ['init_ensure_name', 'init_create_sandbox', 'init_ensure_agent', 'init_create_session'] as const;
export type ProvisionStep = (typeof PROVISION_STEPS)[number];

export const TASK_STATUSES = ['init_enqueue_provision', ...PROVISION_STEPS, 'running', 'idle', 'error', 'archived', 'killed'] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

/** Human message shown under each status while its step runs (docs/PRODUCT.md#status-messages). */
export const STEP_MESSAGES: Record<ProvisionStep, string> = {
  init_ensure_name: 'naming task',
  init_create_sandbox: 'creating sandbox',
  init_ensure_agent: 'starting sandbox-agent',
  init_create_session: 'opening agent session',
};

/** True for the name of a provisioning step (not `init_enqueue_provision`, not a later status). */
export function isProvisionStep(status: string): status is ProvisionStep {
  return (PROVISION_STEPS as readonly string[]).includes(status);
}

/** True while a task is still being provisioned (the UI's "Provisioning" pill). */
export function isProvisioning(status: TaskStatus): boolean {
  return status.startsWith('init_');
}

/**
 * Statuses of a task that holds no branch or sandbox any more and that provisioning never
 * overwrites: a late transition of a cancelled run, or a run started after the kill, is dropped
 * (docs/PRODUCT.md#kill).
 */
export const RELEASED_STATUSES = ['archived', 'killed'] as const satisfies readonly TaskStatus[];

/** True for a killed or archived task (see {@link RELEASED_STATUSES}). */
export function isReleased(status: string): boolean {
  return (RELEASED_STATUSES as readonly string[]).includes(status);
}

/** Statuses in which the task's sandbox takes tabs: provisioning has finished (docs/PRODUCT.md#pending-tabs). */
export const SANDBOX_READY_STATUSES = ['running', 'idle'] as const satisfies readonly TaskStatus[];

/** True when the task's sandbox takes tabs now ({@link SANDBOX_READY_STATUSES}). */
export function isSandboxReady(status: string): boolean {
  return (SANDBOX_READY_STATUSES as readonly string[]).includes(status);
}

/** True when provisioning cannot give the task's tabs a sandbox (until a retry): `error`, or released. */
export function isProvisioningOver(status: string): boolean {
  return status === 'error' || isReleased(status);
}
