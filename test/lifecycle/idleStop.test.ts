/**
 * Idle stop (docs/PRODUCT.md#sandbox-lifecycle) with a short setting, on the real stack with confined
 * sandboxes: after the idle time with no turn, the sandbox's lifecycle run stops it on its durable
 * timer: `stopped`, no process left in its cgroup (the cgroup, and with it its memory, is released),
 * its files kept. The next message wakes it and is answered.
 */
import path from 'node:path';
import { promises as fs, readFileSync } from 'node:fs';
import { authedFetch } from '../../src/dev/stack/auth';
import { createTestRepo } from '../../src/dev/stack/gitRepo';
import { postJson, startServices, type TestServices } from '../../src/dev/stack/services';
import { cgroupValue } from '../../src/confinement/cgroups';
import { sandboxLifecycleStateQuery, sandboxLifecycleWorkflowId } from '../../src/workflows/sandboxLifecycle.contract';
import { until } from '../support/polling';

jest.setTimeout(180_000);

const IDLE_STOP_MS = 4_000;

/** True while `pid` runs (a zombie awaiting its parent's wait() does not: it holds no memory). */
function isRunning(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0] !== 'Z';
  } catch {
    return false;
  }
}

describe('sandbox idle stop', () => {
  let services: TestServices;
  let repo: string;
  const url = (p: string) => `${services.baseUrl}${p}`;

  beforeAll(async () => {
    services = await startServices({ idleStopMs: IDLE_STOP_MS });
    repo = await createTestRepo(path.join(services.repoRoot, `idle-repo-${Date.now()}`));
  });
  afterAll(async () => {
    await services?.stop();
  });

  const answered = (tabId: string, index: number) =>
    until(
      async () => ({
        tab: await services.prisma.workbenchSession.findUniqueOrThrow({ where: { id: tabId } }),
        message: await services.prisma.transcriptEntry.findUnique({ where: { sessionId_index: { sessionId: tabId, index } } }),
      }),
      ({ tab, message }) => message?.delivery === 'sent' && tab.status !== 'running',
    );

  it('stops an idle sandbox on its timer (processes gone, cgroup memory released, files kept); the next message wakes it', async () => {
    const created = await postJson(url('/v1/tasks'), { workspaceId: 'ws-idle', repository: repo, prompt: 'Then sit idle', openSession: true });
    const taskId: string = created.body.id;
    const tabId: string = created.body.firstSession.id;
    await answered(tabId, 1);
    const task = await services.prisma.task.findUniqueOrThrow({ where: { id: taskId } });
    const sandboxId = task.activeSandboxId!;
    // While it runs, its processes hold memory in its cgroup (sandbox-agent and the agent).
    const runningProcesses = services.local.sandboxProcesses(sandboxId);
    const memoryWhileRunning = Number(cgroupValue(sandboxId, 'memory', 'memory.current') ?? cgroupValue(sandboxId, 'memory', 'memory.usage_in_bytes'));
    expect(runningProcesses.length).toBeGreaterThanOrEqual(2);
    expect(memoryWhileRunning).toBeGreaterThan(1024 * 1024);
    // The lifecycle run's query shows the pending idle timer.
    const lifecycle = services.temporal.workflow.getHandle(sandboxLifecycleWorkflowId(sandboxId));
    const live = await until(
      () => lifecycle.query(sandboxLifecycleStateQuery),
      (s) => s.idleStopAt !== null || s.state === 'stopped',
    );
    expect(live.sandboxId).toBe(sandboxId);

    const stopped = await until(
      async () => (await services.prisma.task.findUniqueOrThrow({ where: { id: taskId } })).sandboxState,
      (s) => s === 'stopped',
    );
    expect(stopped).toBe('stopped');
    const events = await services.prisma.taskEvent.findMany({ where: { taskId, type: 'sandbox.state' }, orderBy: { seq: 'asc' } });
    expect(events.map((e) => (e.payload as { state: string; reason: string }).state + '/' + (e.payload as { reason: string }).reason)).toEqual(['stopping/idle', 'stopped/idle']);
    // Not before the idle time had passed since the last turn ended.
    const sandbox = await services.prisma.sandbox.findUniqueOrThrow({ where: { id: sandboxId } });
    expect(events[0]!.createdAt.getTime() - sandbox.lastActiveAt.getTime()).toBeGreaterThanOrEqual(IDLE_STOP_MS);
    // No process is left in its cgroup; the cgroup itself is gone, so nothing holds memory there; every process it had is gone.
    expect(services.local.sandboxProcesses(sandboxId)).toEqual([]);
    expect(cgroupValue(sandboxId, 'memory', 'memory.current')).toBeNull();
    expect(runningProcesses.filter(isRunning)).toEqual([]);
    // Its files stay.
    expect(await fs.readFile(path.join(services.local.paths(sandboxId).repo, 'README.md'), 'utf8')).toBeTruthy();

    const res = await authedFetch(url(`/v1/tasks/${taskId}/sessions/${tabId}/messages`), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ text: 'Good morning' }),
    });
    expect(res.status).toBe(202);
    const { entry } = (await res.json()) as { entry: { index: number } };
    await answered(tabId, entry.index);
    const reply = await services.prisma.transcriptEntry.findMany({ where: { sessionId: tabId, replyTo: entry.index, role: 'agent' }, orderBy: { index: 'asc' } });
    expect(reply.map((e) => e.text).join('')).toBe('offline agent: received 12 characters: Good morning');
    const after = await services.prisma.taskEvent.findMany({ where: { taskId, type: 'sandbox.state' }, orderBy: { seq: 'asc' } });
    expect(after.slice(2).map((e) => (e.payload as { state: string }).state)).toEqual(['resuming', 'ready']);
  });
});
