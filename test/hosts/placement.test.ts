/**
 * Placement and host bookkeeping on the real database, without workers (src/hosts): which host a new
 * sandbox goes to (least share of capacity used among the live hosts with room), that concurrent
 * placements never overfill a host, that a task keeps its sandbox and host, and that a starting host
 * adopts the sandboxes made before hosts whose files it holds.
 */
import { randomUUID } from 'node:crypto';
import { createPrismaClient, type PrismaClient } from '../../src/db/prisma';
import { readStack } from '../../src/dev/stack/stackFile';
import { createLogger } from '../../src/logger';
import { heartbeatHost, markHostStopped, sandboxHostTaskQueue } from '../../src/hosts/registry';
import { isPlaced, placeSandbox } from '../../src/hosts/placement';
import type { SandboxProvider } from '../../src/providers/types';
import { adoptAndCleanUp } from '../../src/recovery/sandboxAgents';

describe('placement', () => {
  const { databaseUrl } = readStack();
  let prisma: PrismaClient;

  beforeAll(() => {
    prisma = createPrismaClient(databaseUrl);
  });
  afterAll(async () => {
    await prisma.$disconnect();
  });

  /** A deployment of its own (its own orchestration queue), so other suites' hosts never count. */
  const deployment = () => `placement-${randomUUID().slice(0, 8)}`;
  const register = async (queue: string, id: string, capacity: number) => {
    await heartbeatHost(prisma, { id: `${queue}-${id}`, orchestrationQueue: queue, taskQueue: sandboxHostTaskQueue(queue, `${queue}-${id}`), capacity, heartbeatSeconds: 10 });
    return `${queue}-${id}`;
  };
  const newTask = async () => {
    const id = randomUUID();
    await prisma.task.create({
      data: { id, workspaceId: 'ws-placement', repository: '/repo', prompt: 'p', providerId: 'local', agentType: 'offline', statusMessage: 'queued', workflowId: `wf-${id}` },
    });
    return id;
  };
  /** Fills host `hostId` with `n` sandboxes of tasks of their own. */
  const fill = async (hostId: string, n: number) => {
    for (let i = 0; i < n; i++) await prisma.sandbox.create({ data: { id: randomUUID(), taskId: await newTask(), providerId: 'local', state: 'ready', hostId } });
  };
  const place = async (queue: string, taskId?: string) => placeSandbox(prisma, { taskId: taskId ?? (await newTask()), providerId: 'local', orchestrationQueue: queue });

  it('picks the live host with the least share of its capacity used, then the fewest sandboxes', async () => {
    const queue = deployment();
    const big = await register(queue, 'big', 10); // 4 of 10: 40 %
    const small = await register(queue, 'small', 2); // 1 of 2: 50 %
    const fresh = await register(queue, 'fresh', 5); // 0 of 5, but stopped: not offered
    await fill(big, 4);
    await fill(small, 1);
    await markHostStopped(prisma, fresh);
    const first = await place(queue);
    expect(first).toMatchObject({ hostId: big, taskQueue: sandboxHostTaskQueue(queue, big) });
    // big is now 5 of 10 (50 %), tied with small at 50 %: the one with fewer sandboxes.
    expect(await place(queue)).toMatchObject({ hostId: small });
    // small is full (2 of 2): only big is offered.
    expect(await place(queue)).toMatchObject({ hostId: big });
    // A destroyed or lost sandbox frees its slot.
    await prisma.sandbox.updateMany({ where: { hostId: small }, data: { state: 'lost' } });
    expect(await place(queue)).toMatchObject({ hostId: small });
  });

  it('offers no host that is unseen for three heartbeats, stopped or lost, and says how many are live', async () => {
    const queue = deployment();
    const stale = await register(queue, 'stale', 5);
    const lost = await register(queue, 'lost', 5);
    await prisma.sandboxHost.update({ where: { id: stale }, data: { lastSeenAt: new Date(Date.now() - 31_000) } });
    await prisma.sandboxHost.update({ where: { id: lost }, data: { lostAt: new Date() } });
    expect(await place(queue)).toEqual({ liveHosts: 0 });
    // A heartbeat brings a host back (and clears lost).
    await heartbeatHost(prisma, { id: lost, orchestrationQueue: queue, taskQueue: sandboxHostTaskQueue(queue, lost), capacity: 1, heartbeatSeconds: 10 });
    expect(await place(queue)).toMatchObject({ hostId: lost });
    expect(await place(queue)).toEqual({ liveHosts: 1 }); // its one slot is taken
  });

  it('never overfills a host under concurrent placements, and a task keeps its sandbox and host', async () => {
    const queue = deployment();
    const a = await register(queue, 'a', 3);
    const b = await register(queue, 'b', 3);
    const results = await Promise.all(Array.from({ length: 10 }, () => place(queue)));
    const placed = results.filter(isPlaced);
    expect(placed).toHaveLength(6);
    expect(placed.filter((p) => p.hostId === a)).toHaveLength(3);
    expect(placed.filter((p) => p.hostId === b)).toHaveLength(3);
    expect(results.filter((r) => !isPlaced(r))).toEqual(Array.from({ length: 4 }, () => ({ liveHosts: 2 })));
    expect(await prisma.sandbox.count({ where: { hostId: { in: [a, b] } } })).toBe(6);
    // Placing a task again (a retried step) returns the sandbox it has, on its host.
    const again = await place(queue, (await prisma.sandbox.findUniqueOrThrow({ where: { id: placed[0]!.sandboxId } })).taskId);
    expect(again).toEqual(placed[0]);
  });

  it('a starting host adopts the sandboxes made before hosts whose files it holds, and no others', async () => {
    const queue = deployment();
    const host = await register(queue, 'adopter', 5);
    const mine = randomUUID();
    const theirs = randomUUID();
    for (const [id, directory] of [
      [mine, `/srv/${queue}/mine/disk/repo`],
      [theirs, `/srv/elsewhere/theirs/disk/repo`],
    ] as const) {
      await prisma.sandbox.create({ data: { id, taskId: await newTask(), providerId: 'local', state: 'ready', providerSandboxId: id, directory } });
    }
    // A provider that holds what is under its root, as the local provider's `holds` does.
    const holder = { holds: (h: { directory: string }) => h.directory.startsWith(`/srv/${queue}/`) } as unknown as SandboxProvider;
    const result = await adoptAndCleanUp({ prisma, providers: new Map([['local', holder]]), hostId: host, logger: createLogger('test', 'silent'), since: null });
    expect(result).toEqual({ adopted: 1, removed: 0 });
    expect((await prisma.sandbox.findUniqueOrThrow({ where: { id: mine } })).hostId).toBe(host);
    expect((await prisma.sandbox.findUniqueOrThrow({ where: { id: theirs } })).hostId).toBeNull();
    // Made before hosts, holding files, no host yet: placement will not guess one for it.
    await expect(place(queue, (await prisma.sandbox.findUniqueOrThrow({ where: { id: theirs } })).taskId)).rejects.toThrow(/no host has adopted it yet/);
  });
});
