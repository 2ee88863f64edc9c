/**
 * POST /v1/tasks/:id/archive stops the agent and releases the sandbox but keeps the record and its
 * history: the task ends in `archived` with a `task.archive` event, the default list hides it and
 * `include=archived` shows it. Archive and kill meet sensibly: archiving a killed task only flips its
 * status, killing an archived task changes nothing.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { tokenFor } from '../../src/dev/stack/auth';
import { createTestRepo } from '../../src/dev/stack/gitRepo';
import { runOf } from '../../src/dev/stack/runs';
import { getJson, postJson, startServices, type TestServices } from '../../src/dev/stack/services';
import { isProcessAlive } from '../../src/providers/local/sandboxAgentProcess';

describe('archiving a task', () => {
  let services: TestServices;
  let repo: string;
  const workspaceId = 'ws-archive';

  beforeAll(async () => {
    services = await startServices();
    repo = await createTestRepo(path.join(services.repoRoot, 'repo'));
  });
  afterAll(async () => {
    await services?.stop();
  });

  const url = (p: string) => `${services.baseUrl}${p}`;
  const createRunning = async (prompt: string) => {
    const created = (await postJson(url('/v1/tasks'), { workspaceId, repository: repo, prompt })).body;
    await (await runOf(services.temporal, created.workflowId)).result();
    return created as { id: string; workflowId: string };
  };
  const runAndWait = async (action: 'archive' | 'kill', taskId: string) => {
    const res = await postJson(url(`/v1/tasks/${taskId}/${action}`), {});
    expect(res.status).toBe(202);
    await (await runOf(services.temporal, `${action}-task-${taskId}`)).result();
    return (await getJson(url(`/v1/tasks/${taskId}`))).body;
  };
  const events = async (taskId: string) => (await getJson(url(`/v1/tasks/${taskId}/events?limit=500`))).body.items as Array<{ type: string; payload: any }>;
  const listed = async (query = '') => ((await getJson(url(`/v1/tasks?workspaceId=${workspaceId}&limit=100${query}`))).body.items as Array<{ id: string }>).map((t) => t.id);

  it('archives a running task: agent stopped, sandbox released, record and history kept, hidden from the default list', async () => {
    const created = await createRunning('Archive me');
    const sandbox = await services.prisma.sandbox.findFirstOrThrow({ where: { taskId: created.id } });
    const pid = (sandbox.details as { agentPid: number }).agentPid;
    expect(isProcessAlive(pid)).toBe(true);
    expect(services.local.agentProcesses(sandbox.id).length).toBeGreaterThan(0);
    const tab = (await postJson(url(`/v1/tasks/${created.id}/sessions`), { agent: 'offline' })).body;
    expect(await listed()).toContain(created.id);

    const task = await runAndWait('archive', created.id);
    expect(task).toMatchObject({ id: created.id, status: 'archived', statusMessage: 'archived' });
    expect(isProcessAlive(pid)).toBe(false);
    expect(services.local.agentProcesses(sandbox.id)).toEqual([]);
    expect(services.local.sandboxProcesses(sandbox.id)).toEqual([]);
    expect(existsSync(path.dirname(sandbox.directory!))).toBe(false);
    expect((await services.prisma.sandbox.findUniqueOrThrow({ where: { id: sandbox.id } })).state).toBe('destroyed');
    expect((await services.prisma.workbenchSession.findUniqueOrThrow({ where: { id: tab.id } })).closed).toBe(true);

    // Record and history are kept; the archive is the last event.
    const history = await events(created.id);
    expect(history[0]!.type).toBe('task.created');
    expect(history.some((e) => e.type === 'task.initialized')).toBe(true);
    expect(history[history.length - 1]).toMatchObject({ type: 'task.archive', payload: { provisioningCancelled: false, tabsClosed: 1, sandboxesDestroyed: 1 } });
    expect(history.some((e) => e.type === 'task.kill')).toBe(false);

    expect(await listed()).not.toContain(created.id);
    expect(await listed('&include=archived')).toContain(created.id);
    expect((await getJson(url(`/v1/tasks?workspaceId=${workspaceId}&include=all`))).body.error).toMatchObject({ code: 'validation_failed', field: 'query.include' });

    // A second archive, and a kill of the archived task, change nothing.
    const seq = task.lastEventSeq;
    const again = await postJson(url(`/v1/tasks/${created.id}/archive`), {});
    expect(again).toMatchObject({ status: 202, body: { status: 'archived', lastEventSeq: seq } });
    const kill = await postJson(url(`/v1/tasks/${created.id}/kill`), {});
    expect(kill).toMatchObject({ status: 202, body: { status: 'archived', lastEventSeq: seq } });
    await new Promise((r) => setTimeout(r, 300));
    expect((await getJson(url(`/v1/tasks/${created.id}`))).body).toMatchObject({ status: 'archived', lastEventSeq: seq });
  });

  it('archiving a killed task only flips its status to archived', async () => {
    const created = await createRunning('Kill, then archive me');
    const killed = await runAndWait('kill', created.id);
    expect(killed.status).toBe('killed');
    const archived = await runAndWait('archive', created.id);
    expect(archived).toMatchObject({ status: 'archived', lastEventSeq: killed.lastEventSeq + 1 });
    const history = await events(created.id);
    expect(history.slice(-2)).toMatchObject([
      { type: 'task.kill', payload: { sandboxesDestroyed: 1 } },
      { type: 'task.archive', payload: { provisioningCancelled: false, tabsClosed: 0, sandboxesDestroyed: 0 } },
    ]);
  });

  it("answers 404 for another workspace's task, like a missing one", async () => {
    const created = await createRunning('Not yours to archive');
    const res = await fetch(url(`/v1/tasks/${created.id}/archive`), { method: 'POST', headers: { authorization: `Bearer ${tokenFor('ws-archive-other')}` } });
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('task_not_found');
    expect((await getJson(url(`/v1/tasks/${created.id}`))).body.status).toBe('running');
    expect(
      await services.temporal.workflow
        .getHandle(`archive-task-${created.id}`)
        .describe()
        .catch(() => null),
    ).toBeNull();
  });
});
