/**
 * Sandbox lifecycle on the real stack, confined sandboxes (docs/PRODUCT.md#sandbox-lifecycle): an agent
 * that died is found (by a turn, or by reconcile at worker start) and recorded `stopped`; the next
 * message wakes the same sandbox (`resuming` -> `ready`), the tab gets its session back (ACP
 * `session/load`: the same agent session, "session resumed"; a new one, "session restarted", where the
 * agent cannot load it), the message is answered once, and uncommitted work is still there.
 * Explicit stop and resume; a Ctrl-C of the start command (every sandbox stopped) with the worker down.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { createTestRepo } from '../../src/dev/stack/gitRepo';
import { getJson, postJson, startServices, type TestServices } from '../../src/dev/stack/services';
import { SESSION_RESTARTED_TEXT, SESSION_RESUMED_TEXT } from '../../src/activities/workbenchSession.activities';
import { listAcpServers } from '../../src/providers/local/acpClient';
import type { AgentTarget } from '../../src/providers/local/agentHttp';
import { sandboxLifecycleWorkflowId } from '../../src/workflows/sandboxLifecycle.contract';
import { Gate, gatedProvider } from '../../src/dev/stack/gate';
import { sandboxOf, sh } from '../support/insideSandbox';
import { offlineReply, until } from '../support/polling';
import { agentReply, sendMessage } from '../support/tabs';

jest.setTimeout(240_000);

describe('sandbox lifecycle: wake on use, reconcile, stop and resume', () => {
  let services: TestServices;
  let repo: string;
  let afterAgentStart: Gate | undefined;
  const url = (p: string) => `${services.baseUrl}${p}`;

  beforeAll(async () => {
    // Reconcile runs at each worker start only (an hour between passes), so what it finds is what a start finds.
    services = await startServices({
      reconcileIntervalMs: 3_600_000,
      // A gate after an agent start, armed by one test only: the agent runs, the wake has not recorded it yet.
      wrapProvider: (local) => {
        const plain = gatedProvider(local, {});
        return {
          ...plain,
          ensureAgent: async (handle, progress) => {
            const started = await local.ensureAgent(handle, progress);
            await afterAgentStart?.pass();
            return started;
          },
        };
      },
    });
    repo = await createTestRepo(path.join(services.repoRoot, `lifecycle-repo-${Date.now()}`));
  });
  afterAll(async () => {
    afterAgentStart?.open();
    await services?.stop();
  });

  /** The tab's agent reply to the user message at `index`, joined, once every chunk of the turn is written. */
  const replyTo = (tabId: string, index: number) => agentReply(services, tabId, index);

  /** A task whose first tab is open and has answered the prompt. */
  const runningTask = async (prompt: string) => {
    const created = await postJson(url('/v1/tasks'), { workspaceId: 'ws-lifecycle', repository: repo, prompt, openSession: true });
    expect(created.status).toBe(201);
    const tabId: string = created.body.firstSession.id;
    expect(await replyTo(tabId, 1)).toBe(offlineReply(prompt));
    const task = await services.prisma.task.findUniqueOrThrow({ where: { id: created.body.id } });
    expect(task).toMatchObject({ status: 'running', sandboxState: 'ready' });
    return { taskId: task.id, sandboxId: task.activeSandboxId!, tabId };
  };

  const send = (taskId: string, tabId: string, text: string) => sendMessage(services, taskId, tabId, text);

  /** The task's `sandbox.state` events after seq `after`, as `state/reason`. */
  const stateEvents = async (taskId: string, after = 0) =>
    (await services.prisma.taskEvent.findMany({ where: { taskId, type: 'sandbox.state', seq: { gt: after } }, orderBy: { seq: 'asc' } })).map((e) => {
      const p = e.payload as { state: string; reason: string };
      return `${p.state}/${p.reason}`;
    });

  const lastSeq = async (taskId: string) => (await services.prisma.task.findUniqueOrThrow({ where: { id: taskId } })).lastEventSeq;

  const killAgent = async (sandboxId: string) => {
    const [pid] = services.local.agentProcesses(sandboxId);
    expect(pid).toBeGreaterThan(0);
    process.kill(pid!, 'SIGKILL');
    await until(
      async () => services.local.agentProcesses(sandboxId),
      (pids) => !pids.includes(pid!),
    );
    return pid!;
  };

  const agentTarget = async (sandboxId: string) => JSON.parse(await fs.readFile(path.join(services.local.paths(sandboxId).host, 'agent.json'), 'utf8')) as AgentTarget;

  it('an agent SIGKILLed under a running task: the next message wakes the same sandbox, loads the same agent session, is answered once, with the uncommitted file kept', async () => {
    const { taskId, sandboxId, tabId } = await runningTask('Survive a crash');
    const { sandboxSessionId } = await services.prisma.workbenchSession.findUniqueOrThrow({ where: { id: tabId } });
    const sandbox = await sandboxOf(services, taskId);
    expect((await sh(sandbox, 'cd /sandbox/repo && echo "work in progress" > uncommitted.txt && git status --porcelain')).stdout).toContain('?? uncommitted.txt');
    const before = await lastSeq(taskId);
    const oldPid = await killAgent(sandboxId);

    const index = await send(taskId, tabId, 'Are you still there?');
    expect(await replyTo(tabId, index)).toBe(offlineReply('Are you still there?'));

    // The sandbox went to sleep (its agent had exited) and woke, in that order, once.
    expect(await stateEvents(taskId, before)).toEqual(['stopping/agent_exited', 'stopped/agent_exited', 'resuming/use', 'ready/use']);
    expect(await services.prisma.task.findUniqueOrThrow({ where: { id: taskId } })).toMatchObject({ status: 'running', sandboxState: 'ready' });
    // Answered once: one user message, sent, and one reply (checked above); the session resumed is said once, before it.
    const transcript = await services.prisma.transcriptEntry.findMany({ where: { sessionId: tabId, index: { gte: index } }, orderBy: { index: 'asc' } });
    expect(transcript.filter((e) => e.role === 'user')).toEqual([expect.objectContaining({ index, delivery: 'sent' })]);
    expect(transcript.filter((e) => e.role === 'system').map((e) => e.text)).toEqual([SESSION_RESUMED_TEXT]);
    // The restarted agent loaded the tab's session (ACP session/load): the same agent session id.
    expect((await services.prisma.workbenchSession.findUniqueOrThrow({ where: { id: tabId } })).sandboxSessionId).toBe(sandboxSessionId);
    expect(transcript.findIndex((e) => e.role === 'system')).toBeLessThan(transcript.findIndex((e) => e.role === 'agent'));
    // A new agent process, confined as before (in the sandbox's cgroup), with exactly one agent session: the tab's.
    const pids = services.local.agentProcesses(sandboxId);
    expect(pids).toHaveLength(1);
    expect(pids[0]).not.toBe(oldPid);
    expect(await listAcpServers({ ...(await agentTarget(sandboxId)), timeoutMs: 5_000 })).toHaveLength(1);
    // The same sandbox: the uncommitted file is still in its checkout.
    expect(await fs.readFile(path.join(services.local.paths(sandboxId).repo, 'uncommitted.txt'), 'utf8')).toBe('work in progress\n');
    const tab = (await getJson(url(`/v1/tasks/${taskId}/sessions/${tabId}`))).body.session;
    expect(tab).toMatchObject({ status: 'ready', composerEnabled: true });
  });

  it('reconcile: an agent killed while the worker is down shows `stopped` after the worker starts, without any user action', async () => {
    const { taskId, sandboxId, tabId } = await runningTask('Reconcile me');
    const before = await lastSeq(taskId);
    await services.stopWorker();
    await killAgent(sandboxId);
    expect((await getJson(url(`/v1/tasks/${taskId}`))).body.sandboxState).toBe('ready'); // nothing watches yet
    await services.startWorker();

    const task = await until(
      async () => (await getJson(url(`/v1/tasks/${taskId}`))).body,
      (t) => t.sandboxState === 'stopped',
    );
    expect(task).toMatchObject({ status: 'running', sandboxState: 'stopped' });
    expect(await stateEvents(taskId, before)).toEqual(['stopping/agent_exited', 'stopped/agent_exited']);
    expect(services.local.sandboxProcesses(sandboxId)).toEqual([]);
    // And the next message wakes it.
    const index = await send(taskId, tabId, 'Wake up');
    expect(await replyTo(tabId, index)).toBe(offlineReply('Wake up'));
    expect(await stateEvents(taskId, before)).toEqual(['stopping/agent_exited', 'stopped/agent_exited', 'resuming/use', 'ready/use']);
  });

  it('at worker start, a running sandbox with no lifecycle run (one provisioned before the lifecycle existed) gets one', async () => {
    const { sandboxId } = await runningTask('An older task');
    const lifecycle = services.temporal.workflow.getHandle(sandboxLifecycleWorkflowId(sandboxId));
    const { runId } = await lifecycle.describe();
    await lifecycle.terminate('the test: as if the sandbox had been provisioned before the lifecycle workflow existed');
    await services.stopWorker();
    await services.startWorker();
    const started = await until(
      () => services.temporal.workflow.getHandle(sandboxLifecycleWorkflowId(sandboxId)).describe(),
      (d) => d.runId !== runId && d.status.name === 'RUNNING',
    );
    expect(started).toMatchObject({ status: { name: 'RUNNING' } });
    expect(started.runId).not.toBe(runId);
    expect((await services.prisma.sandbox.findUniqueOrThrow({ where: { id: sandboxId } })).state).toBe('ready');
  });

  it('POST /stop and /resume (202): processes end and the files stay; resume starts the agent again; a message then opens a new session where the agent cannot load the old one', async () => {
    const { taskId, sandboxId, tabId } = await runningTask('Stop and resume');
    const { sandboxSessionId } = await services.prisma.workbenchSession.findUniqueOrThrow({ where: { id: tabId } });
    const before = await lastSeq(taskId);
    const stop = await postJson(url(`/v1/tasks/${taskId}/stop`), {});
    expect(stop.status).toBe(202);
    expect(stop.body).toMatchObject({ id: taskId, status: 'running' });
    await until(
      async () => (await services.prisma.task.findUniqueOrThrow({ where: { id: taskId } })).sandboxState,
      (s) => s === 'stopped',
    );
    expect(services.local.sandboxProcesses(sandboxId)).toEqual([]);
    expect(await fs.readFile(path.join(services.local.paths(sandboxId).repo, 'README.md'), 'utf8')).toBeTruthy();
    // While it sleeps, the agent's own note of its sessions goes (a HOME cleared): it cannot load the tab's session.
    await fs.rm(path.join(services.local.paths(sandboxId).home, '.local/share/offline-acp-agent'), { recursive: true });
    // A second stop of a sleeping sandbox changes nothing.
    expect((await postJson(url(`/v1/tasks/${taskId}/stop`), {})).status).toBe(202);

    expect((await postJson(url(`/v1/tasks/${taskId}/resume`), {})).status).toBe(202);
    await until(
      async () => (await services.prisma.task.findUniqueOrThrow({ where: { id: taskId } })).sandboxState,
      (s) => s === 'ready',
    );
    expect(services.local.agentProcesses(sandboxId)).toHaveLength(1);
    expect(await stateEvents(taskId, before)).toEqual(['stopping/requested', 'stopped/requested', 'resuming/requested', 'ready/requested']);

    // The agent is new, so the tab's session is not in it: the message finds that out, the load is
    // refused, and a new session is opened, said so in the transcript.
    const index = await send(taskId, tabId, 'After the resume');
    expect(await replyTo(tabId, index)).toBe(offlineReply('After the resume'));
    expect((await services.prisma.transcriptEntry.findMany({ where: { sessionId: tabId, role: 'system' } })).map((e) => e.text)).toEqual([SESSION_RESTARTED_TEXT]);
    expect((await services.prisma.workbenchSession.findUniqueOrThrow({ where: { id: tabId } })).sandboxSessionId).not.toBe(sandboxSessionId);
    expect(await stateEvents(taskId, before)).toHaveLength(4); // no second wake

    // Refusals: a task that is not running.
    const other = await postJson(url('/v1/tasks'), { workspaceId: 'ws-lifecycle', repository: repo, prompt: 'Not yet running' });
    const early = await postJson(url(`/v1/tasks/${other.body.id}/stop`), {});
    expect(early).toMatchObject({ status: 409, body: { error: { code: 'task_not_running' } } });
  });

  it('a sandbox whose files are gone is `lost`: the message that tried to wake it leaves the tab in error with one sentence, and a resume is refused', async () => {
    const { taskId, sandboxId, tabId } = await runningTask('Lose my files');
    const before = await lastSeq(taskId);
    expect((await postJson(url(`/v1/tasks/${taskId}/stop`), {})).status).toBe(202);
    await until(
      async () => (await services.prisma.task.findUniqueOrThrow({ where: { id: taskId } })).sandboxState,
      (s) => s === 'stopped',
    );
    // Its checkout disappears while it sleeps (a disk replaced, a cleanup gone wrong).
    await fs.rm(services.local.paths(sandboxId).repo, { recursive: true, force: true });
    await send(taskId, tabId, 'Anyone home?');
    const tab = await until(
      () => services.prisma.workbenchSession.findUniqueOrThrow({ where: { id: tabId } }),
      (t) => t.status === 'error',
    );
    expect(tab.errorMessage).toBe('opening the agent session failed: waking the sandbox failed: the sandbox is gone: its files could not be found');
    expect(await stateEvents(taskId, before)).toEqual(['stopping/requested', 'stopped/requested', 'resuming/use', 'lost/files_gone']);
    expect(await postJson(url(`/v1/tasks/${taskId}/resume`), {})).toMatchObject({ status: 409, body: { error: { code: 'sandbox_lost' } } });
    expect(services.local.sandboxProcesses(sandboxId)).toEqual([]);
  });

  it('a kill while the sandbox wakes leaves nothing running: the sandbox is destroyed and its lifecycle run ends', async () => {
    const { taskId, sandboxId, tabId } = await runningTask('Killed while waking');
    expect((await postJson(url(`/v1/tasks/${taskId}/stop`), {})).status).toBe(202);
    await until(
      async () => (await services.prisma.task.findUniqueOrThrow({ where: { id: taskId } })).sandboxState,
      (s) => s === 'stopped',
    );
    afterAgentStart = new Gate();
    await send(taskId, tabId, 'Wake, then die');
    await afterAgentStart.entered; // the woken agent runs; the wake has not recorded `ready`
    expect(services.local.agentProcesses(sandboxId)).toHaveLength(1);
    expect((await postJson(url(`/v1/tasks/${taskId}/kill`), {})).status).toBe(202);
    await until(
      async () => (await services.prisma.task.findUniqueOrThrow({ where: { id: taskId } })).status,
      (s) => s === 'killed',
    );
    afterAgentStart.open();
    await services.temporal.workflow.getHandle(sandboxLifecycleWorkflowId(sandboxId)).result();
    afterAgentStart = undefined;
    expect(await services.prisma.sandbox.findUniqueOrThrow({ where: { id: sandboxId } })).toMatchObject({ state: 'destroyed' });
    expect(services.local.sandboxProcesses(sandboxId)).toEqual([]);
    expect(services.local.agentProcesses(sandboxId)).toEqual([]);
    await expect(fs.access(services.local.paths(sandboxId).root)).rejects.toThrow();
  });

  it('the start command stopped every sandbox (Ctrl-C) while the worker was down: after the start, every task is `stopped` and its next message is answered', async () => {
    const tasks = await Promise.all(['First of three', 'Second of three', 'Third of three'].map((p) => runningTask(p)));
    await services.stopWorker();
    await services.local.stopAll();
    await services.startWorker();
    for (const { taskId } of tasks) {
      await until(
        async () => (await services.prisma.task.findUniqueOrThrow({ where: { id: taskId } })).sandboxState,
        (s) => s === 'stopped',
      );
    }
    const indexes = await Promise.all(tasks.map(({ taskId, tabId }) => send(taskId, tabId, `Back after the restart ${taskId.slice(0, 8)}`)));
    for (const [i, { taskId, tabId }] of tasks.entries()) {
      expect(await replyTo(tabId, indexes[i]!)).toBe(offlineReply(`Back after the restart ${taskId.slice(0, 8)}`));
      expect((await services.prisma.task.findUniqueOrThrow({ where: { id: taskId } })).sandboxState).toBe('ready');
    }
  });
});
