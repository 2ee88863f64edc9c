/**
 * Idempotency-Key on POST /v1/tasks and POST /v1/tasks/:id/sessions: a repeated or concurrent
 * duplicate returns the first request's resource and creates nothing new; the same key with a
 * different body is 422.
 */
import { authedFetch } from '../../src/dev/stack/auth';
import path from 'node:path';
import { createTestRepo } from '../../src/dev/stack/gitRepo';
import { startServices, type TestServices } from '../../src/dev/stack/services';
import { runOf } from '../../src/dev/stack/runs';

describe('Idempotency-Key', () => {
  let services: TestServices;
  let repo: string;

  beforeAll(async () => {
    services = await startServices();
    repo = await createTestRepo(path.join(services.repoRoot, 'repo'));
  });
  afterAll(async () => {
    const tasks = await services.prisma.task.findMany({ where: { workspaceId: { startsWith: 'ws-idem' } } });
    await Promise.all(tasks.map(async (t) => (await runOf(services.temporal, t.workflowId)).result().catch(() => undefined)));
    await services?.stop();
  });

  const post = async (p: string, body: unknown, key?: string) => {
    const res = await authedFetch(`${services.baseUrl}${p}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(key === undefined ? {} : { 'idempotency-key': key }) },
      body: JSON.stringify(body),
    });
    return { status: res.status, replayed: res.headers.get('idempotent-replayed'), body: (await res.json()) as any };
  };
  // Tasks and their `task.created` events: the first task's provisioning keeps appending its own
  // step events in the background, which a duplicate request has nothing to do with.
  const counts = async (workspaceId: string) => ({
    tasks: await services.prisma.task.count({ where: { workspaceId } }),
    events: await services.prisma.taskEvent.count({ where: { task: { workspaceId }, type: 'task.created' } }),
  });

  it('returns the first task for a repeated request and creates nothing new', async () => {
    const body = { workspaceId: 'ws-idem-1', repository: repo, prompt: 'Only once' };
    const first = await post('/v1/tasks', body, 'key-1');
    expect(first).toMatchObject({ status: 201, replayed: null });
    const before = await counts('ws-idem-1');
    const again = await post('/v1/tasks', { prompt: 'Only once', repository: repo, workspaceId: 'ws-idem-1' }, 'key-1'); // same body, other key order
    expect(again).toMatchObject({ status: 201, replayed: 'true', body: { id: first.body.id, workflowId: first.body.workflowId } });
    expect(await counts('ws-idem-1')).toEqual(before);
  });

  it('gives 20 concurrent duplicates one task and one run', async () => {
    const body = { workspaceId: 'ws-idem-2', repository: repo, prompt: 'Concurrent' };
    const answers = await Promise.all(Array.from({ length: 20 }, () => post('/v1/tasks', body, 'key-concurrent')));
    expect(answers.map((a) => a.status)).toEqual(Array(20).fill(201));
    expect(new Set(answers.map((a) => a.body.id)).size).toBe(1);
    expect(answers.filter((a) => a.replayed === null)).toHaveLength(1);
    expect(await services.prisma.task.count({ where: { workspaceId: 'ws-idem-2' } })).toBe(1);
    const result = await (await runOf(services.temporal, answers[0]!.body.workflowId)).result();
    expect(result.status).toBe('running');
  });

  it('refuses the same key with a different body (422) and writes nothing', async () => {
    await post('/v1/tasks', { workspaceId: 'ws-idem-3', repository: repo, prompt: 'First body' }, 'key-3');
    const before = await counts('ws-idem-3');
    const other = await post('/v1/tasks', { workspaceId: 'ws-idem-3', repository: repo, prompt: 'Second body' }, 'key-3');
    expect(other).toMatchObject({ status: 422, body: { error: { code: 'idempotency_key_reused', field: 'header.idempotency-key' } } });
    expect(await counts('ws-idem-3')).toEqual(before);
    // Keys are per workspace: the same key in another workspace is a new request.
    expect((await post('/v1/tasks', { workspaceId: 'ws-idem-3b', repository: repo, prompt: 'Second body' }, 'key-3')).replayed).toBeNull();
  });

  it('validates the header', async () => {
    const bad = await post('/v1/tasks', { workspaceId: 'ws-idem-4', repository: repo, prompt: 'x' }, 'has space');
    expect(bad).toMatchObject({ status: 400, body: { error: { code: 'validation_failed', field: 'header.idempotency-key' } } });
    expect(await services.prisma.task.count({ where: { workspaceId: 'ws-idem-4' } })).toBe(0);
  });

  it('applies to opening tabs too', async () => {
    const task = (await post('/v1/tasks', { workspaceId: 'ws-idem-5', repository: repo, prompt: 'Tabs' })).body;
    const tabs = await Promise.all(Array.from({ length: 5 }, () => post(`/v1/tasks/${task.id}/sessions`, { agent: 'offline' }, 'tab-key')));
    expect(new Set(tabs.map((t) => t.body.id)).size).toBe(1);
    expect(tabs.every((t) => t.status === 201)).toBe(true);
    expect(await services.prisma.workbenchSession.count({ where: { taskId: task.id } })).toBe(1);
    expect((await post(`/v1/tasks/${task.id}/sessions`, { agent: 'amp' }, 'tab-key')).status).toBe(422);
    await (await runOf(services.temporal, task.workflowId)).result();
    await authedFetch(`${services.baseUrl}/v1/tasks/${task.id}/sessions/${tabs[0]!.body.id}`, { method: 'DELETE' });
    await (await runOf(services.temporal, `workbench-${tabs[0]!.body.id}`)).result();
  });
});
