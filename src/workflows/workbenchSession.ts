/**
 * `workbenchSession`: serves one workbench tab for its whole life (see ./sessionContracts.ts).
 *
 *   pending_provision --sandboxReady--> pending_session_create --session open--> ready
 *   ready --sendMessage--> (turn: running) --> ready, one turn at a time, in message order
 *   any failure --> error --retrySession--> pending_session_create (a new attempt, no duplicate session)
 *   provisioning failed --> error --sandboxReady (after the task is retried)--> pending_session_create
 *   closeSession at any point --> the agent session (existing or being created) is ended; run completes
 *
 * Workflow code only: no I/O.
 */
import { condition, proxyActivities, setHandler, workflowInfo, ActivityFailure, ApplicationFailure } from '@temporalio/workflow';
import {
  closeSessionSignal,
  provisioningFailedSignal,
  retrySessionSignal,
  sandboxReadySignal,
  sendMessageSignal,
  workbenchSessionStateQuery,
  type SessionTransitionInput,
  type WorkbenchActivities,
  type WorkbenchSessionInput,
  type WorkbenchSessionState,
} from './sessionContracts';
import { outlastOutages } from './dependencyOutage';
import { DEPENDENCY_PATIENCE_MS, MIRROR_ACTIVITY_OPTIONS, SESSION_ACTIVITY_OPTIONS } from './policies';

const { recordSessionTransition, resolveSessionSandbox, undeliveredMessages, endAgentSession } = proxyActivities<
  Pick<WorkbenchActivities, 'recordSessionTransition' | 'resolveSessionSandbox' | 'undeliveredMessages' | 'endAgentSession'>
>(MIRROR_ACTIVITY_OPTIONS);
/** openAgentSession with the open policy, limited to `maximumAttempts` (what a database outage left of the budget). */
const openAgentSessionWithin = (maximumAttempts: number | undefined) =>
  proxyActivities<Pick<WorkbenchActivities, 'openAgentSession'>>({ ...SESSION_ACTIVITY_OPTIONS.open, retry: { ...SESSION_ACTIVITY_OPTIONS.open.retry, maximumAttempts } }).openAgentSession;
const { promptAgent } = proxyActivities<Pick<WorkbenchActivities, 'promptAgent'>>(SESSION_ACTIVITY_OPTIONS.prompt);

export async function workbenchSession(input: WorkbenchSessionInput): Promise<void> {
  const { sessionId, taskId } = input;
  const runKey = workflowInfo().runId;
  let transitions = 0;
  let closed = false;
  let retryRequested = false;
  let failedProvisioning: string | null = null;
  const state: WorkbenchSessionState = { sessionId, phase: 'waiting_for_sandbox', sandboxId: null, queuedMessages: [], error: null };

  setHandler(workbenchSessionStateQuery, () => state);
  setHandler(sandboxReadySignal, ({ sandboxId }) => {
    state.sandboxId ??= sandboxId;
  });
  setHandler(provisioningFailedSignal, ({ message }) => {
    failedProvisioning ??= message;
  });
  setHandler(sendMessageSignal, ({ entryIndex }) => {
    if (!state.queuedMessages.includes(entryIndex)) state.queuedMessages.push(entryIndex);
  });
  setHandler(closeSessionSignal, () => {
    closed = true;
  });
  setHandler(retrySessionSignal, () => {
    retryRequested = true;
  });

  const transition = (t: Omit<SessionTransitionInput, 'sessionId' | 'dedupeKey'>) =>
    recordSessionTransition({ ...t, sessionId, dedupeKey: `${runKey}:${++transitions}:${t.status}` });

  const fail = async (message: string) => {
    state.phase = 'error';
    state.error = message;
    await transition({ status: 'error', errorMessage: message });
    await condition(() => closed || retryRequested);
    retryRequested = false;
  };

  const found = await resolveSessionSandbox({ taskId });
  if (found.kind === 'ready') state.sandboxId ??= found.sandboxId;
  if (found.kind === 'failed') failedProvisioning ??= found.message;

  let sessionOpen = false;
  try {
    await condition(() => closed || state.sandboxId !== null || failedProvisioning !== null);
    while (!closed && state.sandboxId === null && failedProvisioning !== null) {
      // The task's provisioning failed: the tab shows it until it is closed, or until the task is
      // retried and provisioning releases the tab with `sandboxReady` (or fails again).
      const reason: string = failedProvisioning;
      failedProvisioning = null;
      state.phase = 'error';
      state.error = `the task's provisioning failed: ${reason}`;
      await transition({ status: 'error', errorMessage: state.error });
      await condition(() => closed || state.sandboxId !== null || failedProvisioning !== null);
    }
    while (!closed && state.sandboxId !== null) {
      const sandboxId: string = state.sandboxId;
      state.phase = 'creating_session';
      state.error = null;
      await transition({ status: 'pending_session_create', errorMessage: null, sandboxId });
      try {
        // A database outage is waited out (./dependencyOutage.ts) instead of showing the tab in error.
        const { sandboxSessionId } = await outlastOutages((max) => openAgentSessionWithin(max)({ sessionId, sandboxId }), {
          maximumAttempts: SESSION_ACTIVITY_OPTIONS.open.retry?.maximumAttempts,
          patienceMs: DEPENDENCY_PATIENCE_MS,
        });
        sessionOpen = true;
        if (closed) break; // closed while the session was being created: end it below
        state.phase = 'ready';
        await transition({ status: 'ready', sandboxSessionId });
      } catch (err) {
        await fail(`opening the agent session failed: ${failureMessage(err)}`);
        continue;
      }
      for (const index of await undeliveredMessages({ sessionId })) {
        if (!state.queuedMessages.includes(index)) state.queuedMessages.push(index);
      }
      let turnFailed: string | null = null;
      while (!closed && turnFailed === null) {
        await condition(() => closed || state.queuedMessages.length > 0);
        if (closed) break;
        const entryIndex = state.queuedMessages.shift()!;
        state.phase = 'prompting';
        try {
          await promptAgent({ sessionId, entryIndex });
          state.phase = 'ready';
        } catch (err) {
          turnFailed = failureMessage(err);
        }
      }
      if (turnFailed !== null) {
        await endAgentSession({ sessionId });
        sessionOpen = false;
        await fail(`the agent turn failed: ${turnFailed}`);
      }
    }
  } finally {
    state.phase = 'closing';
    // End the agent session whether it is open or was perhaps half-made by an interrupted attempt.
    if (sessionOpen || state.sandboxId !== null) await endAgentSession({ sessionId });
    state.phase = 'closed';
  }
}

function failureMessage(err: unknown): string {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  if (cause instanceof ApplicationFailure) return cause.message;
  return cause instanceof Error ? cause.message : String(cause);
}
