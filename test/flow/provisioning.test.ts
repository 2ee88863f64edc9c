/**
 * End to end on the real stack: REST -> Postgres -> Temporal -> activities -> real git, real
 * sandbox-agent, real ACP session with the offline agent -> Postgres -> Socket.IO.
 */
import path from 'node:path';
import { simpleGit } from 'simple-git';
import { PROVISION_STEPS } from '../../src/domain/status';
import { checkHealth, isProcessAlive } from '../../src/providers/local/sandboxAgentProcess';
import { listAcpSessions } from '../../src/providers/local/acpClient';
import { ProviderError } from '../../src/providers/types';
import { provisionStateQuery } from '../../src/workflows/contracts';
import { Client } from '@temporalio/client';
import { Gate, gatedProvider } from '../support/gate';
import { createTestRepo } from '../support/gitRepo';
import { TaskEventClient } from '../support/socketClient';
import { getJson, postJson, startServices, type TestServices } from '../support/services';
import { startTestApi } from '../support/testApi';

describe('provisionTask on the real stack', () => {
  let services: TestServices;
  let repo: string;
  const sandboxGate = new Gate();
  let failAgentStep = false;

  beforeAll(async () => {
    services = await startServices({
      wrapProvider: (local) => {
        const gated = gatedProvider(local, { createSandbox: sandboxGate });
        return {
          ...gated,
          ensureAgent: async (handle, progress) => {
            if (failAgentStep) throw new ProviderError('InvalidAgent', 'agent binary rejected by the test', false);
            return gated.ensureAgent(handle, progress);
          },
        };
      },
    });
    repo = await createTestRepo(path.join(services.sandboxRoot, '..', `repo-${Date.now()}`), ['fix-fix-the-login-bug']);
  });

  afterAll(async () => {
    sandboxGate.open();
    await services?.stop();
  });

  it('answers createTask while the sandbox step is held, then reaches running with events in order', async () => {
    const client = new TaskEventClient(services.baseUrl, 'ws-flow');
    try {
      expect((await client.subscribe({ workspaceId: 'ws-flow' })).ok).toBe(true);
      const created = await postJson(`${services.baseUrl}/v1/tasks`, { workspaceId: 'ws-flow', repository: repo, prompt: 'Fix the login bug\nIt fails on empty passwords.' });

      // The create request came back while provisioning cannot have passed the sandbox step.
      expect(created.status).toBe(201);
      expect(created.headers.get('location')).toBe(`/v1/tasks/${created.body.id}`);
      expect(created.body).toMatchObject({ workspaceId: 'ws-flow', status: 'init_enqueue_provision', statusMessage: 'provision queued', workflowId: `provision-task-${created.body.id}` });
      expect(created.body.realtime.subscribe).toEqual({ event: 'subscribe', payload: { taskId: created.body.id } });
      const taskId: string = created.body.id;

      await sandboxGate.entered;
      const held = await getJson(`${services.baseUrl}/v1/tasks/${taskId}`);
      expect(held.body.status).toBe('init_create_sandbox');
      // The record shows where provisioning is, since when, and when the attempt times out.
      const progress = held.body.provisioning;
      expect(progress).toMatchObject({ currentStep: 'init_create_sandbox', subStep: 'starting', attempt: 1 });
      const attemptStart = (await services.temporal.workflow.getHandle(created.body.workflowId).query(provisionStateQuery)).steps.init_create_sandbox!.attemptStartedAt!;
      expect(Date.parse(progress.timesOutAt) - Date.parse(attemptStart)).toBe(180_000);
      expect(Date.parse(progress.lastProgressAt)).toBeGreaterThanOrEqual(Date.parse(created.body.createdAt));
      const live = await services.temporal.workflow.getHandle(created.body.workflowId).query(provisionStateQuery);
      expect(live.currentStep).toBe('init_create_sandbox');
      expect(live.steps.init_ensure_name?.endedAt).toBeDefined();
      expect(live.steps.init_create_sandbox).toMatchObject({ attempt: 1, startToCloseTimeoutMs: 180_000 });
      expect(live.steps.init_create_sandbox?.endedAt).toBeUndefined();

      // Subscribing to the task mid-flight acks with its current record.
      const ack = await client.subscribe({ taskId });
      expect(ack.ok).toBe(true);
      expect(ack.task).toMatchObject({ id: taskId, status: 'init_create_sandbox' });

      sandboxGate.open();
      const final = await client.waitFor((m) => m.event.taskId === taskId && (m.task.status === 'running' || m.task.status === 'error'));
      expect(final.task.status).toBe('running');

      // Pushed events: one per history row (each once per room it was sent to), dense sequence, same content.
      const history = await getJson(`${services.baseUrl}/v1/tasks/${taskId}/events`);
      const rows = history.body.items as Array<{ seq: number; type: string; payload: Record<string, unknown> }>;
      expect(rows.map((r) => r.seq)).toEqual(rows.map((_, i) => i + 1));
      const pushed = client.eventsOf(taskId);
      const uniqueSeqs = [...new Set(pushed.map((m) => m.event.seq))];
      expect(uniqueSeqs).toEqual(rows.map((r) => r.seq)); // arrived in sequence order, none missing
      for (const m of pushed) expect(m.event).toEqual(expect.objectContaining(rows[m.event.seq - 1]));
      expect(rows.map((r) => (r.type === 'task.step' ? `${r.type}:${r.payload.step}:${r.payload.status}` : r.type))).toEqual([
        'task.created',
        'task.step:init_ensure_name:started',
        'task.named',
        'task.step:init_create_sandbox:started',
        'task.step:init_create_sandbox:completed',
        'task.step:init_ensure_agent:started',
        'task.step:init_ensure_agent:completed',
        'task.step:init_create_session:started',
        'task.initialized',
      ]);
      // Status order seen over the socket follows the specs' names.
      const statuses = pushed.map((m) => m.task.status).filter((s, i, all) => s !== all[i - 1]);
      expect(statuses).toEqual(['init_enqueue_provision', ...PROVISION_STEPS, 'running']);

      // Naming: the derived branch collided with an existing one and got a suffix.
      const task = (await getJson(`${services.baseUrl}/v1/tasks/${taskId}`)).body;
      expect(task.title).toBe('fix: Fix the login bug');
      expect(task.branchName).toBe('fix-fix-the-login-bug-2');
      expect(Object.keys(task.stepTimings).sort()).toEqual([...PROVISION_STEPS].sort());

      // The sandbox really exists: a clone on the branch, a live healthy sandbox-agent, an open session.
      const sandbox = await services.prisma.sandbox.findUniqueOrThrow({ where: { id: task.activeSandboxId } });
      expect(sandbox.state).toBe('ready');
      expect(await simpleGit(sandbox.directory!).revparse(['--abbrev-ref', 'HEAD'])).toBe('fix-fix-the-login-bug-2');
      expect(await simpleGit(sandbox.directory!).getRemotes(true)).toEqual([expect.objectContaining({ refs: expect.objectContaining({ fetch: repo }) })]);
      const details = sandbox.details as { agentPid: number; acpServerId: string; sessionId: string };
      expect(isProcessAlive(details.agentPid)).toBe(true);
      const agentRecord = JSON.parse(require('node:fs').readFileSync(path.join(sandbox.directory!, '..', 'agent.json'), 'utf8'));
      expect(await checkHealth(sandbox.agentEndpoint!, agentRecord.token, 2000)).toBe(true);
      const sessions = await listAcpSessions({ baseUrl: sandbox.agentEndpoint!, token: agentRecord.token, serverId: details.acpServerId, timeoutMs: 5000 });
      expect(sessions.map((s) => s.sessionId)).toEqual([task.activeSessionId]);
      expect(details.sessionId).toBe(task.activeSessionId);

      const result = await services.temporal.workflow.getHandle(task.workflowId).result();
      expect(result).toEqual({ status: 'running', sandboxId: task.activeSandboxId, sessionId: task.activeSessionId });
    } finally {
      client.close();
    }
  });

  it('ends in error with the step named when the repository does not exist; create was unaffected', async () => {
    const created = await postJson(`${services.baseUrl}/v1/tasks`, { workspaceId: 'ws-flow', repository: path.join(services.sandboxRoot, 'no-such-repo'), prompt: 'add a feature' });
    expect(created.status).toBe(201);
    expect(created.body.status).toBe('init_enqueue_provision');
    await expect(services.temporal.workflow.getHandle(created.body.workflowId).result()).rejects.toThrow();
    const task = (await getJson(`${services.baseUrl}/v1/tasks/${created.body.id}`)).body;
    expect(task.status).toBe('error');
    expect(task.statusMessage).toMatch(/^init_ensure_name failed: repository .* cannot be read/);
    const events = (await getJson(`${services.baseUrl}/v1/tasks/${created.body.id}/events`)).body.items;
    expect(events.map((e: { type: string }) => e.type)).toEqual(['task.created', 'task.step', 'task.error']);
    expect(events[2].payload).toMatchObject({ step: 'init_ensure_name', type: 'RepositoryNotFound' });
    expect(await services.prisma.sandbox.count({ where: { taskId: created.body.id } })).toBe(0);
  });

  it('ends in error at the agent step without retrying a final provider failure', async () => {
    failAgentStep = true;
    try {
      const created = await postJson(`${services.baseUrl}/v1/tasks`, { workspaceId: 'ws-flow', repository: repo, prompt: 'refactor the parser', agent: 'codex' });
      expect(created.status).toBe(201);
      const handle = services.temporal.workflow.getHandle(created.body.workflowId);
      await expect(handle.result()).rejects.toThrow();
      const task = (await getJson(`${services.baseUrl}/v1/tasks/${created.body.id}`)).body;
      expect(task).toMatchObject({ status: 'error', statusMessage: 'init_ensure_agent failed: agent binary rejected by the test', branchName: 'refactor-refactor-the-parser' });
      const state = await handle.query(provisionStateQuery);
      expect(state.error).toEqual({ step: 'init_ensure_agent', type: 'InvalidAgent', message: 'init_ensure_agent failed: agent binary rejected by the test' });
      expect(state.steps.init_ensure_agent?.attempt).toBe(1);
    } finally {
      failAgentStep = false;
    }
  });

  it('answers 503 and leaves no task row when Temporal refuses to start the run', async () => {
    // A real rejection from the real server: the namespace does not exist.
    const refusing = new Client({ connection: services.temporal.connection, namespace: 'no-such-namespace' });
    const { api, baseUrl } = await startTestApi({ stack: services.stack, prisma: services.prisma, temporal: refusing, taskQueue: services.taskQueue });
    try {
      const before = { tasks: await services.prisma.task.count(), events: await services.prisma.taskEvent.count() };
      const res = await postJson(`${baseUrl}/v1/tasks`, { workspaceId: 'ws-refused', repository: repo, prompt: 'never provisioned' });
      expect(res.status).toBe(503);
      expect(res.body.error.code).toBe('workflow_start_failed');
      expect({ tasks: await services.prisma.task.count(), events: await services.prisma.taskEvent.count() }).toEqual(before);
      expect(await services.prisma.task.count({ where: { workspaceId: 'ws-refused' } })).toBe(0);
    } finally {
      await api.close();
    }
  });
});
