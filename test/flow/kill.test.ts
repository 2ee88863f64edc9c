/**
 * POST /v1/tasks/:id/kill stops provisioning at whatever step it is in and cleans up what exists
 * (agent process stopped, sandbox removed), ending in `killed` with history events.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { isProcessAlive } from '../../src/providers/local/sandboxAgentProcess';
import { Gate, gatedProvider } from '../../src/dev/stack/gate';
import { createTestRepo } from '../../src/dev/stack/gitRepo';
import { getJson, postJson, startServices, type TestServices } from '../../src/dev/stack/services';
import { runOf } from '../../src/dev/stack/runs';

describe('killing a task', () => {
  let services: TestServices;
  let repo: string;
  const gates: { ensureAgent?: Gate } = {};
  /** What the (gated) provider did: agents it started and how often it destroyed a sandbox. */
  const seen = { agentPids: [] as number[], destroys: 0 };

  beforeAll(async () => {
    services = await startServices({
      wrapProvider: (local) => {
        const gated = gatedProvider(local, gates);
        return {
          ...gated,
          ensureAgent: async (handle, progress, opts) => {
            const agent = await gated.ensureAgent(handle, progress, opts);
            seen.agentPids.push(agent.details.agentPid as number);
            return agent;
          },
          destroySandbox: async (handle) => {
            await gated.destroySandbox(handle);
            seen.destroys++;
          },
        };
      },
    });
    repo = await createTestRepo(path.join(services.repoRoot, 'repo'));
  });
  afterAll(async () => {
    gates.ensureAgent?.open();
    await services?.stop();
  });

  const url = (p: string) => `${services.baseUrl}${p}`;
  const killAndWait = async (taskId: string) => {
    const res = await postJson(url(`/v1/tasks/${taskId}/kill`), {});
    expect(res.status).toBe(202);
    await (await runOf(services.temporal, `kill-task-${taskId}`)).result();
    return (await getJson(url(`/v1/tasks/${taskId}`))).body;
  };

  it('stops provisioning in the middle of a step and removes the sandbox it had made', async () => {
    gates.ensureAgent = new Gate();
    const created = (await postJson(url('/v1/tasks'), { workspaceId: 'ws-kill', repository: repo, prompt: 'Kill me mid-way', openSession: true })).body;
    await gates.ensureAgent.entered; // the clone exists; the agent step is in flight
    const sandbox = await services.prisma.sandbox.findFirstOrThrow({ where: { taskId: created.id } });
    expect(existsSync(sandbox.directory!)).toBe(true);

    const destroysBefore = seen.destroys;
    const task0 = await killAndWait(created.id); // the agent step is still held: the kill does not wait for it
    expect(task0.status).toBe('killed');
    expect(existsSync(path.dirname(sandbox.directory!))).toBe(false);

    // The held step now goes on and starts an agent in the destroyed sandbox; the activity notices the
    // kill when its provider call returns and destroys what it made.
    gates.ensureAgent.open();
    for (const deadline = Date.now() + 30_000; seen.destroys < destroysBefore + 2 && Date.now() < deadline;) await new Promise((r) => setTimeout(r, 50));
    expect(seen.destroys).toBe(destroysBefore + 2);
    expect(seen.agentPids).toHaveLength(1);
    expect(isProcessAlive(seen.agentPids[0]!)).toBe(false);
    const task = (await getJson(url(`/v1/tasks/${created.id}`))).body;
    expect(task).toMatchObject({ status: 'killed', statusMessage: 'killed' });
    expect((await (await runOf(services.temporal, created.workflowId)).describe()).status.name).toBe('CANCELLED');
    const after = await services.prisma.sandbox.findUniqueOrThrow({ where: { id: sandbox.id } });
    expect(after.state).toBe('destroyed');
    expect(existsSync(path.dirname(sandbox.directory!))).toBe(false);
    const events = (await getJson(url(`/v1/tasks/${created.id}/events?limit=500`))).body.items as Array<{ type: string; payload: any }>;
    expect(events[events.length - 1]).toMatchObject({ type: 'task.kill', payload: { provisioningCancelled: true, tabsClosed: 1, sandboxesDestroyed: 1 } });
    expect(events.some((e) => e.type === 'task.error')).toBe(false);
    expect((await getJson(url(`/v1/tasks/${created.id}/sessions`))).body.items).toEqual([]);
  });

  it('kills a running task: agent process stopped, sandbox removed, tabs closed; a second kill changes nothing', async () => {
    const created = (await postJson(url('/v1/tasks'), { workspaceId: 'ws-kill', repository: repo, prompt: 'Kill me when running' })).body;
    await (await runOf(services.temporal, created.workflowId)).result();
    const sandbox = await services.prisma.sandbox.findFirstOrThrow({ where: { taskId: created.id } });
    const pid = (sandbox.details as { agentPid: number }).agentPid;
    expect(isProcessAlive(pid)).toBe(true);
    const tab = (await postJson(url(`/v1/tasks/${created.id}/sessions`), { agent: 'offline' })).body;

    const task = await killAndWait(created.id);
    expect(task.status).toBe('killed');
    expect(isProcessAlive(pid)).toBe(false);
    expect(existsSync(path.dirname(sandbox.directory!))).toBe(false);
    expect((await services.prisma.workbenchSession.findUniqueOrThrow({ where: { id: tab.id } })).closed).toBe(true);
    const seq = task.lastEventSeq;
    expect((await postJson(url(`/v1/tasks/${created.id}/kill`), {})).status).toBe(202);
    expect((await getJson(url(`/v1/tasks/${created.id}`))).body.lastEventSeq).toBe(seq);
    expect((await postJson(url(`/v1/tasks/${created.id}/retry`), {})).body.error.code).toBe('task_not_in_error');
  });
});
