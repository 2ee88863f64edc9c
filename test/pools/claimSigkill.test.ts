/**
 * A worker SIGKILLed in the middle of a warm pool claim (docs/ARCHITECTURE.md#warm-sandbox-pools):
 * the claim is one transaction under placement's lock, so a worker that dies while it is open leaves
 * the member in the pool and the task without a sandbox; the worker that comes back claims it once.
 * A real worker process (both roles, the confined local provider, the offline agent); the test holds
 * placement's advisory lock so the claim is caught with its transaction open, then kills the worker's
 * whole process group.
 */
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { Client as PgClient } from 'pg';
import type { Client } from '@temporalio/client';
import type { ApiServer } from '../../src/api/server';
import { createPrismaClient } from '../../src/db/prisma';
import { authedFetch } from '../../src/dev/stack/auth';
import { createTestRepo } from '../../src/dev/stack/gitRepo';
import { stackServiceEnv } from '../../src/dev/stack/serviceEnv';
import { readStack } from '../../src/dev/stack/stackFile';
import { startTestApi } from '../../src/dev/stack/testApi';
import { createScratchSandboxRoot, removeScratchSandboxRoot } from '../../src/dev/scratchSandboxRoot';
import { spawnService } from '../../src/dev/serviceProcess';
import { createLogger } from '../../src/logger';
import { LocalProvider } from '../../src/providers/local/localProvider';
import { createTemporalClient } from '../../src/temporal/client';
import { until } from '../support/polling';

jest.setTimeout(300_000);

describe('a worker SIGKILLed during a warm pool claim', () => {
  const stack = readStack();
  const run = `pool-kill-${Date.now()}`;
  const taskQueue = `q-${run}`;
  const workspaceId = 'ws-pool-sigkill';
  const root = createScratchSandboxRoot('tps-pool-sigkill-');
  const prisma = createPrismaClient(stack.databaseUrl);
  const lock = new PgClient({ connectionString: stack.databaseUrl });
  lock.on('error', () => undefined); // the test's own session; an error shows in the query that meets it
  let temporal: Client | undefined;
  let api: ApiServer | undefined;
  let baseUrl = '';
  const workers = new Set<ChildProcess>();

  const startWorker = (): ChildProcess => {
    const child = spawnService('worker', {
      env: stackServiceEnv(stack, taskQueue, {
        SANDBOX_ROOT: root,
        SANDBOX_HOST_ID: run,
        REPOSITORY_ROOTS: stack.workDir,
        SANDBOX_HOST_HEARTBEAT_SECONDS: '1',
        LOG_LEVEL: 'silent',
      }),
      stdio: ['ignore', 'ignore', 'ignore'],
      detached: true, // its own process group: the SIGKILL reaches tsx and the worker under it
    });
    workers.add(child);
    child.once('exit', () => workers.delete(child));
    return child;
  };
  const sigkill = async (child: ChildProcess, signal: NodeJS.Signals = 'SIGKILL') => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    try {
      process.kill(-child.pid!, signal);
    } catch {
      // the group is gone already
    }
    await exited;
  };
  const api$ = async (method: string, p: string, body?: unknown) => {
    const res = await authedFetch(`${baseUrl}${p}`, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: res.status, body: (await res.json().catch(() => null)) as any };
  };
  const poolMembers = () => prisma.warmSandbox.findMany({ where: { pool: { workspaceId } } });

  afterAll(async () => {
    await lock.end().catch(() => undefined);
    await Promise.all([...workers].map((w) => sigkill(w)));
    await api?.close();
    await temporal?.connection.close();
    // Whatever the runs left (agents, networks, disks) goes with the scratch root.
    await removeScratchSandboxRoot(
      new LocalProvider({ sandboxRoot: root, logger: createLogger('test', 'silent'), repositoryPolicy: { roots: [stack.workDir], protectedPaths: [], allowGitProtocol: false } }),
      root,
    );
    await prisma.$disconnect();
  });

  it('leaves the member in the pool, and the restarted worker claims it exactly once', async () => {
    temporal = await createTemporalClient({ address: stack.temporalAddress, namespace: stack.namespace });
    ({ api, baseUrl } = await startTestApi({ stack, prisma, temporal, taskQueue }));
    const repo = await createTestRepo(path.join(stack.workDir, `pool-kill-repo-${Date.now()}`));
    const first = startWorker();

    const pool = await api$('PUT', `/v1/workspaces/${workspaceId}/sandbox-pools`, { repository: repo, size: 1 });
    expect(pool.status).toBe(200);
    const [member] = await until(poolMembers, (m) => m.length === 1 && m[0]!.state === 'ready', 120_000);

    // Hold placement's lock: the claim waits for it with its transaction open.
    await lock.connect();
    await lock.query('SELECT pg_advisory_lock(hashtext($1), hashtext($2))', ['sandbox-placement', taskQueue]);
    const created = await api$('POST', '/v1/tasks', { workspaceId, repository: repo, prompt: 'Claim while the worker dies' });
    expect(created.status).toBe(201);
    const taskId = created.body.id as string;
    await until(
      async () => (await lock.query<{ waiting: number }>("SELECT count(*)::int AS waiting FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")).rows[0]!.waiting,
      (n) => n > 0,
      60_000,
    );
    await sigkill(first);

    // Nothing of the claim is left: the member is still the pool's, ready, and the task has no sandbox.
    expect(await poolMembers()).toEqual([expect.objectContaining({ id: member!.id, state: 'ready' })]);
    expect(await prisma.sandbox.findMany({ where: { taskId } })).toEqual([]);

    await lock.query('SELECT pg_advisory_unlock(hashtext($1), hashtext($2))', ['sandbox-placement', taskQueue]);
    const second = startWorker();
    const task = await until(
      () => prisma.task.findUniqueOrThrow({ where: { id: taskId } }),
      (t) => t.status === 'running' || t.status === 'error',
      180_000,
    );
    expect({ status: task.status, message: task.status === 'error' ? task.statusMessage : '' }).toEqual({ status: 'running', message: '' });
    // Claimed once: the member is the task's one sandbox, and no longer in the pool.
    expect(await prisma.sandbox.findMany({ where: { taskId } })).toEqual([
      expect.objectContaining({ id: member!.id, state: 'ready', details: expect.objectContaining({ warmPoolId: pool.body.id }) }),
    ]);
    expect(await prisma.warmSandbox.findUnique({ where: { id: member!.id } })).toBeNull();
    // The pool refills with a new member, and no sandbox directory is left that no row knows.
    const [refill] = await until(poolMembers, (m) => m.length === 1 && m[0]!.state === 'ready', 120_000);
    expect(refill!.id).not.toBe(member!.id);
    const known = new Set([member!.id, refill!.id]);
    expect(
      readdirSync(root)
        .filter((d) => /^[0-9a-f-]{36}$/.test(d))
        .sort(),
    ).toEqual([...known].sort());

    // Clean up through the service: the pool drained, the task killed.
    expect((await api$('PUT', `/v1/workspaces/${workspaceId}/sandbox-pools`, { repository: repo, size: 0 })).status).toBe(200);
    expect((await api$('POST', `/v1/tasks/${taskId}/kill`)).status).toBe(202);
    await until(poolMembers, (m) => m.length === 0, 60_000);
    await until(
      async () => (await prisma.task.findUniqueOrThrow({ where: { id: taskId } })).status,
      (s) => s === 'killed',
      60_000,
    );
    await sigkill(second, 'SIGTERM');
  });
});
