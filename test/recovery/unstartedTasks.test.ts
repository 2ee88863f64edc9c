/**
 * The gap between the row and the workflow: a task whose row committed but whose run was never started
 * (the API died in between) is found by the recovery sweep and provisioned; a recent one is left to
 * its request; an already started run is not started twice.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { appendTaskEvent } from '../../src/db/taskEvents';
import { createLogger } from '../../src/logger';
import { pgNotifier } from '../../src/db/notifier';
import { startUnstartedTasks } from '../../src/recovery/unstartedTasks';
import { provisionWorkflowId } from '../../src/workflows/provisionTask.contract';
import { createTestRepo } from '../../src/dev/stack/gitRepo';
import { startServices, type TestServices } from '../../src/dev/stack/services';

describe('recovery of tasks whose run was never started', () => {
  let services: TestServices;
  let repo: string;
  const logger = createLogger('test', 'silent');

  beforeAll(async () => {
    services = await startServices();
    repo = await createTestRepo(path.join(services.repoRoot, 'repo'));
  });
  afterAll(async () => services?.stop());

  /** What POST /v1/tasks commits before it starts the run — as if the process died right after. */
  const commitRowOnly = async (ageMs: number) => {
    const id = randomUUID();
    await services.prisma.$transaction(async (tx) => {
      await tx.task.create({
        data: {
          id,
          workspaceId: 'ws-recovery',
          repository: repo,
          prompt: 'Recover me',
          providerId: 'local',
          agentType: 'claude',
          statusMessage: 'provision queued',
          workflowId: provisionWorkflowId(id),
          createdAt: new Date(Date.now() - ageMs),
        },
      });
      await appendTaskEvent(tx, pgNotifier, {
        taskId: id,
        type: 'task.created',
        payload: { workspaceId: 'ws-recovery', repository: repo, agent: 'claude', provider: 'local', branchName: null },
        dedupeKey: 'created',
      });
    });
    return id;
  };

  it('starts the run of a stale init_enqueue_provision task, which then reaches running', async () => {
    const stale = await commitRowOnly(120_000);
    const fresh = await commitRowOnly(0);
    const started = await startUnstartedTasks({ prisma: services.prisma, temporal: services.temporal, taskQueue: services.taskQueue, logger, minAgeMs: 60_000 });
    expect(started).toContain(stale);
    expect(started).not.toContain(fresh);
    const result = await services.temporal.workflow.getHandle(provisionWorkflowId(stale)).result();
    expect(result.status).toBe('running');
    expect((await services.prisma.task.findUniqueOrThrow({ where: { id: stale } })).status).toBe('running');
    expect((await services.prisma.task.findUniqueOrThrow({ where: { id: fresh } })).status).toBe('init_enqueue_provision');
    await services.prisma.task.delete({ where: { id: fresh } });

    // A second sweep finds nothing to start.
    expect(await startUnstartedTasks({ prisma: services.prisma, temporal: services.temporal, taskQueue: services.taskQueue, logger, minAgeMs: 60_000 })).toEqual([]);
  });

  it('leaves a task alone whose run exists but has not begun yet', async () => {
    const id = await commitRowOnly(120_000);
    // Its run was started on a queue no worker polls, so the task stays in init_enqueue_provision.
    const { startProvisionTask } = await import('../../src/temporal/client');
    const { runId } = await startProvisionTask(services.temporal, { task: await services.prisma.task.findUniqueOrThrow({ where: { id } }), taskQueue: `idle-${id}` });
    try {
      const started = await startUnstartedTasks({ prisma: services.prisma, temporal: services.temporal, taskQueue: services.taskQueue, logger, minAgeMs: 60_000 });
      expect(started).not.toContain(id);
      const description = await services.temporal.workflow.getHandle(provisionWorkflowId(id)).describe();
      expect(description.runId).toBe(runId); // still the first and only run
      expect(description.taskQueue).toBe(`idle-${id}`);
    } finally {
      await services.temporal.workflow.getHandle(provisionWorkflowId(id)).terminate('test cleanup');
      await services.prisma.task.delete({ where: { id } });
    }
  });
});
