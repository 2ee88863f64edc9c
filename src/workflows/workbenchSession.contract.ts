/**
 * Contract of the `workbenchSession` workflow: one run per workbench tab, for the tab's whole life.
 *
 * Where session creation lives (docs/PRODUCT.md#tabs-open-at-once: tab creation is split from agent session creation): the
 * REST request only commits the tab row and starts this workflow; provisioning stays the concern of
 * `provisionTask`. A tab opened before the sandbox is ready waits (status `pending_provision`) for the
 * `sandboxReady` signal that `provisionTask` sends to every pending tab once sandbox-agent is healthy
 * (or `provisioningFailed`); a tab opened later finds the sandbox ready at its first activity. Either
 * way the same workflow then opens the agent session (`pending_session_create` -> `ready`), sends
 * prompts one turn at a time, and ends the agent session when the tab is closed.
 */
import { defineQuery, defineSignal } from '@temporalio/workflow';

export const WORKBENCH_SESSION_WORKFLOW_TYPE = 'workbenchSession';

/** Workflow id of a tab's run, derived from the tab id (`session-<uuid>`). */
export function workbenchWorkflowId(sessionId: string): string {
  return `workbench-${sessionId}`;
}

export interface WorkbenchSessionInput {
  taskId: string;
  sessionId: string;
  /**
   * For tests and history recording only: every run of the tab continues as new after this many
   * turns (>= 1), as it otherwise does only when Temporal suggests it (near the history limits).
   * Carried to the next run. Unset in production.
   */
  continueAsNewAfterTurns?: number;
  /** Set only by a run that continued as new: where the tab stood, so this run goes on from there. */
  continued?: WorkbenchSessionCarryOver;
}

/**
 * What a `workbenchSession` run hands to the run it continues as (same workflow id, new run id). The
 * transcript and the tab row are in Postgres already; this is only the run's own memory.
 */
export interface WorkbenchSessionCarryOver {
  /** The sandbox the tab's agent session lives in. */
  sandboxId: string;
  /** Task queue of the sandbox's host (src/hosts), when the run knew it: the next run need not look it up. */
  hostTaskQueue?: string;
  /**
   * The agent session is open and the tab is `ready` (recorded by an earlier run): the next run
   * neither opens it again nor records `pending_session_create` / `ready` again. When false the next
   * run opens it as a new attempt.
   */
  sessionOpen: boolean;
  /** Transcript indexes of user messages signalled but not yet sent, oldest first. */
  queuedMessages: number[];
  /** A `retrySession` signal arrived and was not used yet (it lets the next failure be retried at once, as within one run). */
  retryRequested: boolean;
}

/** Failure type: the sandbox is asleep or its agent does not run; the tab wakes it (./sandboxLifecycle.ts). */
export const AGENT_STOPPED = 'AgentStopped';
/** Failure type: the agent runs but the tab's agent session is not in it (the agent was started again). */
export const SESSION_LOST = 'SessionLost';

export type SandboxOutcome = { kind: 'ready'; sandboxId: string } | { kind: 'failed'; message: string };

/** Signal from provisionTask: the task's sandbox can take sessions now. */
export const sandboxReadySignal = defineSignal<[{ sandboxId: string }]>('sandboxReady');
/** Signal from provisionTask: provisioning ended in error; the tab cannot get a session. */
export const provisioningFailedSignal = defineSignal<[{ message: string }]>('provisioningFailed');
/** Signal from the API: a user message was stored at transcript index `entryIndex`; send it. */
export const sendMessageSignal = defineSignal<[{ entryIndex: number }]>('sendMessage');
/** Signal from the API: the tab was closed; end the agent session (now, or as soon as it exists). */
export const closeSessionSignal = defineSignal('closeSession');
/** Signal from the API: the tab is in `error` and the user asked for a new attempt. */
export const retrySessionSignal = defineSignal('retrySession');

export interface WorkbenchSessionState {
  sessionId: string;
  /** `waking_sandbox`: the sandbox was asleep (or its agent gone); its lifecycle run is resuming it for this tab. */
  phase: 'waiting_for_sandbox' | 'waking_sandbox' | 'creating_session' | 'ready' | 'prompting' | 'error' | 'closing' | 'closed';
  sandboxId: string | null;
  /** Transcript indexes of user messages waiting to be sent, oldest first. */
  queuedMessages: number[];
  error: string | null;
}

/** Query: the tab's live state, from workflow memory. */
export const workbenchSessionStateQuery = defineQuery<WorkbenchSessionState>('workbenchSessionState');

export interface SessionTransitionInput {
  sessionId: string;
  status: 'pending_provision' | 'pending_session_create' | 'ready' | 'error';
  errorMessage?: string | null;
  sandboxId?: string;
  sandboxSessionId?: string;
  dedupeKey: string;
}

/** Activities of `workbenchSession` (and the one provisionTask calls to release waiting tabs). */
export interface WorkbenchActivities {
  /** Whether the task's sandbox can take sessions now. */
  resolveSessionSandbox(input: { taskId: string }): Promise<SandboxOutcome | { kind: 'pending' }>;
  /** Mirrors a tab status change into Postgres (row + task history event) and notifies. */
  recordSessionTransition(input: SessionTransitionInput): Promise<void>;
  /**
   * Opens (or finds) the tab's agent session in the sandbox. `restarted`: the tab's earlier session
   * is gone (its agent was started again), so the new one is announced in the transcript.
   * @throws non-retryable {@link AGENT_STOPPED} when the sandbox is asleep or its agent is gone.
   */
  openAgentSession(input: { sessionId: string; sandboxId: string; restarted?: boolean }): Promise<{ sandboxSessionId: string }>;
  /** Transcript indexes of the tab's user messages not yet sent to the agent, oldest first. */
  undeliveredMessages(input: { sessionId: string }): Promise<number[]>;
  /**
   * Sends the user message at `entryIndex` and streams the reply into the transcript.
   * @throws non-retryable {@link AGENT_STOPPED} (the sandbox is asleep or its agent gone) or
   *   {@link SESSION_LOST} (the agent runs but the tab's session is not in it), both before the
   *   message is claimed: it stays `pending` and is sent once the session is back.
   */
  promptAgent(input: { sessionId: string; entryIndex: number }): Promise<{ stopReason: string | null }>;
  /** Ends the tab's agent session, if any. */
  endAgentSession(input: { sessionId: string }): Promise<void>;
  /** Signals every tab of the task still waiting for provisioning. */
  releasePendingSessions(input: { taskId: string; outcome: SandboxOutcome }): Promise<{ signalled: number }>;
}
