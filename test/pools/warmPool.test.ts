/**
 * Warm sandbox pools on the real stack (docs/ARCHITECTURE.md#warm-sandbox-pools): real git, the real
 * sandbox-agent, confined like any sandbox, one in-process sandbox host. A pool fills with running
 * members; a task claims one (its branch fetched and checked out inside the sandbox), never the same
 * one as another task; the pool refills; a miss takes the usual path; idle members are destroyed
 * cleanly and replaced; size 0 drains the pool. (A worker SIGKILLed mid-claim: ./claimSigkill.test.ts.)
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createTestRepo } from '../../src/dev/stack/gitRepo';
import { getJson, postJson, putJson, startServices, type TestServices } from '../../src/dev/stack/services';
import { SANDBOX_UID } from '../../src/confinement/bwrap';
import { sandboxPoolWorkflowId } from '../../src/workflows/sandboxPool.contract';
import { WORKSPACE_ID_ATTRIBUTE } from '../../src/workflows/searchAttributes';
import { offlineReply, until } from '../support/polling';
import { agentReply, sendMessage } from '../support/tabs';

jest.setTimeout(300_000);

const WS = 'ws-pools';

describe('warm sandbox pools', () => {
  let services: TestServices;
  let repo: string;
  let otherRepo: string;
  const url = (p: string) => `${services.baseUrl}${p}`;
  const setPool = (body: Record<string, unknown>) => putJson(url(`/v1/workspaces/${WS}/sandbox-pools`), body);
  const members = () => services.prisma.warmSandbox.findMany({ where: { pool: { workspaceId: WS } }, orderBy: { readyAt: 'asc' } });
  const readyMembers = (n: number) =>
    until(
      async () => (await members()).filter((m) => m.state === 'ready'),
      (ready) => ready.length === n,
    );
  const create = async (repository: string, prompt: string, openSession = false) => {
    const res = await postJson(url('/v1/tasks'), { workspaceId: WS, repository, prompt, ...(openSession ? { openSession } : {}) });
    expect(res.status).toBe(201);
    return res.body as { id: string; workflowId: string; firstSession?: { id: string } };
  };
  const runningSandbox = async (taskId: string) => {
    const task = await until(
      () => services.prisma.task.findUniqueOrThrow({ where: { id: taskId } }),
      (t) => t.status === 'running' || t.status === 'error',
    );
    expect({ status: task.status, message: task.status === 'error' ? task.statusMessage : '' }).toEqual({ status: 'running', message: '' });
    return { task, sandbox: await services.prisma.sandbox.findUniqueOrThrow({ where: { id: task.activeSandboxId! } }) };
  };
  /** git for reading what a test looks at (a checkout the sandbox's uid owns: no hooks, ownership check off). */
  const git = (dir: string, ...args: string[]) =>
    execFileSync('git', ['-c', 'safe.directory=*', '-c', 'core.hooksPath=/dev/null', '-C', dir, ...args], { encoding: 'utf8' }).trim();
  /** Whether anything of a destroyed member is left: its directory, a process in its cgroup. */
  const remains = (id: string) => existsSync(services.local.paths(id).root) || services.local.sandboxProcesses(id).length > 0;

  beforeAll(async () => {
    services = await startServices();
    repo = await createTestRepo(path.join(services.repoRoot, `pool-repo-${Date.now()}`));
    otherRepo = await createTestRepo(path.join(services.repoRoot, `pool-other-${Date.now()}`));
  });
  afterAll(async () => {
    await setPool({ repository: repo, size: 0 }).catch(() => undefined);
    await until(members, (m) => m.length === 0, 60_000).catch(() => undefined);
    await services?.stop();
  });

  it('refuses a bad pool request with the field at fault', async () => {
    const cases: Array<[Record<string, unknown>, number, string, string]> = [
      [{ repository: repo, size: 21 }, 400, 'validation_failed', 'body.size'],
      [{ repository: repo, size: -1 }, 400, 'validation_failed', 'body.size'],
      [{ repository: repo, size: 1, idleTimeoutSeconds: 1 }, 400, 'validation_failed', 'body.idleTimeoutSeconds'],
      [{ repository: repo, size: 1, extra: true }, 400, 'validation_failed', 'body.extra'],
      [{ repository: '/etc', size: 1 }, 400, 'repository_not_allowed', 'body.repository'],
      [{ repository: repo, size: 1, provider: 'nope' }, 400, 'unknown_provider', 'body.provider'],
    ];
    for (const [body, status, code, field] of cases) {
      const res = await setPool(body);
      expect({ body, status: res.status, code: res.body?.error?.code, field: res.body?.error?.field }).toEqual({ body, status, code, field });
    }
    expect(await members()).toEqual([]);
  });

  it('fills the pool with confined running sandboxes; a task claims one, fetches and checks out its branch inside it, and the pool refills', async () => {
    const put = await setPool({ repository: repo, size: 2 });
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({ repository: repo, provider: 'local', agent: 'offline', size: 2, idleTimeoutSeconds: 1800 });
    const warm = await readyMembers(2);
    for (const m of warm) {
      // sandbox-agent runs in the member's own cgroup, and its egress token is the member's (unusable until claimed).
      expect(services.local.agentProcesses(m.id)).toHaveLength(1);
      expect(m.egressTokenHash).toMatch(/^[0-9a-f]{64}$/);
      expect(git(services.local.paths(m.id).repo, 'rev-parse', '--abbrev-ref', 'HEAD')).toBe('main');
    }
    const listed = await getJson(url(`/v1/workspaces/${WS}/sandbox-pools`));
    expect(listed.body.items).toEqual([expect.objectContaining({ id: put.body.id, size: 2, ready: 2, warming: 0, lastError: null })]);
    // Its run is visible in Temporal, waiting, and found by its workspace.
    const poolRun = await services.temporal.workflow.getHandle(sandboxPoolWorkflowId(put.body.id)).describe();
    expect(poolRun.status.name).toBe('RUNNING');
    expect(poolRun.typedSearchAttributes.get(WORKSPACE_ID_ATTRIBUTE)).toBe(WS);

    // The repository moves on after the members were cloned: the claim must fetch.
    writeFileSync(path.join(repo, 'after-warm.txt'), 'pushed after the pool warmed\n');
    git(repo, 'add', 'after-warm.txt');
    git(repo, '-c', 'user.email=t@example.invalid', '-c', 'user.name=T', 'commit', '-qm', 'after warm');
    const head = git(repo, 'rev-parse', 'HEAD');
    // Hostile checkouts: each member's repository runs a hook on checkout. Host git never runs hooks,
    // so the file it writes proves the checkout ran inside the sandbox, as the sandbox's uid.
    for (const m of warm) {
      const hook = path.join(services.local.paths(m.id).repo, '.git', 'hooks', 'post-checkout');
      writeFileSync(hook, '#!/bin/sh\nid -u > "$(git rev-parse --git-dir)/checkout-uid"\n');
      chmodSync(hook, 0o755);
    }

    const created = await create(repo, 'Claim a warm sandbox', true);
    const { task, sandbox } = await runningSandbox(created.id);
    const oldest = warm[0]!;
    expect(sandbox.id).toBe(oldest.id); // the oldest ready member
    expect(sandbox).toMatchObject({
      state: 'ready',
      hostId: oldest.hostId,
      egressTokenHash: oldest.egressTokenHash,
      details: expect.objectContaining({ warmPoolId: put.body.id }),
    });
    expect(await services.prisma.warmSandbox.findUnique({ where: { id: sandbox.id } })).toBeNull();
    const checkout = services.local.paths(sandbox.id).repo;
    expect(git(checkout, 'rev-parse', '--abbrev-ref', 'HEAD')).toBe(task.branchName);
    expect(git(checkout, 'rev-parse', 'HEAD')).toBe(head);
    expect(existsSync(path.join(checkout, 'after-warm.txt'))).toBe(true);
    expect(readFileSync(path.join(checkout, '.git', 'checkout-uid'), 'utf8').trim()).toBe(String(SANDBOX_UID));
    // The member's agent serves the task: the same process, no new start, the session it opened ahead, and its tab answers.
    expect(services.local.agentProcesses(sandbox.id)).toEqual([(oldest.details as { agentPid: number }).agentPid]);
    expect(task.activeSessionId).toBe((oldest.details as { sessionId: string }).sessionId);
    const tab = created.firstSession!.id;
    expect(await agentReply(services, tab, 1)).toBe(offlineReply('Claim a warm sandbox'));
    const again = await sendMessage(services, task.id, tab, 'still here');
    expect(await agentReply(services, tab, again)).toBe(offlineReply('still here'));

    // The pool refills to its size with a new member; the claimed one never comes back.
    const refilled = await readyMembers(2);
    expect(refilled.map((m) => m.id)).toContain(warm[1]!.id);
    expect(refilled.map((m) => m.id)).not.toContain(sandbox.id);
  });

  it('gives two tasks never the same member: five tasks at once against two ready members', async () => {
    const ready = await readyMembers(2);
    const tasks = await Promise.all(Array.from({ length: 5 }, (_, i) => create(repo, `Concurrent claim ${i + 1}`)));
    const sandboxes = await Promise.all(tasks.map(async (t) => (await runningSandbox(t.id)).sandbox));
    const ids = sandboxes.map((s) => s.id);
    expect(new Set(ids).size).toBe(5);
    const claimed = sandboxes.filter((s) => (s.details as { warmPoolId?: string }).warmPoolId);
    expect(claimed.length).toBeGreaterThanOrEqual(2);
    for (const m of ready) expect(ids).toContain(m.id); // both ready members went to tasks
    // No claimed sandbox is still (or again) a pool member, and each has one owner.
    expect(await services.prisma.warmSandbox.findMany({ where: { id: { in: ids } } })).toEqual([]);
    expect(await services.prisma.sandbox.groupBy({ by: ['id'], where: { id: { in: ids } }, _count: { taskId: true } })).toHaveLength(5);
    for (const s of sandboxes) {
      const task = await services.prisma.task.findUniqueOrThrow({ where: { id: s.taskId } });
      expect(git(services.local.paths(s.id).repo, 'rev-parse', '--abbrev-ref', 'HEAD')).toBe(task.branchName);
    }
    await readyMembers(2);
  });

  it('takes the usual path on a miss: a repository without a pool', async () => {
    const created = await create(otherRepo, 'No pool for this one');
    const { task, sandbox } = await runningSandbox(created.id);
    expect((sandbox.details as { warmPoolId?: string }).warmPoolId).toBeUndefined();
    expect(git(services.local.paths(sandbox.id).repo, 'rev-parse', '--abbrev-ref', 'HEAD')).toBe(task.branchName);
  });

  it('destroys idle members cleanly and replaces them, and drains the pool at size 0', async () => {
    const before = await readyMembers(2);
    expect((await setPool({ repository: repo, size: 2, idleTimeoutSeconds: 10 })).status).toBe(200);
    // Both expire (ready longer than 10 s) and are replaced by new members.
    const replaced = await until(
      async () => (await members()).filter((m) => m.state === 'ready'),
      (ready) => ready.length === 2 && ready.every((m) => !before.some((b) => b.id === m.id)),
      120_000,
    );
    for (const b of before) expect(remains(b.id)).toBe(false);
    for (const m of replaced) expect(services.local.agentProcesses(m.id)).toHaveLength(1);

    expect((await setPool({ repository: repo, size: 0 })).status).toBe(200);
    await until(members, (m) => m.length === 0, 60_000);
    for (const m of replaced) expect(remains(m.id)).toBe(false);
    const poolId = (await getJson(url(`/v1/workspaces/${WS}/sandbox-pools`))).body.items[0].id as string;
    // With nothing left to keep, its run ends.
    await until(
      async () => (await services.temporal.workflow.getHandle(sandboxPoolWorkflowId(poolId)).describe()).status.name,
      (s) => s === 'COMPLETED',
      60_000,
    );
    // A task now misses and takes the usual path.
    const { sandbox } = await runningSandbox((await create(repo, 'After the pool was turned off')).id);
    expect((sandbox.details as { warmPoolId?: string }).warmPoolId).toBeUndefined();
  });
});
