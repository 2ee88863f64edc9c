/**
 * The `provisionTask` state machine with stubbed activities (./stubWorker.ts): a kill (cancellation
 * of the run) while a step's activity is in flight ends the run cancelled, records no `error`, and
 * the step's activity learns of it through its heartbeats.
 */
import { randomUUID } from 'node:crypto';
import { WorkflowFailedError } from '@temporalio/client';
import { CancelledFailure, Context } from '@temporalio/activity';
import type { ProvisionActivities } from '../../src/workflows/provisionTask.contract';
import { provisionTask } from '../../src/workflows/provisionTask';
import type { WorkbenchActivities } from '../../src/workflows/workbenchSession.contract';
import { StubCalls, installRuntime, withStubWorker } from './stubWorker';

type ProvisionStubs = ProvisionActivities & Pick<WorkbenchActivities, 'releasePendingSessions'>;

describe('provisionTask with stubbed activities', () => {
  beforeAll(installRuntime);

  it('killed (cancelled) during a step: the run ends cancelled, no error transition, the step activity saw the cancellation', async () => {
    const calls = new StubCalls();
    let seq = 0;
    const stubs: ProvisionStubs = {
      recordTransition: async (input) => {
        calls.record('recordTransition', input);
        return { seq: ++seq };
      },
      recordTransitions: async (input) => {
        calls.record('recordTransitions', input);
        seq += input.transitions.length;
        return { seq };
      },
      handOverProvisioning: async (input) => {
        calls.record('handOverProvisioning', input);
      },
      ensureName: async (input) => {
        calls.record('ensureName', input);
        return { title: 'Add a health endpoint', branchName: 'add-a-health-endpoint' };
      },
      createSandbox: async (input) => {
        calls.record('createSandbox', input);
        const ctx = Context.current();
        // Heartbeats carry the cancellation to the activity; it waits for nothing else.
        const beat = setInterval(() => ctx.heartbeat(), 50);
        try {
          return await ctx.cancelled;
        } catch (err) {
          calls.record(err instanceof CancelledFailure ? 'createSandbox:cancelled' : 'createSandbox:failed', input);
          throw err;
        } finally {
          clearInterval(beat);
        }
      },
      ensureAgent: async (input) => {
        calls.record('ensureAgent', input);
        return { endpoint: 'http://127.0.0.1:1' };
      },
      createSession: async (input) => {
        calls.record('createSession', input);
        return { sessionId: 'agent-session-1', agent: 'claude' };
      },
      releasePendingSessions: async (input) => {
        calls.record('releasePendingSessions', input);
        return { signalled: 0 };
      },
    };
    const taskId = `task-${randomUUID()}`;
    await withStubWorker(stubs, async ({ client, taskQueue }) => {
      const run = await client.workflow.start(provisionTask, { taskQueue, workflowId: `provision-task-${taskId}`, args: [{ taskId }] });
      await calls.waitFor((c) => c.name === 'createSandbox');
      await run.cancel();
      const failure = await run.result().then(
        () => null,
        (err: unknown) => err,
      );
      expect(failure).toBeInstanceOf(WorkflowFailedError);
      expect((failure as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
      expect((await run.describe()).status.name).toBe('CANCELLED');
      await calls.waitFor((c) => c.name === 'createSandbox:cancelled');
    });
    // Naming writes its own start; a step's end is written with the next step's start, in one local activity.
    const statusAndType = (transitions: Array<{ status: string; event: { type: string } }>) => transitions.map((t) => [t.status, t.event.type]);
    expect(calls.names()).toEqual(['ensureName', 'recordTransitions', 'createSandbox', 'createSandbox:cancelled']);
    expect(statusAndType(calls.of('ensureName')[0]!.input.started)).toEqual([['init_ensure_name', 'task.step']]);
    expect(calls.of('recordTransitions').map((c) => statusAndType(c.input.transitions))).toEqual([
      [
        ['init_ensure_name', 'task.named'],
        ['init_create_sandbox', 'task.step'],
      ],
    ]);
  });
});
