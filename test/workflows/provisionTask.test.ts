/**
 * The `provisionTask` state machine with stubbed activities (./stubWorker.ts): a kill (cancellation
 * of the run) while a step's activity is in flight ends the run cancelled, records no `error`, and
 * the step's activity learns of it through its heartbeats; a naming that leaves its local first
 * attempt for the task queue shows `init_ensure_name` as the run's `TaskStatus` while it waits there.
 */
import { randomUUID } from 'node:crypto';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure, CancelledFailure, Context } from '@temporalio/activity';
import { defaultPayloadConverter } from '@temporalio/common';
import type { ProvisionActivities } from '../../src/workflows/provisionTask.contract';
import { provisionTask } from '../../src/workflows/provisionTask';
import type { WorkbenchActivities } from '../../src/workflows/workbenchSession.contract';
import { StubCalls, installRuntime, withStubWorker } from './stubWorker';

type ProvisionStubs = ProvisionActivities & Pick<WorkbenchActivities, 'releasePendingSessions'>;

/**
 * Stubs of every provisioning activity that record their calls in `calls` and succeed at once, with
 * `overrides` in place of some.
 */
function recordingStubs(calls: StubCalls, overrides: Partial<ProvisionStubs> = {}): ProvisionStubs {
  let seq = 0;
  return {
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
      return { sandboxId: input.sandboxId ?? 'sandbox-1', directory: '/sandbox/repo', provider: 'local' };
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
    ...overrides,
  };
}

describe('provisionTask with stubbed activities', () => {
  beforeAll(installRuntime);

  it('killed (cancelled) during a step: the run ends cancelled, no error transition, the step activity saw the cancellation', async () => {
    const calls = new StubCalls();
    const stubs = recordingStubs(calls, {
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
    });
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
  it('naming retried on the task queue: TaskStatus shows init_ensure_name while it waits there, then each status the run rested in', async () => {
    const calls = new StubCalls();
    let namings = 0;
    const stubs = recordingStubs(calls, {
      ensureName: async (input) => {
        calls.record('ensureName', input);
        if (++namings === 1) throw ApplicationFailure.retryable('the git host did not answer (injected)', 'ProviderUnavailable');
        return { title: 'Add a health endpoint', branchName: 'add-a-health-endpoint' };
      },
    });
    const taskId = `task-${randomUUID()}`;
    const history = await withStubWorker(stubs, async ({ client, taskQueue }) => {
      const run = await client.workflow.start(provisionTask, { taskQueue, workflowId: `provision-task-${taskId}`, args: [{ taskId }] });
      expect(await run.result()).toMatchObject({ status: 'running' });
      return run.fetchHistory();
    });
    // The first attempt was local; the second a scheduled activity, after the upsert that shows it.
    const shown = (history.events ?? []).flatMap((e) => {
      const status = e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields?.TaskStatus;
      if (status) return [`TaskStatus=${defaultPayloadConverter.fromPayload<string>(status)}`];
      const scheduled = e.activityTaskScheduledEventAttributes?.activityType?.name;
      return scheduled ? [`scheduled ${scheduled}`] : [];
    });
    expect(shown).toEqual([
      'TaskStatus=init_ensure_name',
      'scheduled ensureName',
      'TaskStatus=init_create_sandbox',
      'scheduled createSandbox',
      'TaskStatus=init_ensure_agent',
      'scheduled ensureAgent',
      'TaskStatus=init_create_session',
      'scheduled createSession',
      'TaskStatus=running',
    ]);
    // Both attempts carried the step's start; it is written once (by its dedupe key).
    expect(calls.of('ensureName').map((c) => c.input.started.map((t: { event: { dedupeKey: string } }) => t.event.dedupeKey))).toEqual([
      [expect.stringMatching(/:init_ensure_name:started$/)],
      [expect.stringMatching(/:init_ensure_name:started$/)],
    ]);
  });
});
