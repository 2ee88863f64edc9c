/**
 * POST /v1/tasks/:id/retry: a task in `error` is provisioned again by a new run that reuses what is
 * sound; tabs that showed the failure follow it to `ready`.
 */
import { authedFetch } from '../../src/dev/stack/auth';
import path from 'node:path';
import { createTestRepo } from '../../src/dev/stack/gitRepo';
import { getJson, postJson, startServices, type TestServices } from '../../src/dev/stack/services';
import { runOf } from '../../src/dev/stack/runs';

describe('retrying a failed task', () => {
  let services: TestServices;
  beforeAll(async () => {
    services = await startServices();
  });
  afterAll(async () => services?.stop());

  const url = (p: string) => `${services.baseUrl}${p}`;
  const until = async <T>(read: () => Promise<T>, pred: (v: T) => boolean): Promise<T> => {
    for (const deadline = Date.now() + 60_000; ; await new Promise((r) => setTimeout(r, 100))) {
      const v = await read();
      if (pred(v) || Date.now() > deadline) return v;
    }
  };

  it('provisions again after the cause is fixed, and a waiting tab becomes ready', async () => {
    const repoPath = path.join(services.repoRoot, 'late-repo');
    const created = (await postJson(url('/v1/tasks'), { workspaceId: 'ws-retry', repository: repoPath, prompt: 'Retry me', openSession: true })).body;
    await (await runOf(services.temporal, created.workflowId)).result().catch(() => undefined);
    const failed = (await getJson(url(`/v1/tasks/${created.id}`))).body;
    expect(failed.status).toBe('error');
    const tabId = created.firstSession.id;
    const tabFailed = await until(
      async () => (await getJson(url(`/v1/tasks/${created.id}/sessions/${tabId}`))).body.session,
      (s) => s.status === 'error',
    );
    expect(tabFailed.errorMessage).toMatch(/^the task's provisioning failed: init_ensure_name failed/);

    // Fix the cause, then retry (once: a second retry finds the task no longer in error).
    await createTestRepo(repoPath);
    const retried = await postJson(url(`/v1/tasks/${created.id}/retry`), {});
    expect(retried.status).toBe(202);
    expect(retried.body).toMatchObject({ status: 'init_enqueue_provision', statusMessage: 'provision queued (retry)' });
    const again = await postJson(url(`/v1/tasks/${created.id}/retry`), {});
    expect(again).toMatchObject({ status: 409, body: { error: { code: 'task_not_in_error' } } });

    const result = await (await runOf(services.temporal, created.workflowId)).result();
    expect(result.status).toBe('running');
    const events = (await getJson(url(`/v1/tasks/${created.id}/events?limit=500`))).body.items.map((e: { type: string }) => e.type);
    expect(events.filter((t: string) => t.startsWith('task.'))).toEqual([
      'task.created',
      'task.step',
      'task.error',
      'task.retry',
      'task.step',
      'task.named',
      'task.step',
      'task.step',
      'task.step',
      'task.step',
      'task.step',
      'task.initialized',
    ]);

    // The tab that showed the failure follows the new run, and its first prompt is sent once.
    const tab = await until(
      async () => (await getJson(url(`/v1/tasks/${created.id}/sessions/${tabId}`))).body,
      (d) => d.session.status === 'ready' && d.session.unread,
    );
    expect(tab.session.errorMessage).toBeNull();
    expect(tab.transcript.items.filter((e: { role: string }) => e.role === 'user')).toEqual([expect.objectContaining({ text: 'Retry me', delivery: 'sent' })]);
    await authedFetch(url(`/v1/tasks/${created.id}/sessions/${tabId}`), { method: 'DELETE' });
    await (await runOf(services.temporal, `workbench-${tabId}`)).result();
  });
});
