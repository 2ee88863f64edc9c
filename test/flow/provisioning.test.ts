/**
 * End to end on the real stack: REST -> Postgres -> Temporal -> activities -> real git, real
 * sandbox-agent, real ACP session with the offline agent -> Postgres -> Socket.IO.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { sandboxGit } from '../support/sandboxGit';
import { PROVISION_STEPS } from '../../src/domain/status';
import { checkHealth, isProcessAlive } from '../../src/providers/local/sandboxAgentProcess';
import { listAcpSessions } from '../../src/providers/local/acpClient';
import { ProviderError } from '../../src/providers/types';
import { provisionStateQuery, provisionWorkflowId } from '../../src/workflows/provisionTask.contract';
import { Client, WorkflowNotFoundError } from '@temporalio/client';
import { createLogger } from '../../src/logger';
import { insertTaskWithCreatedEvent } from '../../src/db/taskEvents';
import { startUnstartedTasks } from '../../src/recovery/unstartedTasks';
import { startProvisionTask } from '../../src/temporal/client';
import { Gate, gatedProvider } from '../../src/dev/stack/gate';
import { createTestRepo } from '../../src/dev/stack/gitRepo';
import { TaskEventClient } from '../../src/dev/stack/socketClient';
import { getJson, postJson, startServices, type TestServices } from '../../src/dev/stack/services';
import { startTestApi } from '../../src/dev/stack/testApi';
import { runOf } from '../../src/dev/stack/runs';
import { CLEAN_PROVISIONING_TRAIL, provisioningTrail } from '../support/provisioningTrail';

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
    repo = await createTestRepo(path.join(services.repoRoot, `repo-${Date.now()}`), ['fix-fix-the-login-bug']);
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
      expect(created.body).toMatchObject({
        workspaceId: 'ws-flow',
        status: 'init_enqueue_provision',
        statusMessage: 'provision queued',
        workflowId: `provision-task-${created.body.id}`,
      });
      expect(created.body.realtime.subscribe).toEqual({ event: 'subscribe', payload: { taskId: created.body.id } });
      const taskId: string = created.body.id;

      await sandboxGate.entered;
      const held = await getJson(`${services.baseUrl}/v1/tasks/${taskId}`);
      expect(held.body.status).toBe('init_create_sandbox');
      // The record shows where provisioning is, since when, and when the attempt times out.
      const progress = held.body.provisioning;
      expect(progress).toMatchObject({ currentStep: 'init_create_sandbox', subStep: 'starting', attempt: 1 });
      // The full state: the run's memory plus the step's own report (attempt, sub-step, its start).
      const full = (await getJson(`${services.baseUrl}/v1/tasks/${taskId}/provisioning`)).body;
      expect(full.steps.init_create_sandbox).toMatchObject({ attempt: 1, subStep: 'starting', startToCloseTimeoutMs: 180_000 });
      const attemptStart = full.steps.init_create_sandbox.attemptStartedAt;
      expect(Date.parse(progress.timesOutAt) - Date.parse(attemptStart)).toBe(180_000);
      expect(Date.parse(progress.lastProgressAt)).toBeGreaterThanOrEqual(Date.parse(created.body.createdAt));
      const live = await (await runOf(services.temporal, created.body.workflowId)).query(provisionStateQuery);
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
      expect(provisioningTrail(rows)).toEqual(CLEAN_PROVISIONING_TRAIL);
      // Status order seen over the socket follows docs/PRODUCT.md#statuses.
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
      expect(await sandboxGit(sandbox.directory!).revparse(['--abbrev-ref', 'HEAD'])).toBe('fix-fix-the-login-bug-2');
      expect(await sandboxGit(sandbox.directory!).getRemotes(true)).toEqual([expect.objectContaining({ refs: expect.objectContaining({ fetch: repo }) })]);
      const details = sandbox.details as { agentPid: number; acpServerId: string; sessionId: string };
      expect(isProcessAlive(details.agentPid)).toBe(true);
      const agentRecord = JSON.parse(require('node:fs').readFileSync(path.join(services.local.paths(sandbox.id).host, 'agent.json'), 'utf8'));
      expect(agentRecord.baseUrl).toBe(sandbox.agentEndpoint);
      expect(await checkHealth(agentRecord, 2000)).toBe(true);
      const sessions = await listAcpSessions({ ...agentRecord, serverId: details.acpServerId, timeoutMs: 5000 });
      expect(sessions.map((s) => s.sessionId)).toEqual([task.activeSessionId]);
      expect(details.sessionId).toBe(task.activeSessionId);

      const result = await (await runOf(services.temporal, task.workflowId)).result();
      expect(result).toEqual({ status: 'running', sandboxId: task.activeSandboxId, sessionId: task.activeSessionId });
    } finally {
      client.close();
    }
  });

  it('ends in error with the step named when the repository does not exist; create was unaffected', async () => {
    const created = await postJson(`${services.baseUrl}/v1/tasks`, {
      workspaceId: 'ws-flow',
      repository: path.join(services.repoRoot, 'no-such-repo'),
      prompt: 'add a feature',
    });
    expect(created.status).toBe(201);
    expect(created.body.status).toBe('init_enqueue_provision');
    await expect((await runOf(services.temporal, created.body.workflowId)).result()).rejects.toThrow();
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
      const handle = await runOf(services.temporal, created.body.workflowId);
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

  it('answers 201 even when Temporal refuses to start the run; the task waits queued and the recovery sweep starts it', async () => {
    // A real rejection from the real server: the namespace does not exist.
    const refusing = new Client({ connection: services.temporal.connection, namespace: 'no-such-namespace' });
    const { api, baseUrl } = await startTestApi({ stack: services.stack, prisma: services.prisma, temporal: refusing, taskQueue: services.taskQueue });
    let taskId: string;
    try {
      const res = await postJson(`${baseUrl}/v1/tasks`, { workspaceId: 'ws-refused', repository: repo, prompt: 'provisioned later' });
      expect(res.status).toBe(201);
      expect(res.body.status).toBe('init_enqueue_provision');
      taskId = res.body.id;
      await api.provisionStarter.drain(); // the start after the answer has been tried, and refused
      expect(api.provisionStarter.pending).toBe(0);
    } finally {
      await api.close();
    }
    // Nothing lost, nothing half-written: the row and its first event, and no run.
    const workflowId = provisionWorkflowId(taskId);
    expect(await services.prisma.task.findUniqueOrThrow({ where: { id: taskId } })).toMatchObject({ status: 'init_enqueue_provision', lastEventSeq: 1 });
    expect((await services.prisma.taskEvent.findMany({ where: { taskId } })).map((e) => e.type)).toEqual(['task.created']);
    await expect(services.temporal.workflow.getHandle(workflowId).describe()).rejects.toBeInstanceOf(WorkflowNotFoundError);
    // Asked meanwhile, the API shows the queued state rather than an error.
    const queued = await getJson(`${services.baseUrl}/v1/tasks/${taskId}/provisioning`);
    expect(queued).toMatchObject({ status: 200, body: { taskId, status: 'init_enqueue_provision', currentStep: null, steps: {} } });
    expect((await getJson(`${services.baseUrl}/v1/tasks/${taskId}`)).body.provisioning).toMatchObject({ currentStep: null, attempt: null });

    const started = await startUnstartedTasks({
      prisma: services.prisma,
      temporal: services.temporal,
      taskQueue: services.taskQueue,
      logger: createLogger('test', 'silent'),
      minAgeMs: 0,
    });
    expect(started).toContain(taskId);
    expect(await (await runOf(services.temporal, workflowId)).result()).toMatchObject({ status: 'running' });
    expect((await services.prisma.task.findUniqueOrThrow({ where: { id: taskId } })).status).toBe('running');
  });

  it('a task killed while still queued never gets a sandbox, even if its run starts afterwards', async () => {
    // The run is started after createTask answers, so a kill can land first: a queued row, killed.
    const taskId = randomUUID();
    const workflowId = provisionWorkflowId(taskId);
    await insertTaskWithCreatedEvent(services.prisma, {
      id: taskId,
      workspaceId: 'ws-killed-queued',
      repository: repo,
      prompt: 'killed before it started',
      requestedBranch: null,
      providerId: 'local',
      agentType: 'claude',
      statusMessage: 'provision queued',
      workflowId,
    });
    await services.prisma.task.update({ where: { id: taskId }, data: { status: 'killed', statusMessage: 'killed' } });
    // A late start (the API's starter or the recovery sweep) then runs provisionTask anyway.
    await startProvisionTask(services.temporal, { task: await services.prisma.task.findUniqueOrThrow({ where: { id: taskId } }), taskQueue: services.taskQueue });
    await expect((await runOf(services.temporal, workflowId)).result()).rejects.toThrow();
    expect(await services.prisma.sandbox.count({ where: { taskId } })).toBe(0);
    expect(await services.prisma.task.findUniqueOrThrow({ where: { id: taskId } })).toMatchObject({ status: 'killed', branchName: null, lastEventSeq: 1 });
    const history = await (await runOf(services.temporal, workflowId)).fetchHistory();
    // The naming step (a local activity) refused; the run failed with its type.
    const failure = history.events?.find((e) => e.workflowExecutionFailedEventAttributes)?.workflowExecutionFailedEventAttributes?.failure;
    expect(failure?.applicationFailureInfo?.type).toBe('TaskKilled');
    expect(failure?.cause).toMatchObject({ message: 'the task was killed before this step ran; nothing was made', applicationFailureInfo: { type: 'TaskKilled' } });
  });
});
