/**
 * A step that overruns its per-attempt limit is retried per its policy; when the attempts are spent
 * the task ends in `error` with a message naming the step and the limit. (The limit is shortened
 * through the run's input so the test is quick; the policy's attempts and backoff stay.)
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { STEP_ACTIVITY_OPTIONS } from '../../src/workflows/policies';
import { appendTaskEvent } from '../../src/db/taskEvents';
import { pgNotifier } from '../../src/db/notifier';
import { startProvisionTask } from '../../src/temporal/client';
import { provisionWorkflowId } from '../../src/workflows/provisionTask.contract';
import { gatedProvider } from '../../src/dev/stack/gate';
import { createTestRepo } from '../../src/dev/stack/gitRepo';
import { getJson, startServices, type TestServices } from '../../src/dev/stack/services';
import { runOf } from '../../src/dev/stack/runs';

describe('a step that overruns its limit', () => {
  let services: TestServices;
  let repo: string;
  const agentCalls: number[] = [];

  beforeAll(async () => {
    services = await startServices({
      wrapProvider: (local) => ({
        ...gatedProvider(local, {}),
        // The agent step hangs well past the 1 s limit the run gets, and never starts an agent.
        ensureAgent: async () => {
          agentCalls.push(Date.now());
          await sleep(4_000);
          throw new Error('hung agent start gave up');
        },
      }),
    });
    repo = await createTestRepo(path.join(services.repoRoot, 'repo'));
  });
  afterAll(async () => services?.stop());

  it('retries the timed-out attempt per policy, then ends in error naming the step and the limit', async () => {
    // The task row as POST /v1/tasks commits it, then a run whose agent step has a 1 s limit.
    const id = randomUUID();
    await services.prisma.$transaction(async (tx) => {
      await tx.task.create({
        data: {
          id,
          workspaceId: 'ws-timeouts',
          repository: repo,
          prompt: 'Time out',
          providerId: 'local',
          agentType: 'claude',
          statusMessage: 'provision queued',
          workflowId: provisionWorkflowId(id),
        },
      });
      await appendTaskEvent(tx, pgNotifier, {
        taskId: id,
        type: 'task.created',
        payload: { workspaceId: 'ws-timeouts', repository: repo, agent: 'claude', provider: 'local', branchName: null },
        dedupeKey: 'created',
      });
    });
    await startProvisionTask(services.temporal, {
      task: await services.prisma.task.findUniqueOrThrow({ where: { id } }),
      taskQueue: services.taskQueue,
      stepTimeoutsMs: { init_ensure_agent: 1_000 },
    });
    const created = { body: { id, workflowId: provisionWorkflowId(id) } };

    // While the step is in flight the task shows the shortened limit.
    for (const deadline = Date.now() + 20_000; agentCalls.length === 0 && Date.now() < deadline;) await sleep(20);
    const live = (await getJson(`${services.baseUrl}/v1/tasks/${id}`)).body.provisioning;
    expect(live.currentStep).toBe('init_ensure_agent');
    expect(Date.parse(live.timesOutAt) - Date.parse(live.lastProgressAt)).toBeLessThanOrEqual(1_000);

    await expect((await runOf(services.temporal, created.body.workflowId)).result()).rejects.toThrow();
    const task = (await getJson(`${services.baseUrl}/v1/tasks/${created.body.id}`)).body;
    const attempts = STEP_ACTIVITY_OPTIONS.init_ensure_agent.retry!.maximumAttempts!;
    expect(task.status).toBe('error');
    expect(task.statusMessage).toBe(`init_ensure_agent failed: timed out (start-to-close, limit 1s per attempt, ${attempts} attempts)`);
    expect(agentCalls).toHaveLength(attempts);
    const events = (await getJson(`${services.baseUrl}/v1/tasks/${created.body.id}/events?limit=500`)).body.items;
    expect(events[events.length - 1]).toMatchObject({ type: 'task.error', payload: { step: 'init_ensure_agent', type: 'StepTimeout' } });
  });
});
