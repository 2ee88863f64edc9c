/**
 * Sandbox hosts on the real stack (docs/DEPLOYMENT.md): two in-process sandbox hosts, each with its own
 * id, task queue, sandbox root and confined local provider, behind one orchestration worker that
 * serves none of the sandbox activities, so an activity scheduled on the wrong queue would fail
 * instead of working by accident. Placement spreads tasks over the live hosts; every activity on a
 * sandbox runs on its host (tabs, stop, resume, kill, archive); a full deployment waits visibly for
 * room; a host gone for good has its sandboxes recorded `lost` and a retried task lands on a live host.
 * (A host process SIGKILLed mid-work and coming back: test/hosts/hostSigkill.test.ts.)
 */
import { execFileSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createWorkerActivities } from '../../src/activities';
import { SANDBOX_MISROUTED } from '../../src/activities/sandboxAccess';
import { createLogger } from '../../src/logger';
import { pgNotifier } from '../../src/db/notifier';
import { createTestRepo } from '../../src/dev/stack/gitRepo';
import { getJson, postJson, startServices, type TestServices } from '../../src/dev/stack/services';
import { hostLostMessage } from '../../src/hosts/lostHosts';
import { sandboxOf, sh } from '../support/insideSandbox';
import { workbenchWorkflowId } from '../../src/workflows/workbenchSession.contract';
import { offlineReply, until } from '../support/polling';
import { agentReply, sendMessage } from '../support/tabs';
import { Client } from '@temporalio/client';
import { startTestApi } from '../../src/dev/stack/testApi';
import { startUnstartedTasks } from '../../src/recovery/unstartedTasks';
import { localActivityTypes, scheduledActivities } from '../support/histories';

jest.setTimeout(300_000);

/** Helpers over one suite's services. */
function helpers(services: () => TestServices, workspaceId: string) {
  const url = (p: string) => `${services().baseUrl}${p}`;
  const task = (id: string) => services().prisma.task.findUniqueOrThrow({ where: { id } });
  const sandboxOf = async (taskId: string) => services().prisma.sandbox.findUniqueOrThrow({ where: { id: (await task(taskId)).activeSandboxId! } });
  const create = async (repo: string, prompt: string, openSession = false) => {
    const created = await postJson(url('/v1/tasks'), { workspaceId, repository: repo, prompt, ...(openSession ? { openSession } : {}) });
    expect(created.status).toBe(201);
    return created.body as { id: string; workflowId: string; firstSession?: { id: string } };
  };
  const statusOf = (taskId: string, wanted: (s: string) => boolean) =>
    until(
      async () => (await task(taskId)).status,
      (s) => wanted(s),
    );
  const send = (taskId: string, tabId: string, text: string) => sendMessage(services(), taskId, tabId, text);
  const replyTo = (tabId: string, index: number) => agentReply(services(), tabId, index);
  /** The queues the task's provisioning run scheduled each activity on. */
  /** The run's activities: scheduled ones with their task queue, local ones as `local`. */
  const activityQueues = async (workflowId: string) => {
    const events = (await services().temporal.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
    return [...scheduledActivities(events), ...localActivityTypes(events).map((name) => [name, 'local'] as const)];
  };
  return { url, task, sandboxOf, create, statusOf, send, replyTo, activityQueues };
}

describe('two sandbox hosts', () => {
  let services: TestServices;
  let repo: string;
  const h = helpers(() => services, 'ws-hosts');

  beforeAll(async () => {
    services = await startServices({ hosts: [{}, {}] });
    repo = await createTestRepo(path.join(services.repoRoot, `hosts-repo-${Date.now()}`));
  });
  afterAll(async () => {
    await services?.stop();
  });

  it('spreads 20 tasks over both hosts, least loaded first, and runs every sandbox step on its own host', async () => {
    const [a, b] = services.hosts;
    const created = await Promise.all(Array.from({ length: 20 }, (_, i) => h.create(repo, `Spread task ${i + 1}`)));
    for (const t of created) expect(await h.statusOf(t.id, (s) => s === 'running' || s === 'error')).toBe('running');
    const sandboxes = await Promise.all(created.map((t) => h.sandboxOf(t.id)));
    // Least loaded by share of capacity, equal capacities: the placements alternate, 10 and 10.
    expect(sandboxes.filter((s) => s.hostId === a!.id)).toHaveLength(10);
    expect(sandboxes.filter((s) => s.hostId === b!.id)).toHaveLength(10);
    for (const s of sandboxes) {
      const host = s.hostId === a!.id ? a! : b!;
      // Its files are under its own host's root, and its agent runs there.
      expect(s.directory!.startsWith(host.sandboxRoot + path.sep)).toBe(true);
      expect(host.local.agentProcesses(s.id).length).toBeGreaterThan(0);
    }
    // The API says where a task's sandbox lives.
    const first = created[0]!;
    expect((await getJson(h.url(`/v1/tasks/${first.id}/sandbox`))).body).toMatchObject({ id: sandboxes[0]!.id, hostId: sandboxes[0]!.hostId });
    // Naming and placement as local activities of the orchestration worker; every step on the sandbox on the host's queue.
    const host = services.hosts.find((x) => x.id === sandboxes[0]!.hostId)!;
    const queues = Object.fromEntries(await h.activityQueues(first.workflowId));
    expect(queues).toMatchObject({
      ensureName: 'local',
      tryPlaceSandbox: 'local',
      createSandbox: host.taskQueue,
      ensureAgent: host.taskQueue,
      createSession: host.taskQueue,
    });
    // Each host's heartbeat row counts what it holds (refreshed every heartbeat; at least not more).
    const rows = await services.prisma.sandboxHost.findMany({ where: { id: { in: [a!.id, b!.id] } }, orderBy: { id: 'asc' } });
    expect(rows.map((r) => [r.taskQueue, r.orchestrationQueue, r.capacity])).toEqual([
      [a!.taskQueue, services.taskQueue, 200],
      [b!.taskQueue, services.taskQueue, 200],
    ]);
  });

  it('on each host: a tab opens and answers, the sandbox stops and resumes, and archive and kill remove it from that host', async () => {
    const byHost = new Map<string, { id: string; tabId: string }[]>();
    for (let i = 0; byHost.size < 2 || [...byHost.values()].some((l) => l.length < 2); i++) {
      expect(i).toBeLessThan(8); // least-loaded placement alternates: four tasks cover both hosts twice
      const t = await h.create(repo, `Per-host task ${i + 1}`, true);
      expect(await h.statusOf(t.id, (s) => s === 'running' || s === 'error')).toBe('running');
      const hostId = (await h.sandboxOf(t.id)).hostId!;
      byHost.set(hostId, [...(byHost.get(hostId) ?? []), { id: t.id, tabId: t.firstSession!.id }]);
    }
    for (const host of services.hosts) {
      const [archived, killed] = byHost.get(host.id)!;
      // A tab: the first prompt answered, then a new tab opened and a message answered, on this host.
      expect(await h.replyTo(archived!.tabId, 1)).toBe(offlineReply(`Per-host task ${/\d+$/.exec((await h.task(archived!.id)).prompt)![0]}`));
      const opened = await postJson(h.url(`/v1/tasks/${archived!.id}/sessions`), {});
      expect(opened.status).toBe(201);
      await until(
        () => services.prisma.workbenchSession.findUniqueOrThrow({ where: { id: opened.body.id } }),
        (t) => t.status === 'ready',
      );
      const index = await h.send(archived!.id, opened.body.id, `Hello from ${host.id}`);
      expect(await h.replyTo(opened.body.id, index)).toBe(offlineReply(`Hello from ${host.id}`));
      const tabRun = await services.temporal.workflow.getHandle(workbenchWorkflowId(opened.body.id)).fetchHistory();
      const promptQueues = (tabRun.events ?? []).flatMap((e) =>
        e.activityTaskScheduledEventAttributes?.activityType?.name === 'promptAgent' ? [e.activityTaskScheduledEventAttributes.taskQueue!.name] : [],
      );
      expect(promptQueues).toEqual([host.taskQueue]);

      // Stop and resume: the sandbox's lifecycle run acts through the host's queue.
      const sandbox = await h.sandboxOf(archived!.id);
      expect((await postJson(h.url(`/v1/tasks/${archived!.id}/stop`), {})).status).toBe(202);
      await until(
        async () => (await h.task(archived!.id)).sandboxState,
        (s) => s === 'stopped',
      );
      expect(host.local.agentProcesses(sandbox.id)).toEqual([]);
      expect((await postJson(h.url(`/v1/tasks/${archived!.id}/resume`), {})).status).toBe(202);
      await until(
        async () => (await h.task(archived!.id)).sandboxState,
        (s) => s === 'ready',
      );
      expect(host.local.agentProcesses(sandbox.id).length).toBeGreaterThan(0);

      // Archive and kill: each sandbox removed from its own host's root.
      const killedSandbox = await h.sandboxOf(killed!.id);
      expect((await postJson(h.url(`/v1/tasks/${archived!.id}/archive`), {})).status).toBe(202);
      expect((await postJson(h.url(`/v1/tasks/${killed!.id}/kill`), {})).status).toBe(202);
      expect(await h.statusOf(archived!.id, (s) => s === 'archived')).toBe('archived');
      expect(await h.statusOf(killed!.id, (s) => s === 'killed')).toBe('killed');
      for (const s of [sandbox, killedSandbox]) {
        expect(existsSync(path.dirname(s.directory!))).toBe(false);
        expect(host.local.agentProcesses(s.id)).toEqual([]);
        expect((await services.prisma.sandbox.findUniqueOrThrow({ where: { id: s.id } })).state).toBe('destroyed');
      }
      const kill = Object.fromEntries(await h.activityQueues(`kill-task-${killed!.id}`));
      expect(kill).toMatchObject({ markSandboxesDestroyed: services.taskQueue, destroySandbox: host.taskQueue });
    }
  });

  it('a sandbox activity that reaches the wrong host refuses, loudly, and touches nothing', async () => {
    const t = await h.create(repo, 'Misrouted on purpose');
    expect(await h.statusOf(t.id, (s) => s === 'running' || s === 'error')).toBe('running');
    const sandbox = await h.sandboxOf(t.id);
    const owner = services.hosts.find((x) => x.id === sandbox.hostId)!;
    const other = services.hosts.find((x) => x.id !== sandbox.hostId)!;
    // The other host's activities, built as its worker builds them, run for this sandbox.
    const wrong = createWorkerActivities({
      prisma: services.prisma,
      providers: new Map([['local', other.local]]),
      notifier: pgNotifier,
      temporal: services.temporal,
      logger: createLogger('test', 'silent'),
      idleStopMs: 0,
      hostId: other.id,
    }).sandboxHost;
    const env = new MockActivityEnvironment();
    await expect(env.run(wrong.stopSandbox, { sandboxId: sandbox.id, reason: 'requested' as const })).rejects.toMatchObject({
      type: SANDBOX_MISROUTED,
      nonRetryable: true,
      message: `sandbox ${sandbox.id} lives on host ${owner.id}; this is host ${other.id}`,
    });
    await expect(env.run(wrong.destroySandbox, { sandboxId: sandbox.id })).rejects.toMatchObject({ type: SANDBOX_MISROUTED });
    // Nothing changed: still ready, its agent still runs on its own host.
    expect((await services.prisma.sandbox.findUniqueOrThrow({ where: { id: sandbox.id } })).state).toBe('ready');
    expect(owner.local.agentProcesses(sandbox.id).length).toBeGreaterThan(0);
  });
});

describe('sandbox hosts with no room', () => {
  let services: TestServices;
  let repo: string;
  const h = helpers(() => services, 'ws-hosts-full');

  beforeAll(async () => {
    services = await startServices({ hosts: [{ capacity: 1 }, { capacity: 1 }] });
    repo = await createTestRepo(path.join(services.repoRoot, `full-repo-${Date.now()}`));
  });
  afterAll(async () => {
    await services?.stop();
  });

  it('capacity 1 on each of two hosts and 3 tasks: the third waits visibly in its sandbox step, then runs once a sandbox is released', async () => {
    const first = await h.create(repo, 'Fills host one');
    const second = await h.create(repo, 'Fills host two');
    for (const t of [first, second]) expect(await h.statusOf(t.id, (s) => s === 'running' || s === 'error')).toBe('running');
    expect(new Set([(await h.sandboxOf(first.id)).hostId, (await h.sandboxOf(second.id)).hostId]).size).toBe(2);

    const third = await h.create(repo, 'Waits for room');
    const waiting = await until(
      async () => (await getJson(h.url(`/v1/tasks/${third.id}`))).body,
      (b) => b.provisioning?.subStep === 'waiting_for_sandbox_host',
    );
    expect(waiting).toMatchObject({ status: 'init_create_sandbox', provisioning: { currentStep: 'init_create_sandbox', subStep: 'waiting_for_sandbox_host' } });
    const state = (await getJson(h.url(`/v1/tasks/${third.id}/provisioning`))).body;
    expect(state.steps.init_create_sandbox).toMatchObject({
      subStep: 'waiting_for_sandbox_host',
      lastProgressMessage: 'waiting for a sandbox host: all 2 live sandbox hosts are full',
    });
    expect(await services.prisma.sandbox.count({ where: { taskId: third.id } })).toBe(0);

    // Archiving the first task releases its host's room; the third is placed there and runs.
    const freed = (await h.sandboxOf(first.id)).hostId;
    expect((await postJson(h.url(`/v1/tasks/${first.id}/archive`), {})).status).toBe(202);
    expect(await h.statusOf(third.id, (s) => s === 'running' || s === 'error')).toBe('running');
    expect((await h.sandboxOf(third.id)).hostId).toBe(freed);
    // Its history: the sandbox step started once, waited, and completed; no error.
    const events = await services.prisma.taskEvent.findMany({ where: { taskId: third.id }, orderBy: { seq: 'asc' } });
    expect(events.map((e) => e.type)).not.toContain('task.error');
    expect(events.at(-1)!.type).toBe('task.initialized');
  });
});

describe('a sandbox host lost for good', () => {
  let services: TestServices;
  let repo: string;
  const h = helpers(() => services, 'ws-hosts-lost');

  beforeAll(async () => {
    // Heartbeats every second; a host unseen for 4 s is lost; the sweep looks every second.
    services = await startServices({ hosts: [{}, {}], heartbeatSeconds: 1, lostHostSweep: { lostAfterSeconds: 4, intervalMs: 1_000 } });
    repo = await createTestRepo(path.join(services.repoRoot, `lost-repo-${Date.now()}`));
  });
  afterAll(async () => {
    await services?.stop();
  });

  it('its sandboxes go lost and their tasks and tabs say so; a retry lands on the live host; the other host is unaffected', async () => {
    const created = [await h.create(repo, 'Lost one', true), await h.create(repo, 'Lost two', true)];
    for (const t of created) expect(await h.statusOf(t.id, (s) => s === 'running' || s === 'error')).toBe('running');
    const [onA, onB] = await Promise.all(created.map(async (t) => ({ ...t, sandbox: await h.sandboxOf(t.id) })));
    expect(onA!.sandbox.hostId).not.toBe(onB!.sandbox.hostId);
    const [gone, live] = [services.hosts.find((x) => x.id === onB!.sandbox.hostId)!, services.hosts.find((x) => x.id === onA!.sandbox.hostId)!];

    await gone.stop({ crash: true }); // no heartbeat from here on, as a machine that vanished
    const lostTask = await until(
      () => h.task(onB!.id),
      (t) => t.status === 'error',
    );
    expect(lostTask).toMatchObject({ status: 'error', statusMessage: hostLostMessage(gone.id), sandboxState: 'lost' });
    expect((await services.prisma.sandboxHost.findUniqueOrThrow({ where: { id: gone.id } })).lostAt).not.toBeNull();
    const events = await services.prisma.taskEvent.findMany({ where: { taskId: onB!.id }, orderBy: { seq: 'asc' } });
    const [lostEvent, errorEvent] = events.slice(-3).filter((e) => e.type === 'sandbox.state' || e.type === 'task.error');
    expect(lostEvent).toMatchObject({ type: 'sandbox.state', payload: expect.objectContaining({ state: 'lost', reason: 'host_lost' }) });
    expect(errorEvent).toMatchObject({ type: 'task.error', payload: expect.objectContaining({ type: 'SandboxHostLost', hostId: gone.id }) });
    const tab = await services.prisma.workbenchSession.findUniqueOrThrow({ where: { id: onB!.firstSession!.id } });
    expect(tab).toMatchObject({ status: 'error', errorMessage: hostLostMessage(gone.id), sandboxId: null });

    // The other host's task is unaffected: running, and its tab answers.
    expect(await h.task(onA!.id)).toMatchObject({ status: 'running', sandboxState: 'ready' });
    const index = await h.send(onA!.id, onA!.firstSession!.id, 'Still here?');
    expect(await h.replyTo(onA!.firstSession!.id, index)).toBe(offlineReply('Still here?'));

    // What was pushed before the host was lost is on the repository's branch of the task's name.
    const branch = (await h.task(onB!.id)).branchName!;
    const git = (...args: string[]) =>
      execFileSync('git', ['-C', repo, ...args], { stdio: 'pipe' })
        .toString()
        .trim();
    const defaultBranch = git('rev-parse', '--abbrev-ref', 'HEAD');
    git('checkout', '-q', '-b', branch);
    writeFileSync(path.join(repo, 'pushed.txt'), 'pushed before the host was lost\n');
    git('add', 'pushed.txt');
    git('-c', 'user.name=test', '-c', 'user.email=test@example.invalid', 'commit', '-q', '-m', 'pushed work');
    git('checkout', '-q', defaultBranch);

    // Retry, first through an API whose Temporal refuses the start (a real refusal: no such
    // namespace): the task waits queued, and the recovery sweep starts it as a retry, although the
    // task's previous run completed.
    const refusing = new Client({ connection: services.temporal.connection, namespace: 'no-such-namespace' });
    const { api, baseUrl } = await startTestApi({ stack: services.stack, prisma: services.prisma, temporal: refusing, taskQueue: services.taskQueue });
    try {
      expect((await postJson(`${baseUrl}/v1/tasks/${onB!.id}/retry`, {})).body.error.code).toBe('workflow_start_failed');
    } finally {
      await api.close();
    }
    expect((await h.task(onB!.id)).status).toBe('init_enqueue_provision');
    const sweep = { prisma: services.prisma, temporal: services.temporal, taskQueue: services.taskQueue, logger: createLogger('test', 'silent'), minAgeMs: 0 };
    expect(await startUnstartedTasks(sweep)).toEqual([onB!.id]);
    expect(await startUnstartedTasks(sweep)).toEqual([]); // once: the retry's run is there now

    // A fresh sandbox from the task's branch, on the live host; the tab follows it.
    expect(await h.statusOf(onB!.id, (s) => s === 'running' || s === 'error')).toBe('running');
    const fresh = await h.sandboxOf(onB!.id);
    expect(fresh.id).not.toBe(onB!.sandbox.id);
    expect(fresh.hostId).toBe(live.id);
    const inside = await sh(await sandboxOf(services, onB!.id), 'cd /sandbox/repo && git rev-parse --abbrev-ref HEAD && cat pushed.txt');
    expect(inside.stdout.trim().split('\n')).toEqual([branch, 'pushed before the host was lost']);
    await until(
      () => services.prisma.workbenchSession.findUniqueOrThrow({ where: { id: onB!.firstSession!.id } }),
      (t) => t.status === 'ready',
    );
    const again = await h.send(onB!.id, onB!.firstSession!.id, 'Back again?');
    expect(await h.replyTo(onB!.firstSession!.id, again)).toBe(offlineReply('Back again?'));
  });
});
