/**
 * Postgres outages on the real stack. The worker and the API reach Postgres through a fault proxy
 * (../support/tcpProxy.ts) that the test cuts and restores, so the machine's Postgres never restarts.
 *
 * - An outage during a step spends none of the step's provider attempts (more schedules than the
 *   policy's attempts, no error) and the task still ends `running` with one sandbox, one agent
 *   process and one agent session; the Socket.IO client holds every event once, in order.
 * - Meanwhile the API answers 503 `database_unavailable` with Retry-After, `/readyz` answers 503
 *   naming the database, `/healthz` stays 200.
 * - An outage at the run's first mirror write (between steps) also ends `running`.
 * - An outage longer than the run's patience ends the task in `error` with one sentence naming the
 *   step and the cause, nothing of the database driver's text.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { appendTaskEvent } from '../../src/db/taskEvents';
import { pgNotifier } from '../../src/db/notifier';
import { startProvisionTask } from '../../src/temporal/client';
import { provisionStateQuery, provisionWorkflowId, type ProvisionState } from '../../src/workflows/provisionTask.contract';
import { STEP_ACTIVITY_OPTIONS } from '../../src/workflows/policies';
import { Gate, gatedProvider } from '../../src/dev/stack/gate';
import { expectClientHasEveryEvent, expectOneOfEverything } from '../support/oneOfEverything';
import { createTestRepo } from '../../src/dev/stack/gitRepo';
import { runOf } from '../../src/dev/stack/runs';
import { getJson, postJson, startServices, type TestServices } from '../../src/dev/stack/services';
import { TaskEventClient } from '../../src/dev/stack/socketClient';
import { readStack } from '../../src/dev/stack/stackFile';
import { startTcpProxy, viaProxy, type TcpProxy } from '../support/tcpProxy';
import { localActivityTypes, scheduledActivities } from '../support/histories';

const WORKSPACE = 'ws-db-outage';

describe('Postgres outages', () => {
  let proxy: TcpProxy;
  let services: TestServices;
  let repo: string;
  const gates: { createSandbox?: Gate } = {};

  beforeAll(async () => {
    const stack = readStack();
    const direct = new URL(stack.databaseUrl);
    proxy = await startTcpProxy({ host: direct.hostname, port: Number(direct.port || 5432) });
    services = await startServices({
      databaseUrl: viaProxy(stack.databaseUrl, proxy),
      wrapProvider: (local) => gatedProvider(local, gates), // reads the gate at each call
    });
    repo = await createTestRepo(path.join(services.repoRoot, 'repo'));
  });
  afterAll(async () => {
    await proxy?.restore();
    await services?.stop();
    await proxy?.close();
  });
  afterEach(async () => {
    delete gates.createSandbox;
    await proxy.restore();
  });

  /** Subscribes to the task; returns the snapshot's lastEventSeq. */
  async function follow(client: TaskEventClient, taskId: string): Promise<number> {
    const ack = await client.subscribe({ taskId });
    expect(ack.ok).toBe(true);
    return ack.task!.lastEventSeq;
  }

  it('waits out an outage during a step without spending its attempts, and answers honestly meanwhile', async () => {
    gates.createSandbox = new Gate();
    const created = await postJson(`${services.baseUrl}/v1/tasks`, { workspaceId: WORKSPACE, repository: repo, prompt: 'Survive a database outage' });
    expect(created.status).toBe(201);
    const taskId: string = created.body.id;
    const client = new TaskEventClient(services.baseUrl, WORKSPACE);
    const snapshot = await follow(client, taskId);
    await gates.createSandbox.entered;

    await proxy.cut();
    // The API while Postgres is down: 503 with a code and Retry-After; liveness fine, readiness not.
    const refused = await postJson(`${services.baseUrl}/v1/tasks`, { workspaceId: WORKSPACE, repository: repo, prompt: 'Not now' });
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(refused.body.error.code).toBe('database_unavailable');
    expect(refused.body.error.message).not.toMatch(/prisma|invocation|\/work|\n/i);
    const read = await getJson(`${services.baseUrl}/v1/tasks/${taskId}/events`);
    expect(read.status).toBe(503);
    expect(read.body.error.code).toBe('database_unavailable');
    const ready = await fetch(`${services.baseUrl}/readyz`);
    expect(ready.status).toBe(503);
    expect(ready.headers.get('retry-after')).toMatch(/^\d+$/);
    const report = await ready.json();
    expect(report).toMatchObject({ status: 'unavailable', checks: { database: { ok: false }, temporal: { ok: true } } });
    expect((await fetch(`${services.baseUrl}/healthz`)).status).toBe(200);

    // The step goes on and finds the database down; the run waits instead of spending attempts.
    gates.createSandbox.open();
    const handle = await runOf(services.temporal, provisionWorkflowId(taskId));
    let state: ProvisionState | undefined;
    for (const deadline = Date.now() + 30_000; Date.now() < deadline; await sleep(200)) {
      state = await handle.query(provisionStateQuery);
      if ((state.steps.init_create_sandbox?.waitingFor?.hits ?? 0) >= 3) break;
    }
    expect(state?.steps.init_create_sandbox?.waitingFor).toMatchObject({ dependency: 'database' });
    expect(state?.steps.init_create_sandbox?.subStep).toBe('waiting_for_database');
    const hits = state!.steps.init_create_sandbox!.waitingFor!.hits;
    await proxy.restore();

    await client.waitFor((m) => m.event.taskId === taskId && m.task.status === 'running', 90_000);
    await handle.result();
    await expectOneOfEverything(services, taskId);
    await expectClientHasEveryEvent(services, client, taskId, snapshot);
    // More schedules of the step's activities (placement, then the sandbox on its host) than its policy
    // allows attempts: the outage spent none of them.
    const history = await handle.fetchHistory();
    const sandboxSchedules = [...scheduledActivities(history.events!), ...localActivityTypes(history.events!).map((name) => [name] as const)].filter(([name]) =>
      ['tryPlaceSandbox', 'placeSandbox', 'createSandbox'].includes(name),
    );
    expect(sandboxSchedules.length).toBeGreaterThan(hits);
    expect(hits + 1).toBeGreaterThan(STEP_ACTIVITY_OPTIONS.init_create_sandbox.retry!.maximumAttempts!);
    expect((await getJson(`${services.baseUrl}/v1/tasks/${taskId}/events?limit=500`)).body.items.map((e: { type: string }) => e.type)).not.toContain('task.error');
    expect((await fetch(`${services.baseUrl}/readyz`)).status).toBe(200);
    client.close();
  });

  it('waits out an outage at a mirror write between steps', async () => {
    const created = await postJson(`${services.baseUrl}/v1/tasks`, { workspaceId: WORKSPACE, repository: repo, prompt: 'Outage before the first transition' });
    expect(created.status).toBe(201);
    const taskId: string = created.body.id;
    const client = new TaskEventClient(services.baseUrl, WORKSPACE);
    const snapshot = await follow(client, taskId);
    // Cut right away: the run (started after the answer) writes its first transition into the outage.
    await proxy.cut();
    const handle = await runOf(services.temporal, provisionWorkflowId(taskId));
    await sleep(4_000);
    expect((await services.prisma.task.findUniqueOrThrow({ where: { id: taskId } }).catch(() => null))?.status ?? 'unreachable').toBe('unreachable');
    await proxy.restore();
    await handle.result();
    await client.waitFor((m) => m.event.taskId === taskId && m.task.status === 'running', 60_000);
    await expectOneOfEverything(services, taskId);
    await expectClientHasEveryEvent(services, client, taskId, snapshot);
    client.close();
  });

  it('fails the step with one sentence once an outage outlasts the patience', async () => {
    gates.createSandbox = new Gate();
    // The row as POST /v1/tasks commits it, then a run with a 2 s patience for outages.
    const taskId = randomUUID();
    await services.prisma.$transaction(async (tx) => {
      await tx.task.create({
        data: {
          id: taskId,
          workspaceId: WORKSPACE,
          repository: repo,
          prompt: 'Give up',
          providerId: 'local',
          agentType: 'claude',
          statusMessage: 'provision queued',
          workflowId: provisionWorkflowId(taskId),
        },
      });
      await appendTaskEvent(tx, pgNotifier, {
        taskId,
        type: 'task.created',
        payload: { workspaceId: WORKSPACE, repository: repo, agent: 'claude', provider: 'local', branchName: null },
        dedupeKey: 'created',
      });
    });
    await startProvisionTask(services.temporal, {
      task: await services.prisma.task.findUniqueOrThrow({ where: { id: taskId } }),
      taskQueue: services.taskQueue,
      dependencyPatienceMs: 2_000,
    });
    await gates.createSandbox.entered;
    await proxy.cut();
    gates.createSandbox.open();
    const handle = await runOf(services.temporal, provisionWorkflowId(taskId));
    for (const deadline = Date.now() + 30_000; Date.now() < deadline; await sleep(200)) {
      if ((await handle.query(provisionStateQuery)).status === 'error') break;
    }
    await proxy.restore();
    await expect(handle.result()).rejects.toThrow();
    const task = await services.prisma.task.findUniqueOrThrow({ where: { id: taskId } });
    expect(task.status).toBe('error');
    expect(task.statusMessage).toMatch(/^init_create_sandbox failed: the database did not answer for \d+ s$/);
    const error = await services.prisma.taskEvent.findFirstOrThrow({ where: { taskId, type: 'task.error' } });
    expect(error.payload).toMatchObject({ step: 'init_create_sandbox', type: 'DependencyUnavailable', detail: task.statusMessage });
    // The driver's full error stays in the run's history for engineers.
    const history = JSON.stringify((await handle.fetchHistory()).events);
    expect(history).toMatch(/Can't reach database server|ECONNREFUSED|Connection terminated/);
  });
});
