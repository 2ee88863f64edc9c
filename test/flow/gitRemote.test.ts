/**
 * Git remotes on the real stack (transient vs final failures, docs/ARCHITECTURE.md#git-remote-unreachable): a task whose git://
 * repository is served by a `git daemon` on loopback that is down when the task starts retries its
 * naming step and reaches `running` once the daemon is up; a repository the daemon does not serve ends
 * the task in `error` after one attempt.
 */
import { mkdtempSync } from 'node:fs';
import path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { sandboxGit } from '../support/sandboxGit';
import { createBareRepo, createGitDaemon, type GitDaemon } from '../support/gitDaemon';
import { runOf } from '../../src/dev/stack/runs';
import { getJson, postJson, startServices, type TestServices } from '../../src/dev/stack/services';
import { localActivities } from '../support/histories';

type HistoryEvent = NonNullable<Awaited<ReturnType<WorkflowHandle['fetchHistory']>>['events']>[number];
type PendingActivity = NonNullable<Awaited<ReturnType<WorkflowHandle['describe']>>['raw']['pendingActivities']>[number];

/** The `ensureName` activity's scheduled, started and closing events in a run's history, per schedule. */
async function ensureNameSchedules(handle: WorkflowHandle) {
  const events: HistoryEvent[] = (await handle.fetchHistory()).events ?? [];
  const byScheduled = (e: HistoryEvent) =>
    String(
      e.activityTaskStartedEventAttributes?.scheduledEventId ??
        e.activityTaskCompletedEventAttributes?.scheduledEventId ??
        e.activityTaskFailedEventAttributes?.scheduledEventId ??
        '',
    );
  return events
    .filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'ensureName')
    .map((scheduled) => {
      const id = String(scheduled.eventId);
      const related = events.filter((e) => byScheduled(e) === id);
      return {
        started: related.find((e) => e.activityTaskStartedEventAttributes)?.activityTaskStartedEventAttributes,
        completed: related.find((e) => e.activityTaskCompletedEventAttributes)?.activityTaskCompletedEventAttributes,
        failed: related.find((e) => e.activityTaskFailedEventAttributes)?.activityTaskFailedEventAttributes,
      };
    });
}

describe('tasks on a git:// remote that blinks', () => {
  let services: TestServices;
  let daemon: GitDaemon;

  beforeAll(async () => {
    services = await startServices({ repositoryPolicy: { allowGitProtocol: true } });
    const base = mkdtempSync(path.join(services.stack.workDir, 'git-daemon-'));
    daemon = await createGitDaemon(path.join(base, 'served'));
    await createBareRepo(daemon.baseDir, 'app.git', ['feature-x']);
  });

  afterAll(async () => {
    await daemon?.stop();
    await services?.stop();
  });

  const url = (p: string) => `${services.baseUrl}${p}`;

  it('retries naming while the daemon is down, then reaches running with a clone on the task branch', async () => {
    await daemon.stop();
    const repository = daemon.url('app.git');
    const created = await postJson(url('/v1/tasks'), { workspaceId: 'ws-git-remote', repository, prompt: 'Add a health check' });
    expect(created.status).toBe(201);
    const taskId: string = created.body.id;
    const handle = await runOf(services.temporal, created.body.workflowId);

    // The naming step failed once (connection refused) and waits for its retry: Temporal shows the
    // pending activity with its last failure.
    let pending: PendingActivity | undefined;
    for (const deadline = Date.now() + 30_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 50))) {
      pending = (await handle.describe()).raw.pendingActivities?.find((a) => a.activityType?.name === 'ensureName' && a.lastFailure);
      if (pending) break;
    }
    expect(pending?.lastFailure).toMatchObject({
      message: `repository ${repository} cannot be reached: connection refused`,
      applicationFailureInfo: { type: 'ProviderUnavailable', nonRetryable: false },
    });
    expect((await getJson(url(`/v1/tasks/${taskId}`))).body.status).toBe('init_ensure_name');

    await daemon.start();
    expect(await handle.result()).toMatchObject({ status: 'running' });

    const task = (await getJson(url(`/v1/tasks/${taskId}`))).body;
    expect(task.status).toBe('running');
    expect(task.branchName).toEqual(expect.any(String));
    const sandbox = await services.prisma.sandbox.findUniqueOrThrow({ where: { id: task.activeSandboxId } });
    expect((await sandboxGit(sandbox.directory!).revparse(['--abbrev-ref', 'HEAD'])).trim()).toBe(task.branchName);
    expect((await sandboxGit(sandbox.directory!).remote(['get-url', 'origin']))?.trim()).toBe(repository);

    // The history: the local first attempt failed (ProviderUnavailable), then one schedule of ensureName,
    // completed on a later attempt after ProviderUnavailable; no task.error.
    expect(localActivities((await handle.fetchHistory()).events ?? []).filter((a) => a.type === 'ensureName')).toEqual([
      expect.objectContaining({ attempt: 1, failure: expect.objectContaining({ applicationFailureInfo: expect.objectContaining({ type: 'ProviderUnavailable' }) }) }),
    ]);
    const schedules = await ensureNameSchedules(handle);
    expect(schedules).toHaveLength(1);
    expect(schedules[0]!.completed).toBeDefined();
    expect(schedules[0]!.started?.attempt).toBeGreaterThanOrEqual(2);
    expect(schedules[0]!.started?.lastFailure?.applicationFailureInfo?.type).toBe('ProviderUnavailable');
    const events = (await getJson(url(`/v1/tasks/${taskId}/events?limit=500`))).body.items as Array<{ type: string }>;
    expect(events.map((e) => e.type)).not.toContain('task.error');
    expect(events.map((e) => e.type)).toContain('task.initialized');
  });

  it('ends in error after one attempt when the daemon does not serve the repository', async () => {
    await daemon.start();
    const repository = daemon.url('missing.git');
    const created = await postJson(url('/v1/tasks'), { workspaceId: 'ws-git-remote', repository, prompt: 'Add a health check' });
    expect(created.status).toBe(201);
    const handle = await runOf(services.temporal, created.body.workflowId);
    await expect(handle.result()).rejects.toThrow();

    const task = (await getJson(url(`/v1/tasks/${created.body.id}`))).body;
    expect(task.status).toBe('error');
    expect(task.statusMessage).toBe(`init_ensure_name failed: repository ${repository} cannot be read: not found or not exported`);
    const events = (await getJson(url(`/v1/tasks/${created.body.id}/events`))).body.items as Array<{ type: string; payload: Record<string, unknown> }>;
    expect(events.map((e) => e.type)).toEqual(['task.created', 'task.step', 'task.error']);
    expect(events[2]!.payload).toMatchObject({ step: 'init_ensure_name', type: 'RepositoryNotFound' });

    // One attempt, the local one (a final failure is not handed to a regular activity): nothing scheduled.
    expect(await ensureNameSchedules(handle)).toHaveLength(0);
    const naming = localActivities((await handle.fetchHistory()).events ?? []).filter((a) => a.type === 'ensureName');
    expect(naming).toEqual([
      { type: 'ensureName', attempt: 1, failure: expect.objectContaining({ applicationFailureInfo: expect.objectContaining({ type: 'RepositoryNotFound', nonRetryable: true }) }) },
    ]);
    expect(await services.prisma.sandbox.count({ where: { taskId: created.body.id } })).toBe(0);
  });
});
