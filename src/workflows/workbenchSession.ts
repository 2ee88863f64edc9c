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
import { sandboxRouter, type SandboxRouter } from './sandboxRouting';

/**
 * The tab's activities, each call with a one-line Web UI `summary` (what it does, to what). A summary
 * is metadata of the scheduling command, not part of what replay compares, so it needs no patch (runs
 * recorded before summaries replay unchanged: test/replay).
 */
const mirror = (summary: string) =>
  proxyActivities<Pick<WorkbenchActivities, 'recordSessionTransition' | 'resolveSessionSandbox' | 'undeliveredMessages'>>({ ...MIRROR_ACTIVITY_OPTIONS, summary });
/** The tab's activities on its sandbox, with `options` (on the sandbox host's queue when it has one) and a summary. */
const onSandbox = (options: ActivityOptions, summary: string) =>
  proxyActivities<Pick<WorkbenchActivities, 'openAgentSession' | 'promptAgent' | 'endAgentSession'>>({ ...options, summary });
const lifecycle = (summary: string) => proxyActivities<Pick<SandboxLifecycleActivities, 'requestSandboxResume'>>({ ...MIRROR_ACTIVITY_OPTIONS, summary });

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
  const run = registerHandlers(input);
  if (!input.continued) await resolveSandbox(run);
  /** The next run's input, once this run hands the tab over (continue-as-new). */
  let handOver: WorkbenchSessionInput | null = null;
  try {
    await waitForSandbox(run);
    while (!handOver && !run.closed && run.state.sandboxId !== null) {
      const sandboxId: string = run.state.sandboxId;
      if (run.resumeOpenSession) takeOverSession(run);
      else if (!(await openSession(run, sandboxId))) continue; // failed (until retried) or closed meanwhile
      const end = await serveTurns(run, sandboxId);
      if (end.kind === 'handOver') handOver = end.next;
      if (end.kind === 'turnFailed') await failTurn(run, sandboxId, end.message);
      // 'sessionGone': the next pass opens the session again (waking the sandbox); 'closed': the loop ends.
    }
  } finally {
    // A run that hands over leaves the agent session to the next run.
    if (!handOver) await closeSession(run);
  }
  if (handOver) await continueAsNew<typeof workbenchSession>(handOver);
}

/** One run's memory of its tab, shared by the phases: the handlers write it, `state` is what the query answers. */
interface TabRun {
  readonly input: WorkbenchSessionInput;
  readonly sessionId: string;
  /** Dedupe keys are per run: a continued run records only transitions of its own, under its own run id. */
  readonly runKey: string;
  /** Transitions this run has recorded (the counter in their dedupe keys). */
  transitions: number;
  readonly state: WorkbenchSessionState;
  /** `closeSession` arrived. */
  closed: boolean;
  /** `retrySession` arrived and was not used yet. */
  retryRequested: boolean;
  /** Why the task's provisioning failed, not shown on the tab yet. */
  failedProvisioning: string | null;
  /** Turns this run has finished (successfully). */
  turns: number;
  /** Where the tab's sandbox lives (src/hosts): found once per sandbox, handed on at continue-as-new. */
  readonly router: SandboxRouter;
  /** The answer of the sandbox's lifecycle run to this run's last resume request. */
  readonly wake: { answer: { ok: boolean; message?: string } | null };
  /** The agent session is open (or was being made): closing ends it. */
  sessionOpen: boolean;
  /** The tab's session was found gone (its sandbox slept or its agent restarted): the next opening says so. */
  sessionRestarted: boolean;
  /** A continued run whose agent session is open starts at its turns: no second open, no second `ready`. */
  resumeOpenSession: boolean;
}

/** Why {@link serveTurns} stopped serving turns. */
type TurnsEnd = { kind: 'closed' } | { kind: 'handOver'; next: WorkbenchSessionInput } | { kind: 'sessionGone' } | { kind: 'turnFailed'; message: string };

/** Sets up the run's memory and registers the tab's query and signal handlers, before anything is awaited. */
function registerHandlers(input: WorkbenchSessionInput): TabRun {
  const { sessionId, continued } = input;
  const state: WorkbenchSessionState = {
    sessionId,
    phase: 'waiting_for_sandbox',
    sandboxId: continued?.sandboxId ?? null,
    queuedMessages: [...(continued?.queuedMessages ?? [])],
    error: null,
  };
  const run: TabRun = {
    input,
    sessionId,
    runKey: workflowInfo().runId,
    transitions: 0,
    state,
    closed: false,
    retryRequested: continued?.retryRequested ?? false,
    failedProvisioning: null,
    turns: 0,
    router: sandboxRouter(continued?.hostTaskQueue ? { sandboxId: continued.sandboxId, taskQueue: continued.hostTaskQueue } : null),
    wake: { answer: null },
    sessionOpen: false,
    sessionRestarted: false,
    resumeOpenSession: false,
  };
  setHandler(workbenchSessionStateQuery, () => state);
  setHandler(sandboxReadySignal, ({ sandboxId }) => {
    state.sandboxId ??= sandboxId;
  });
  setHandler(provisioningFailedSignal, ({ message }) => {
    run.failedProvisioning ??= message;
  });
  setHandler(sendMessageSignal, ({ entryIndex }) => {
    if (!state.queuedMessages.includes(entryIndex)) state.queuedMessages.push(entryIndex);
  });
  setHandler(closeSessionSignal, () => {
    run.closed = true;
  });
  setHandler(retrySessionSignal, () => {
    run.retryRequested = true;
  });
  setHandler(sandboxAwakeSignal, (answer) => {
    run.wake.answer = answer;
  });
  run.resumeOpenSession = continued?.sessionOpen === true && state.sandboxId !== null;
  return run;
}

/** A new tab (not a continued run) asks once whether the task's sandbox is ready already, or its provisioning failed. */
async function resolveSandbox(run: TabRun): Promise<void> {
  const found = await mirror('tab: find the task’s sandbox').resolveSessionSandbox({ taskId: run.input.taskId });
  if (found.kind === 'ready') run.state.sandboxId ??= found.sandboxId;
  if (found.kind === 'failed') run.failedProvisioning ??= found.message;
}

/**
 * Waits until the tab has its sandbox (`sandboxReady`) or is closed. While the task's provisioning has
 * failed the tab shows it, until it is closed, or until the task is retried and provisioning releases
 * the tab with `sandboxReady` (or fails again).
 */
async function waitForSandbox(run: TabRun): Promise<void> {
  const { state } = run;
  await condition(() => run.closed || state.sandboxId !== null || run.failedProvisioning !== null);
  while (!run.closed && state.sandboxId === null && run.failedProvisioning !== null) {
    const reason: string = run.failedProvisioning;
    run.failedProvisioning = null;
    state.phase = 'error';
    state.error = `the task's provisioning failed: ${reason}`;
    await transition(run, { status: 'error', errorMessage: state.error });
    await condition(() => run.closed || state.sandboxId !== null || run.failedProvisioning !== null);
  }
}

/**
 * Continued from a previous run with the session open and `ready` recorded: serves it as it is. Every
 * message signalled since is in `queuedMessages`, so the transcript need not be read again.
 */
function takeOverSession(run: TabRun): void {
  run.resumeOpenSession = false;
  run.sessionOpen = true;
  run.state.phase = 'ready';
}

/**
 * Opens the tab's agent session in `sandboxId` as a new attempt (`pending_session_create`, then
 * `ready`) and queues the tab's messages not sent yet.
 * @returns whether the session is open for turns: false when the opening failed (the tab showed the
 *   error until it was retried or closed) or the tab was closed meanwhile (the session is ended at close).
 */
async function openSession(run: TabRun, sandboxId: string): Promise<boolean> {
  const { state } = run;
  state.phase = 'creating_session';
  state.error = null;
  await transition(run, { status: 'pending_session_create', errorMessage: null, sandboxId });
  try {
    // A database outage is waited out (./dependencyOutage.ts) instead of showing the tab in error.
    const { sandboxSessionId } = await openWakingSandbox(run, sandboxId, run.sessionRestarted);
    run.sessionOpen = true;
    run.sessionRestarted = false;
    if (run.closed) return false; // closed while the session was being created: end it at close
    state.phase = 'ready';
    await transition(run, { status: 'ready', sandboxSessionId });
  } catch (err) {
    if (run.closed && patched(SANDBOX_WAKE_PATCH)) return false; // closed while the sandbox woke: nothing failed
    await fail(run, `opening the agent session failed: ${failureMessage(err)}`);
    return false;
  }
  for (const index of await mirror('tab: read the messages sent before the tab was ready').undeliveredMessages({ sessionId: run.sessionId })) {
    if (!state.queuedMessages.includes(index)) state.queuedMessages.push(index);
  }
  return true;
}

/**
 * Sends the queued messages to the open session one turn at a time, in order, until the tab is closed,
 * the run hands the tab over (between turns), a turn finds the session gone (the message stays queued),
 * or a turn fails.
 */
async function serveTurns(run: TabRun, sandboxId: string): Promise<TurnsEnd> {
  const { state } = run;
  while (!run.closed) {
    // The safe point to continue as new: between turns, once every handler has finished.
    if (continueAsNewDue(run) && patched(CONTINUE_AS_NEW_PATCH)) {
      await condition(allHandlersFinished);
      if (!run.closed) return { kind: 'handOver', next: nextRunInput(run, sandboxId) };
    }
    await condition(() => run.closed || state.queuedMessages.length > 0);
    if (run.closed) break;
    const entryIndex = state.queuedMessages.shift()!;
    state.phase = 'prompting';
    try {
      await onSandbox(await run.router.route(sandboxId, SESSION_ACTIVITY_OPTIONS.prompt), `tab: send message ${entryIndex} to the agent in ${sandboxId}`).promptAgent({
        sessionId: run.sessionId,
        entryIndex,
      });
      state.phase = 'ready';
      run.turns++;
    } catch (err) {
      const { type } = describeActivityFailure(err);
      if (!((type === AGENT_STOPPED || type === SESSION_LOST) && patched(SANDBOX_WAKE_PATCH))) return { kind: 'turnFailed', message: failureMessage(err) };
      // Not sent (the activity refuses before it claims the message): it goes first once the session is back.
      state.queuedMessages.unshift(entryIndex);
      run.sessionOpen = false;
      run.sessionRestarted = true;
      return { kind: 'sessionGone' };
    }
  }
  return { kind: 'closed' };
}

/** After a failed turn: ends the agent session and shows the tab in error until it is retried or closed. */
async function failTurn(run: TabRun, sandboxId: string, message: string): Promise<void> {
  await endAgentSession(run, sandboxId);
  run.sessionOpen = false;
  await fail(run, `the agent turn failed: ${message}`);
}

/**
 * Ends the agent session whether it is open or was perhaps half-made by an interrupted attempt; also
 * when the run was cancelled.
 */
async function closeSession(run: TabRun): Promise<void> {
  run.state.phase = 'closing';
  const sandboxId = run.state.sandboxId;
  if (run.sessionOpen || sandboxId !== null) {
    if (patched(NON_CANCELLABLE_CLEANUP_PATCH)) await CancellationScope.nonCancellable(() => endAgentSession(run, sandboxId!));
    else await endAgentSession(run, sandboxId!);
  }
  run.state.phase = 'closed';
}

/** The next run's input when this run hands the tab over: its session open, its queue and unused retry carried. */
function nextRunInput(run: TabRun, sandboxId: string): WorkbenchSessionInput {
  const { input, router } = run;
  return {
    taskId: input.taskId,
    sessionId: input.sessionId,
    ...(input.continueAsNewAfterTurns !== undefined ? { continueAsNewAfterTurns: input.continueAsNewAfterTurns } : {}),
    continued: {
      sandboxId,
      ...(router.known(sandboxId) ? { hostTaskQueue: router.known(sandboxId) } : {}),
      sessionOpen: true,
      queuedMessages: [...run.state.queuedMessages],
      retryRequested: run.retryRequested,
    },
  };
}

/** Between turns: whether this run should hand the tab over to a new run now. */
function continueAsNewDue(run: TabRun): boolean {
  const forcedAfter = run.input.continueAsNewAfterTurns;
  return workflowInfo().continueAsNewSuggested || (forcedAfter !== undefined && forcedAfter >= 1 && run.turns >= forcedAfter);
}

/**
 * Opens the tab's agent session (waiting out database outages), waking the sandbox first when it is
 * asleep. `restarted`: the tab had a session that is gone.
 * @throws what the opening failed with; a failed wake as an Error with its reason.
 */
async function openWakingSandbox(run: TabRun, sandboxId: string, restarted: boolean): Promise<{ sandboxSessionId: string }> {
  for (let wakes = 0; ; wakes++) {
    try {
      return await outlastOutages(
        SESSION_ACTIVITY_OPTIONS.open,
        async (o) =>
          onSandbox(await run.router.route(sandboxId, o), `tab: open its agent session in ${sandboxId}`).openAgentSession({
            sessionId: run.sessionId,
            sandboxId,
            ...(restarted ? { restarted } : {}),
          }),
        { patienceMs: DEPENDENCY_PATIENCE_MS },
      );
    } catch (err) {
      if (wakes >= MAX_WAKES_PER_OPENING || describeActivityFailure(err).type !== AGENT_STOPPED || !patched(SANDBOX_WAKE_PATCH)) throw err;
      const notWoken = await wakeSandbox(run, sandboxId);
      if (notWoken !== null) throw new Error(`waking the sandbox failed: ${notWoken}`);
      if (run.closed) throw new Error('the tab was closed');
      run.state.phase = 'creating_session';
    }
  }
}

/**
 * Has the sandbox's lifecycle run resume the sandbox (./sandboxLifecycle.ts) and waits for its answer.
 * @returns null once it is ready (or the tab was closed meanwhile), else why it could not be woken.
 */
async function wakeSandbox(run: TabRun, sandboxId: string): Promise<string | null> {
  const { wake } = run;
  run.state.phase = 'waking_sandbox';
  wake.answer = null;
  await lifecycle(`tab: ask sandbox ${sandboxId}’s lifecycle run to wake it`).requestSandboxResume({ taskId: run.input.taskId, sandboxId, requester: workflowInfo().workflowId });
  await condition(() => run.closed || wake.answer !== null);
  if (run.closed || wake.answer!.ok) return null;
  return wake.answer!.message ?? 'the sandbox could not be woken';
}

/** Ends the tab's agent session in `sandboxId`. */
async function endAgentSession(run: TabRun, sandboxId: string): Promise<void> {
  return onSandbox(await run.router.route(sandboxId, MIRROR_ACTIVITY_OPTIONS), `tab: end its agent session in ${sandboxId}`).endAgentSession({ sessionId: run.sessionId });
}

/** Records a status change of the tab (Postgres row and task history), once per run and change. */
function transition(run: TabRun, t: Omit<SessionTransitionInput, 'sessionId' | 'dedupeKey'>): Promise<void> {
  return mirror(`mirror: tab ${t.status}`).recordSessionTransition({ ...t, sessionId: run.sessionId, dedupeKey: `${run.runKey}:${++run.transitions}:${t.status}` });
}

/** Shows the tab in `error` with `message`, then waits until it is retried (and takes the retry) or closed. */
async function fail(run: TabRun, message: string): Promise<void> {
  run.state.phase = 'error';
  run.state.error = message;
  await transition(run, { status: 'error', errorMessage: message });
  await condition(() => run.closed || run.retryRequested);
  run.retryRequested = false;
}

function failureMessage(err: unknown): string {
  return describeActivityFailure(err).message;
}
