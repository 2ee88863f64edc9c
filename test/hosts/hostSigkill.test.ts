/**
 * A sandbox host's worker SIGKILLed mid-work (docs/DEPLOYMENT.md#worker-roles, #placement): the tasks
 * whose sandboxes it holds wait (their step activities are scheduled on its own task queue, which
 * nobody else serves) and finish when it comes back under the same SANDBOX_HOST_ID; the tasks on the
 * other host are unaffected. Four real worker processes in turn: one orchestration worker and two
 * sandbox hosts (one of them started twice), with the benchmark-only `slow` provider, so this is about
 * routing and waiting, not about what a sandbox confines.
 */
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { rm } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { tsToMs } from '@temporalio/common/lib/time';
import { temporal as temporalProto } from '@temporalio/proto';
import type { Client } from '@temporalio/client';
import type { ApiServer } from '../../src/api/server';
import { createPrismaClient } from '../../src/db/prisma';
import { authedFetch } from '../../src/dev/stack/auth';
import { stackServiceEnv } from '../../src/dev/stack/serviceEnv';
import { readStack } from '../../src/dev/stack/stackFile';
import { startTestApi } from '../../src/dev/stack/testApi';
import { createScratchSandboxRoot } from '../../src/dev/scratchSandboxRoot';
import { spawnService } from '../../src/dev/serviceProcess';
import { sandboxHostTaskQueue } from '../../src/hosts/registry';
import { createTemporalClient } from '../../src/temporal/client';
import { CLEAN_PROVISIONING_TRAIL, provisioningTrail } from '../support/provisioningTrail';
import { localActivityTypes } from '../support/histories';

jest.setTimeout(300_000);

/** Each step of the `slow` provider takes this long (ms): long enough to kill a host inside one. */
const STEP_DELAY_MS = 3_000;
/**
 * How long host b stays down (ms): longer than the step activities' 30 s heartbeat timeout
 * (src/workflows/policies.ts), so the attempt killed with it has timed out and its retry waits on b's queue.
 */
const DOWN_FOR_MS = 40_000;
/** The steps that run on the sandbox's host, and their activities. */
const HOST_STEPS = ['init_create_sandbox', 'init_ensure_agent', 'init_create_session'];
const HOST_ACTIVITIES = ['createSandbox', 'ensureAgent', 'createSession'];
const TASKS = 6;

interface CreatedTask {
  id: string;
  workflowId: string;
}

describe('a sandbox host SIGKILLed mid-work', () => {
  const stack = readStack();
  const run = `sigkill-${Date.now()}`;
  const taskQueue = `host-${run}`;
  const hostIds = { a: `${run}-a`, b: `${run}-b` };
  const roots = { a: createScratchSandboxRoot('tps-host-sigkill-a-'), b: createScratchSandboxRoot('tps-host-sigkill-b-') };
  const prisma = createPrismaClient(stack.databaseUrl);
  let temporal: Client | undefined;
  let api: ApiServer | undefined;
  /** Live children, and why one that exited on its own did (what it wrote to stderr). */
  const children = new Set<ChildProcess>();
  const expectedExits = new Set<ChildProcess>();
  let unexpectedExit: string | null = null;

  const startWorker = (name: string, env: Record<string, string>): ChildProcess => {
    const child = spawnService('worker', {
      env: stackServiceEnv(stack, taskQueue, { ENABLE_BENCHMARK_PROVIDERS: '1', SLOW_PROVIDER_DELAY_MS: String(STEP_DELAY_MS), LOG_LEVEL: 'silent', ...env }),
      stdio: ['ignore', 'ignore', 'pipe'],
      // Its own process group, so a SIGKILL reaches tsx and the worker under it, as a machine's crash would.
      detached: true,
    });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4_000)));
    children.add(child);
    child.once('exit', (code, signal) => {
      children.delete(child);
      if (!expectedExits.has(child)) unexpectedExit ??= `${name} exited by itself (code ${code}, signal ${signal}): ${stderr}`;
    });
    return child;
  };
  const startHost = (host: 'a' | 'b') =>
    startWorker(`host ${host}`, { WORKER_ROLES: 'sandbox_host', SANDBOX_HOST_ID: hostIds[host], SANDBOX_ROOT: roots[host], SANDBOX_HOST_HEARTBEAT_SECONDS: '1' });
  const sigkill = async (child: ChildProcess) => {
    expectedExits.add(child);
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // the group is gone already
    }
    await exited;
  };

  /** Polls `check` until it returns something truthy (or a child exits on its own). */
  const waitFor = async <T>(what: string, check: () => Promise<T | null | undefined | false>, timeoutMs = 120_000): Promise<T> => {
    for (const deadline = Date.now() + timeoutMs; ; await sleep(100)) {
      if (unexpectedExit) throw new Error(`while waiting for ${what}: ${unexpectedExit}`);
      const value = await check();
      if (value) return value;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    }
  };
  const statuses = async (tasks: CreatedTask[]) => {
    const rows = await prisma.task.findMany({ where: { id: { in: tasks.map((t) => t.id) } }, select: { id: true, status: true } });
    return tasks.map((t) => rows.find((r) => r.id === t.id)!.status as string);
  };

  afterAll(async () => {
    await Promise.all([...children].map(sigkill));
    await api?.close();
    await temporal?.connection.close();
    await prisma.$disconnect();
    await Promise.all(Object.values(roots).map((root) => rm(root, { recursive: true, force: true })));
  });

  it("makes its tasks wait and finish when it returns, and leaves the other host's tasks unaffected", async () => {
    temporal = await createTemporalClient({ address: stack.temporalAddress, namespace: stack.namespace });
    const started = await startTestApi({ stack, prisma, temporal, taskQueue, providerIds: ['slow'] });
    api = started.api;
    const { baseUrl } = started;
    // Lost after 15 minutes (the default, said here): a host down for DOWN_FOR_MS is away, not lost.
    startWorker('orchestration worker', { WORKER_ROLES: 'orchestration', SANDBOX_HOST_LOST_AFTER: '900' });
    startHost('a');
    const hostB = startHost('b');
    await waitFor('both hosts to register', async () => (await prisma.sandboxHost.count({ where: { id: { in: Object.values(hostIds) }, orchestrationQueue: taskQueue } })) === 2);

    const tasks: CreatedTask[] = [];
    for (let i = 0; i < TASKS; i++) {
      const res = await authedFetch(`${baseUrl}/v1/tasks`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ workspaceId: 'ws-host-sigkill', repository: `${stack.workDir}/any`, prompt: `Outlive host b, number ${i + 1}`, provider: 'slow' }),
      });
      expect(res.status).toBe(201);
      tasks.push((await res.json()) as CreatedTask);
    }

    // Placement spreads them over the two hosts, least loaded first.
    const hostOf = await waitFor('every sandbox to be placed', async () => {
      const rows = await prisma.sandbox.findMany({ where: { taskId: { in: tasks.map((t) => t.id) }, hostId: { not: null } }, select: { taskId: true, hostId: true } });
      return rows.length === TASKS && new Map(rows.map((r) => [r.taskId, r.hostId!]));
    });
    const onA = tasks.filter((t) => hostOf.get(t.id) === hostIds.a);
    const onB = tasks.filter((t) => hostOf.get(t.id) === hostIds.b);
    expect([onA.length, onB.length]).toEqual([TASKS / 2, TASKS / 2]);

    // SIGKILL host b while one of its tasks' step activities has just started on it, all of them inside its steps.
    await waitFor('a step activity of host b in flight', async () => {
      const now = await statuses(onB);
      if (!now.every((s) => HOST_STEPS.includes(s))) throw new Error(`host b's tasks left its steps before it was killed: ${now.join(', ')}`);
      for (const task of onB) {
        const pending = (await temporal!.workflow.getHandle(task.workflowId).describe()).raw.pendingActivities ?? [];
        const inFlight = pending.some(
          (a) =>
            HOST_ACTIVITIES.includes(a.activityType?.name ?? '') &&
            a.state === temporalProto.api.enums.v1.PendingActivityState.PENDING_ACTIVITY_STATE_STARTED &&
            Date.now() - tsToMs(a.lastStartedTime) < STEP_DELAY_MS / 2, // well before it ends by itself
        );
        if (inFlight) return true;
      }
      return false;
    });
    await sigkill(hostB);
    const killedAt = Date.now();

    // Host a's tasks all finish while b is down; b's are still inside their steps, neither running nor failed.
    await waitFor("host a's tasks to be running", async () => (await statuses(onA)).every((s) => s === 'running'));
    expect((await statuses(onB)).filter((s) => !HOST_STEPS.includes(s))).toEqual([]);
    // ... and stay so while b is down, past the heartbeat timeout of the attempt killed with it.
    const seenWhileDown = new Set<string>();
    while (Date.now() < killedAt + DOWN_FOR_MS) {
      for (const s of await statuses(onB)) seenWhileDown.add(s);
      await sleep(1_000);
    }
    for (const s of await statuses(onB)) seenWhileDown.add(s);
    expect([...seenWhileDown].filter((s) => !HOST_STEPS.includes(s))).toEqual([]);
    expect(await prisma.sandboxHost.findUniqueOrThrow({ where: { id: hostIds.b } })).toMatchObject({ lostAt: null, stoppedAt: null });

    // Host b comes back (same id, same sandbox root): its tasks finish there.
    startHost('b');
    await waitFor("host b's tasks to finish provisioning", async () => (await statuses(onB)).every((s) => s === 'running' || s === 'error'), 180_000);
    expect(await statuses(onB)).toEqual(onB.map(() => 'running'));
    expect(await statuses(onA)).toEqual(onA.map(() => 'running'));

    for (const task of tasks) {
      const host = hostOf.get(task.id)!;
      // One sandbox, on the host it was placed on.
      const sandboxes = await prisma.sandbox.findMany({ where: { taskId: task.id } });
      expect(sandboxes).toEqual([expect.objectContaining({ hostId: host, state: 'ready' })]);
      // Its history: the steps in order, no error, initialized last.
      const events = await prisma.taskEvent.findMany({ where: { taskId: task.id }, orderBy: { seq: 'asc' } });
      expect(provisioningTrail(events)).toEqual(CLEAN_PROVISIONING_TRAIL);
    }

    // Temporal's side: placement a local activity of the orchestration worker, every step activity on the sandbox's host's own
    // queue, each scheduled once; host a's each in one attempt, and on host b the attempt killed with it retried.
    const attemptsOn = { a: [] as number[], b: [] as number[] };
    for (const task of tasks) {
      const host = hostOf.get(task.id) === hostIds.a ? 'a' : 'b';
      const events = (await temporal.workflow.getHandle(task.workflowId).fetchHistory()).events ?? [];
      const scheduled = events.filter((e) => e.activityTaskScheduledEventAttributes);
      const queueOf = (name: string) =>
        scheduled.filter((e) => e.activityTaskScheduledEventAttributes!.activityType?.name === name).map((e) => e.activityTaskScheduledEventAttributes!.taskQueue?.name);
      expect(queueOf('placeSandbox')).toEqual([]);
      expect(localActivityTypes(events)).toContain('tryPlaceSandbox');
      for (const name of HOST_ACTIVITIES) {
        expect(queueOf(name)).toEqual([sandboxHostTaskQueue(taskQueue, hostIds[host])]);
        const scheduledId = String(scheduled.find((e) => e.activityTaskScheduledEventAttributes!.activityType?.name === name)!.eventId);
        const started = events.find((e) => e.activityTaskStartedEventAttributes && String(e.activityTaskStartedEventAttributes.scheduledEventId) === scheduledId);
        attemptsOn[host].push(started!.activityTaskStartedEventAttributes!.attempt ?? 0);
      }
      expect(events.some((e) => e.activityTaskFailedEventAttributes || e.activityTaskTimedOutEventAttributes)).toBe(false);
    }
    expect(attemptsOn.a.every((n) => n === 1)).toBe(true);
    expect(Math.max(...attemptsOn.b)).toBeGreaterThan(1);
  });
});
