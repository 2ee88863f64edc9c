/**
 * `workbenchSession`: serves one workbench tab for its whole life (see ./workbenchSession.contract.ts).
 *
 *   pending_provision --sandboxReady--> pending_session_create --session open--> ready
 *   ready --sendMessage--> (turn: running) --> ready, one turn at a time, in message order
 *   any failure --> error --retrySession--> pending_session_create (a new attempt, no duplicate session)
 *   provisioning failed --> error --sandboxReady (after the task is retried)--> pending_session_create
 *   closeSession at any point --> the agent session (existing or being created) is ended; run completes
 *   the sandbox asleep or its agent gone (a turn or an opening finds it) --> the sandbox's lifecycle run
 *     resumes it (sandboxAwake) --> the session is opened again, with a "session restarted" entry, and the
 *     message that found it is sent then, once (docs/PRODUCT.md#sandbox-lifecycle)
 *
 * A tab lives as long as its user keeps it, at about ten history events per turn, so between two
 * turns a run continues as new (same workflow id, new run id) when Temporal suggests it, handing the
 * next run what it needs (`WorkbenchSessionInput.continued`): the next run neither opens a second
 * agent session nor records again what this one recorded.
 *
 * Workflow code only: no I/O.
 */
import { allHandlersFinished, condition, continueAsNew, patched, proxyActivities, setHandler, workflowInfo, CancellationScope, type ActivityOptions } from '@temporalio/workflow';
import {
  AGENT_STOPPED,
  SESSION_LOST,
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
} from './workbenchSession.contract';
import { outlastOutages } from './dependencyOutage';
import { describeActivityFailure } from './failures';
import { DEPENDENCY_PATIENCE_MS, MIRROR_ACTIVITY_OPTIONS, SESSION_ACTIVITY_OPTIONS } from './policies';
import { sandboxAwakeSignal, type SandboxLifecycleActivities } from './sandboxLifecycle.contract';
import { sandboxRouter } from './sandboxRouting';

const { recordSessionTransition, resolveSessionSandbox, undeliveredMessages } =
  proxyActivities<Pick<WorkbenchActivities, 'recordSessionTransition' | 'resolveSessionSandbox' | 'undeliveredMessages'>>(MIRROR_ACTIVITY_OPTIONS);
/** The tab's activities on its sandbox, with `options` (on the sandbox host's queue when it has one). */
const onSandbox = (options: ActivityOptions) => proxyActivities<Pick<WorkbenchActivities, 'openAgentSession' | 'promptAgent' | 'endAgentSession'>>(options);
const { requestSandboxResume } = proxyActivities<Pick<SandboxLifecycleActivities, 'requestSandboxResume'>>(MIRROR_ACTIVITY_OPTIONS);

/**
 * Patch id: a tab that finds its sandbox asleep or its agent session gone has the sandbox woken and
 * the session opened again. Runs recorded before it ended such a turn or opening in `error`.
 */
export const SANDBOX_WAKE_PATCH = 'workbench-wake-sandbox';

/** How often one opening wakes the sandbox before it gives up (a sandbox that dies again at once). */
const MAX_WAKES_PER_OPENING = 2;

/**
 * Patch id: a run continues as new between turns when Temporal suggests it (or after
 * `continueAsNewAfterTurns` turns). Runs recorded before it never continued as new.
 */
export const CONTINUE_AS_NEW_PATCH = 'workbench-continue-as-new';

/**
 * Patch id: the clean-up in `finally` (ending the agent session) runs in a non-cancellable scope, so a
 * cancelled run still ends its session. Runs recorded before it scheduled it in the run's own scope.
 */
export const NON_CANCELLABLE_CLEANUP_PATCH = 'workbench-non-cancellable-cleanup';

/**
 * Serves one tab until it is closed; resolves once the agent session is ended. A run that continues
 * as new ends by Temporal's continue-as-new instead (nothing is ended: the next run serves the tab).
 * @param input the tab; `continued` only from a previous run of the same tab.
 */
export async function workbenchSession(input: WorkbenchSessionInput): Promise<void> {
  const { sessionId, taskId, continued } = input;
  // Dedupe keys are per run: a continued run records only transitions of its own, under its own run id.
  const runKey = workflowInfo().runId;
  let transitions = 0;
  let closed = false;
  let retryRequested = continued?.retryRequested ?? false;
  let failedProvisioning: string | null = null;
  /** Turns this run has finished (successfully). */
  let turns = 0;
  /** The next run's input, once this run hands the tab over (continue-as-new). */
  let handOver: WorkbenchSessionInput | null = null;
  const state: WorkbenchSessionState = {
    sessionId,
    phase: 'waiting_for_sandbox',
    sandboxId: continued?.sandboxId ?? null,
    queuedMessages: [...(continued?.queuedMessages ?? [])],
    error: null,
  };

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
  /** Where the tab's sandbox lives (src/hosts): found once per sandbox, handed on at continue-as-new. */
  const router = sandboxRouter(continued?.hostTaskQueue ? { sandboxId: continued.sandboxId, taskQueue: continued.hostTaskQueue } : null);
  const routed = (sandboxId: string, options: ActivityOptions) => router.route(sandboxId, options);
  const endAgentSession = async (sandboxId: string) => onSandbox(await routed(sandboxId, MIRROR_ACTIVITY_OPTIONS)).endAgentSession({ sessionId });

  /** The answer of the sandbox's lifecycle run to this run's last resume request. */
  const wake: { answer: { ok: boolean; message?: string } | null } = { answer: null };
  setHandler(sandboxAwakeSignal, (answer) => {
    wake.answer = answer;
  });

  /**
   * Has the sandbox's lifecycle run resume the sandbox (./sandboxLifecycle.ts) and waits for its answer.
   * @returns null once it is ready (or the tab was closed meanwhile), else why it could not be woken.
   */
  const wakeSandbox = async (sandboxId: string): Promise<string | null> => {
    state.phase = 'waking_sandbox';
    wake.answer = null;
    await requestSandboxResume({ taskId, sandboxId, requester: workflowInfo().workflowId });
    await condition(() => closed || wake.answer !== null);
    if (closed || wake.answer!.ok) return null;
    return wake.answer!.message ?? 'the sandbox could not be woken';
  };

  /**
   * Opens the tab's agent session (waiting out database outages), waking the sandbox first when it is
   * asleep. `restarted`: the tab had a session that is gone.
   * @throws what the opening failed with; a failed wake as an Error with its reason.
   */
  const openSession = async (sandboxId: string, restarted: boolean): Promise<{ sandboxSessionId: string }> => {
    for (let wakes = 0; ; wakes++) {
      try {
        return await outlastOutages(
          SESSION_ACTIVITY_OPTIONS.open,
          async (o) => onSandbox(await routed(sandboxId, o)).openAgentSession({ sessionId, sandboxId, ...(restarted ? { restarted } : {}) }),
          { patienceMs: DEPENDENCY_PATIENCE_MS },
        );
      } catch (err) {
        if (wakes >= MAX_WAKES_PER_OPENING || describeActivityFailure(err).type !== AGENT_STOPPED || !patched(SANDBOX_WAKE_PATCH)) throw err;
        const notWoken = await wakeSandbox(sandboxId);
        if (notWoken !== null) throw new Error(`waking the sandbox failed: ${notWoken}`);
        if (closed) throw new Error('the tab was closed');
        state.phase = 'creating_session';
      }
    }
  };

  const transition = (t: Omit<SessionTransitionInput, 'sessionId' | 'dedupeKey'>) =>
    recordSessionTransition({ ...t, sessionId, dedupeKey: `${runKey}:${++transitions}:${t.status}` });

  const fail = async (message: string) => {
    state.phase = 'error';
    state.error = message;
    await transition({ status: 'error', errorMessage: message });
    await condition(() => closed || retryRequested);
    retryRequested = false;
  };

  /** Between turns: whether this run should hand the tab over to a new run now. */
  const continueAsNewDue = () => {
    const forcedAfter = input.continueAsNewAfterTurns;
    return workflowInfo().continueAsNewSuggested || (forcedAfter !== undefined && forcedAfter >= 1 && turns >= forcedAfter);
  };

  if (!continued) {
    const found = await resolveSessionSandbox({ taskId });
    if (found.kind === 'ready') state.sandboxId ??= found.sandboxId;
    if (found.kind === 'failed') failedProvisioning ??= found.message;
  }

  let sessionOpen = false;
  /** The tab's session was found gone (its sandbox slept or its agent restarted): the next opening says so. */
  let sessionRestarted = false;
  /** A continued run whose agent session is open starts at its turns: no second open, no second `ready`. */
  let resumeOpenSession = continued?.sessionOpen === true && state.sandboxId !== null;
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
      if (resumeOpenSession) {
        // Continued from a previous run with the session open and `ready` recorded; every message
        // signalled since is in `queuedMessages`, so the transcript need not be read again.
        resumeOpenSession = false;
        sessionOpen = true;
        state.phase = 'ready';
      } else {
        state.phase = 'creating_session';
        state.error = null;
        await transition({ status: 'pending_session_create', errorMessage: null, sandboxId });
        try {
          // A database outage is waited out (./dependencyOutage.ts) instead of showing the tab in error.
          const { sandboxSessionId } = await openSession(sandboxId, sessionRestarted);
          sessionOpen = true;
          sessionRestarted = false;
          if (closed) break; // closed while the session was being created: end it below
          state.phase = 'ready';
          await transition({ status: 'ready', sandboxSessionId });
        } catch (err) {
          if (closed && patched(SANDBOX_WAKE_PATCH)) break; // closed while the sandbox woke: nothing failed
          await fail(`opening the agent session failed: ${failureMessage(err)}`);
          continue;
        }
        for (const index of await undeliveredMessages({ sessionId })) {
          if (!state.queuedMessages.includes(index)) state.queuedMessages.push(index);
        }
      }
      let turnFailed: string | null = null;
      /** The turn found the sandbox asleep or the session gone: the session is opened again (waking the sandbox). */
      let sessionGone = false;
      while (!closed && turnFailed === null && !sessionGone) {
        // The safe point to continue as new: between turns, once every handler has finished.
        if (continueAsNewDue() && patched(CONTINUE_AS_NEW_PATCH)) {
          await condition(allHandlersFinished);
          if (!closed) {
            handOver = {
              taskId,
              sessionId,
              ...(input.continueAsNewAfterTurns !== undefined ? { continueAsNewAfterTurns: input.continueAsNewAfterTurns } : {}),
              continued: {
                sandboxId,
                ...(router.known(sandboxId) ? { hostTaskQueue: router.known(sandboxId) } : {}),
                sessionOpen: true,
                queuedMessages: [...state.queuedMessages],
                retryRequested,
              },
            };
            break;
          }
        }
        await condition(() => closed || state.queuedMessages.length > 0);
        if (closed) break;
        const entryIndex = state.queuedMessages.shift()!;
        state.phase = 'prompting';
        try {
          await onSandbox(await routed(sandboxId, SESSION_ACTIVITY_OPTIONS.prompt)).promptAgent({ sessionId, entryIndex });
          state.phase = 'ready';
          turns++;
        } catch (err) {
          const { type } = describeActivityFailure(err);
          if ((type === AGENT_STOPPED || type === SESSION_LOST) && patched(SANDBOX_WAKE_PATCH)) {
            // Not sent (the activity refuses before it claims the message): it goes first once the session is back.
            state.queuedMessages.unshift(entryIndex);
            sessionGone = true;
          } else {
            turnFailed = failureMessage(err);
          }
        }
      }
      if (handOver) break;
      if (sessionGone) {
        sessionOpen = false;
        sessionRestarted = true;
        continue;
      }
      if (turnFailed !== null) {
        await endAgentSession(sandboxId);
        sessionOpen = false;
        await fail(`the agent turn failed: ${turnFailed}`);
      }
    }
  } finally {
    // A run that hands over leaves the agent session to the next run.
    if (!handOver) {
      state.phase = 'closing';
      // End the agent session whether it is open or was perhaps half-made by an interrupted attempt;
      // also when the run was cancelled.
      const sandboxId = state.sandboxId;
      if (sessionOpen || sandboxId !== null) {
        if (patched(NON_CANCELLABLE_CLEANUP_PATCH)) await CancellationScope.nonCancellable(() => endAgentSession(sandboxId!));
        else await endAgentSession(sandboxId!);
      }
      state.phase = 'closed';
    }
  }
  if (handOver) await continueAsNew<typeof workbenchSession>(handOver);
}

function failureMessage(err: unknown): string {
  return describeActivityFailure(err).message;
}
