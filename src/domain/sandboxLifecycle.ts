/**
 * Sandbox lifecycle states, as clients see them on a task (`sandboxState`) and in `sandbox.state`
 * history events (docs/PRODUCT.md#sandbox-lifecycle). The names follow the remote sandbox services'
 * terms (Daytona, E2B, Coder: a sandbox is stopped and resumed, its files kept). Pure data: imported
 * by workflow code too.
 *
 *   creating --agent healthy--> ready --idle / stop--> stopping --> stopped --use / resume--> resuming --> ready
 *   ready --agent found dead (reconcile, or a turn)--> stopped
 *   resuming --files gone--> lost
 *   any but destroyed --its host unseen for SANDBOX_HOST_LOST_AFTER--> lost
 *   any --kill / archive--> destroyed
 */

export const SANDBOX_STATES = ['creating', 'ready', 'stopping', 'stopped', 'resuming', 'lost', 'destroyed', 'error'] as const;
export type SandboxState = (typeof SANDBOX_STATES)[number];

/** Why a sandbox changed state (payload `reason` of `sandbox.state` events). */
export const SANDBOX_STATE_REASONS = [
  /** No turn for SANDBOX_IDLE_STOP_MINUTES. */
  'idle',
  /** POST /v1/tasks/:id/stop or /resume. */
  'requested',
  /** Its sandbox-agent was found not running (crashed, killed, machine restarted). */
  'agent_exited',
  /** A tab needed the agent (a message, opening or retrying a tab). */
  'use',
  /** Its files are gone; it cannot be resumed. */
  'files_gone',
  /** Its sandbox host was unseen for SANDBOX_HOST_LOST_AFTER (src/hosts/lostHosts.ts). */
  'host_lost',
] as const;
export type SandboxStateReason = (typeof SANDBOX_STATE_REASONS)[number];

/** One sentence per state, for the page and the `sandbox.state` event's `message`. */
export const SANDBOX_STATE_MESSAGES: Record<SandboxState, string> = {
  creating: 'Creating the sandbox.',
  ready: 'The sandbox is running.',
  stopping: 'Putting the sandbox to sleep.',
  stopped: 'Sandbox asleep, it wakes when you send a message.',
  resuming: 'Waking the sandbox…',
  lost: 'The sandbox is gone; its files or its host were lost.',
  destroyed: 'The sandbox was removed.',
  error: 'The sandbox failed.',
};

/** States from which a stop is taken (a sleeping or waking sandbox is left as it is). */
export const STOPPABLE_STATES = ['ready'] as const satisfies readonly SandboxState[];
/** States from which a resume is taken. */
export const RESUMABLE_STATES = ['stopped', 'stopping', 'ready', 'resuming'] as const satisfies readonly SandboxState[];
