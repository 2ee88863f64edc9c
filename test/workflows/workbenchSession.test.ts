/**
 * The `workbenchSession` state machine with stubbed activities (./stubWorker.ts): the edges a full
 * stack reaches only slowly or by luck — closed while the agent session is being opened, a failed
 * turn and its retry, provisioning that failed before it succeeded, a cancelled run's clean-up, and a
 * run that continues as new with a message still queued. Each test asserts the stub calls and recorded transitions, in order.
 */
import { randomUUID } from 'node:crypto';
import { WorkflowFailedError, type Client } from '@temporalio/client';
import { ApplicationFailure, CancelledFailure, defaultPayloadConverter } from '@temporalio/common';
import {
  closeSessionSignal,
  provisioningFailedSignal,
  retrySessionSignal,
  sandboxReadySignal,
  sendMessageSignal,
  workbenchSessionStateQuery,
  type WorkbenchActivities,
  type WorkbenchSessionInput,
} from '../../src/workflows/workbenchSession.contract';
import { workbenchSession } from '../../src/workflows/workbenchSession';
import { Gate } from '../../src/dev/stack/gate';
import { StubCalls, installRuntime, withStubWorker, type StubCall } from './stubWorker';

/** Stubs of every workbench activity: each records its call, then does what `overrides` says (default: succeeds at once). */
function workbenchStubs(calls: StubCalls, overrides: Partial<WorkbenchActivities> = {}): WorkbenchActivities {
  let opened = 0;
  const defaults: WorkbenchActivities = {
    resolveSessionSandbox: async () => ({ kind: 'ready', sandboxId: 'sandbox-1' }),
    recordSessionTransition: async () => undefined,
    openAgentSession: async () => ({ sandboxSessionId: `agent-session-${++opened}` }),
    undeliveredMessages: async () => [],
    promptAgent: async () => ({ stopReason: 'end_turn' }),
    endAgentSession: async () => undefined,
    releasePendingSessions: async () => ({ signalled: 0 }),
  };
  const stubs = { ...defaults, ...overrides };
  return Object.fromEntries(
    Object.entries(stubs).map(([name, fn]) => [
      name,
      async (input: unknown) => {
        calls.record(name, input);
        return (fn as (i: unknown) => Promise<unknown>)(input);
      },
    ]),
  ) as unknown as WorkbenchActivities;
}

const isTransition = (status: string) => (c: StubCall) => c.name === 'recordSessionTransition' && c.input.status === status;
const transitions = (calls: StubCalls) => calls.of('recordSessionTransition').map((c) => c.input);

async function startTab(client: Client, taskQueue: string, input: Partial<WorkbenchSessionInput> = {}) {
  const sessionId = `session-${randomUUID()}`;
  return client.workflow.start(workbenchSession, { taskQueue, workflowId: `workbench-${sessionId}`, args: [{ taskId: 'task-1', sessionId, ...input }] });
}

describe('workbenchSession with stubbed activities', () => {
  beforeAll(installRuntime);

  it('closed while its agent session is being opened: the session that opened is ended, no prompt is sent, the run completes', async () => {
    const calls = new StubCalls();
    const opening = new Gate();
    const stubs = workbenchStubs(calls, {
      openAgentSession: async () => {
        await opening.pass();
        return { sandboxSessionId: 'agent-session-1' };
      },
    });
    await withStubWorker(stubs, async ({ client, taskQueue }) => {
      const tab = await startTab(client, taskQueue);
      await opening.entered;
      await tab.signal(closeSessionSignal); // in the history before the open completes
      opening.open();
      await tab.result();
      expect(await tab.query(workbenchSessionStateQuery)).toMatchObject({ phase: 'closed', sandboxId: 'sandbox-1' });
    });
    expect(calls.names()).toEqual(['resolveSessionSandbox', 'recordSessionTransition', 'openAgentSession', 'endAgentSession']);
    expect(transitions(calls)).toEqual([expect.objectContaining({ status: 'pending_session_create', sandboxId: 'sandbox-1' })]);
    expect(calls.of('promptAgent')).toEqual([]);
  });

  it('a failed turn shows the tab in error and ends its session; retrySession opens a new one and the tab is ready again', async () => {
    const calls = new StubCalls();
    const stubs = workbenchStubs(calls, {
      promptAgent: async () => {
        throw ApplicationFailure.nonRetryable('the agent went away', 'AgentGone');
      },
    });
    await withStubWorker(stubs, async ({ client, taskQueue }) => {
      const tab = await startTab(client, taskQueue);
      await calls.waitFor(isTransition('ready'));
      await tab.signal(sendMessageSignal, { entryIndex: 1 });
      await calls.waitFor(isTransition('error'));
      expect(await tab.query(workbenchSessionStateQuery)).toMatchObject({ phase: 'error', error: 'the agent turn failed: the agent went away' });
      await tab.signal(retrySessionSignal);
      await calls.waitFor(isTransition('ready'), 2);
      await tab.signal(closeSessionSignal);
      await tab.result();
    });
    expect(calls.names()).toEqual([
      'resolveSessionSandbox',
      'recordSessionTransition', // pending_session_create
      'openAgentSession',
      'recordSessionTransition', // ready
      'undeliveredMessages',
      'promptAgent',
      'endAgentSession', // the failed turn's session
      'recordSessionTransition', // error
      'recordSessionTransition', // pending_session_create (the retry)
      'openAgentSession',
      'recordSessionTransition', // ready
      'undeliveredMessages',
      'endAgentSession', // closed
    ]);
    expect(transitions(calls).map((t) => [t.status, t.errorMessage ?? t.sandboxSessionId ?? null])).toEqual([
      ['pending_session_create', null],
      ['ready', 'agent-session-1'],
      ['error', 'the agent turn failed: the agent went away'],
      ['pending_session_create', null],
      ['ready', 'agent-session-2'],
    ]);
    expect(calls.of('promptAgent').map((c) => c.input.entryIndex)).toEqual([1]); // a failed turn is not sent again
    const keys = transitions(calls).map((t) => t.dedupeKey);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('provisioning failed: the tab shows error; a later sandboxReady (the task retried) opens its session and it is ready', async () => {
    const calls = new StubCalls();
    const stubs = workbenchStubs(calls, { resolveSessionSandbox: async () => ({ kind: 'pending' }) });
    await withStubWorker(stubs, async ({ client, taskQueue }) => {
      const tab = await startTab(client, taskQueue);
      await calls.waitFor((c) => c.name === 'resolveSessionSandbox');
      await tab.signal(provisioningFailedSignal, { message: 'init_ensure_name failed: repository /x cannot be read' });
      await calls.waitFor(isTransition('error'));
      expect(await tab.query(workbenchSessionStateQuery)).toMatchObject({ phase: 'error', sandboxId: null });
      await tab.signal(sandboxReadySignal, { sandboxId: 'sandbox-2' });
      await calls.waitFor(isTransition('ready'));
      expect(await tab.query(workbenchSessionStateQuery)).toMatchObject({ phase: 'ready', sandboxId: 'sandbox-2', error: null });
      await tab.signal(closeSessionSignal);
      await tab.result();
    });
    expect(transitions(calls).map(({ status, errorMessage, sandboxId, sandboxSessionId }) => ({ status, errorMessage, sandboxId, sandboxSessionId }))).toEqual([
      { status: 'error', errorMessage: "the task's provisioning failed: init_ensure_name failed: repository /x cannot be read", sandboxId: undefined, sandboxSessionId: undefined },
      { status: 'pending_session_create', errorMessage: null, sandboxId: 'sandbox-2', sandboxSessionId: undefined },
      { status: 'ready', errorMessage: undefined, sandboxId: undefined, sandboxSessionId: 'agent-session-1' },
    ]);
    expect(calls.of('openAgentSession').map((c) => c.input.sandboxId)).toEqual(['sandbox-2']);
    expect(calls.names().slice(-1)).toEqual(['endAgentSession']);
  });

  it('cancelled while ready: the clean-up still ends the agent session (non-cancellable), then the run ends cancelled', async () => {
    const calls = new StubCalls();
    await withStubWorker(workbenchStubs(calls), async ({ client, taskQueue }) => {
      const tab = await startTab(client, taskQueue);
      await calls.waitFor((c) => c.name === 'undeliveredMessages'); // the last call before it waits for messages
      await tab.cancel();
      const failure = await tab.result().then(
        () => null,
        (err: unknown) => err,
      );
      expect(failure).toBeInstanceOf(WorkflowFailedError);
      expect((failure as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
    });
    expect(calls.names()).toEqual(['resolveSessionSandbox', 'recordSessionTransition', 'openAgentSession', 'recordSessionTransition', 'undeliveredMessages', 'endAgentSession']);
  });

  it('continues as new between turns with a message queued: the next run sends it exactly once and opens no second session', async () => {
    const calls = new StubCalls();
    const firstTurn = new Gate();
    const stubs = workbenchStubs(calls, {
      promptAgent: async ({ entryIndex }) => {
        if (entryIndex === 1) await firstTurn.pass();
        return { stopReason: 'end_turn' };
      },
    });
    let runs: string[] = [];
    await withStubWorker(stubs, async ({ client, taskQueue }) => {
      // Forced after every turn: Temporal itself suggests it only near its history limits.
      const tab = await startTab(client, taskQueue, { continueAsNewAfterTurns: 1 });
      await calls.waitFor(isTransition('ready'));
      await tab.signal(sendMessageSignal, { entryIndex: 1 });
      await firstTurn.entered;
      await tab.signal(sendMessageSignal, { entryIndex: 2 }); // queued behind the turn in progress
      firstTurn.open();
      await calls.waitFor((c) => c.name === 'promptAgent' && c.input.entryIndex === 2);
      // The second run continues as new after its turn too; close the tab once the third run serves it.
      for (;;) {
        const { runId } = await tab.describe();
        if (!calls.all.some((c) => c.runId === runId)) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      await tab.signal(closeSessionSignal);
      await tab.result(); // follows the runs to the last one
      runs = [...new Set(calls.all.map((c) => c.runId))];
      expect(runs).toHaveLength(3);
      for (const runId of runs.slice(0, 2)) expect((await client.workflow.getHandle(tab.workflowId, runId).describe()).status.name).toBe('CONTINUED_AS_NEW');
      expect((await tab.describe()).status.name).toBe('COMPLETED');
      const { events } = await client.workflow.getHandle(tab.workflowId, runs[1]).fetchHistory();
      const secondInput = defaultPayloadConverter.fromPayload(events![0]!.workflowExecutionStartedEventAttributes!.input!.payloads![0]!);
      expect(secondInput).toMatchObject({ continueAsNewAfterTurns: 1, continued: { sandboxId: 'sandbox-1', sessionOpen: true, queuedMessages: [2], retryRequested: false } });
    });
    const [first, second, third] = runs;
    const byRun = (runId: string | undefined) => calls.all.filter((c) => c.runId === runId).map((c) => (c.name === 'promptAgent' ? `promptAgent(${c.input.entryIndex})` : c.name));
    expect(byRun(first)).toEqual(['resolveSessionSandbox', 'recordSessionTransition', 'openAgentSession', 'recordSessionTransition', 'undeliveredMessages', 'promptAgent(1)']);
    expect(byRun(second)).toEqual(['promptAgent(2)']); // no second open, nothing recorded again
    expect(byRun(third)).toEqual(['endAgentSession']);
    expect(transitions(calls).map((t) => t.status)).toEqual(['pending_session_create', 'ready']);
    expect(new Set(calls.all.map((c) => c.workflowId)).size).toBe(1);
  });
});
