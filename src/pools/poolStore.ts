/**
 * The warm pools' rows (docs/ARCHITECTURE.md#warm-sandbox-pools): pool settings as the API reads and
 * writes them, and what a pool run's planning and placement write. Claims: ./claim.ts.
 */
import { randomUUID } from 'node:crypto';
import type { PrismaClient, SandboxPool } from '../generated/prisma/client';
import type { SandboxPoolRecord } from '../domain/sandboxPools';
import { lockPlacement, pickHost } from '../hosts/placement';
import type { PoolMemberLocation, SandboxPoolPlan } from '../workflows/sandboxPool.contract';

/** Longest a pool run waits without a signal before it looks again, ms. */
const MAX_CHECK_INTERVAL_MS = 60_000;
/** Shortest such wait, ms. */
const MIN_CHECK_INTERVAL_MS = 1_000;

/** The pool as the API shows it, with its members counted. */
async function toRecord(prisma: PrismaClient, pool: SandboxPool): Promise<SandboxPoolRecord> {
  const counts = await prisma.warmSandbox.groupBy({ by: ['state'], where: { poolId: pool.id }, _count: { _all: true } });
  const count = (state: string) => counts.find((c) => c.state === state)?._count._all ?? 0;
  return {
    id: pool.id,
    workspaceId: pool.workspaceId,
    repository: pool.repository,
    provider: pool.providerId,
    agent: pool.agent,
    size: pool.size,
    idleTimeoutSeconds: pool.idleTimeoutSeconds,
    ready: count('ready'),
    warming: count('warming'),
    lastError: pool.lastError,
    updatedAt: pool.updatedAt.toISOString(),
  };
}

/** Creates or updates the workspace's pool for `repository` and `providerId`. @returns it, counted. */
export async function putSandboxPool(
  prisma: PrismaClient,
  p: { workspaceId: string; repository: string; providerId: string; agent: string; size: number; idleTimeoutSeconds: number },
): Promise<SandboxPoolRecord> {
  const pool = await prisma.sandboxPool.upsert({
    where: { workspaceId_repository_providerId: { workspaceId: p.workspaceId, repository: p.repository, providerId: p.providerId } },
    create: { id: randomUUID(), ...p },
    update: { size: p.size, idleTimeoutSeconds: p.idleTimeoutSeconds, agent: p.agent },
  });
  return toRecord(prisma, pool);
}

/** The workspace's pools, oldest first, counted. */
export async function listSandboxPools(prisma: PrismaClient, workspaceId: string): Promise<SandboxPoolRecord[]> {
  const pools = await prisma.sandboxPool.findMany({ where: { workspaceId }, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] });
  return Promise.all(pools.map((p) => toRecord(prisma, p)));
}

/** Ids of the pools whose run must be going: a size above 0, or members left to destroy. */
export async function activePoolIds(prisma: PrismaClient): Promise<string[]> {
  const pools = await prisma.sandboxPool.findMany({ where: { OR: [{ size: { gt: 0 } }, { members: { some: {} } }] }, select: { id: true } });
  return pools.map((p) => p.id);
}

/**
 * One look at pool `poolId` for its run, in one transaction: members `ready` longer than the idle
 * timeout, and the oldest ready ones beyond the size (all of them when the size is 0), are marked
 * `expiring` (a claim takes only `ready` rows, so a member is either claimed or expired, never both).
 * @returns the plan (./../workflows/sandboxPool.contract.ts SandboxPoolPlan).
 */
export async function planPool(prisma: PrismaClient, poolId: string): Promise<SandboxPoolPlan> {
  return prisma.$transaction(async (tx) => {
    const pool = await tx.sandboxPool.findUnique({ where: { id: poolId } });
    const members = await tx.warmSandbox.findMany({
      where: { poolId },
      orderBy: [{ readyAt: 'asc' }, { id: 'asc' }],
      include: { host: { select: { taskQueue: true } } },
    });
    const now = Date.now();
    const size = pool?.size ?? 0;
    const idleMs = (pool?.idleTimeoutSeconds ?? 0) * 1_000;
    const ready = members.filter((m) => m.state === 'ready');
    const idle = new Set(ready.filter((m) => m.readyAt && now - m.readyAt.getTime() >= idleMs).map((m) => m.id));
    const fresh = ready.filter((m) => !idle.has(m.id)); // oldest first
    const beyondSize = fresh.slice(0, Math.max(0, fresh.length - size));
    // A pool turned off also drops the members a stopped run left warming.
    const expire = [...ready.filter((m) => idle.has(m.id)), ...beyondSize, ...(size === 0 ? members.filter((m) => m.state === 'warming') : [])];
    if (expire.length) await tx.warmSandbox.updateMany({ where: { id: { in: expire.map((m) => m.id) }, state: { in: ['ready', 'warming'] } }, data: { state: 'expiring' } });
    const expiring = new Set(expire.map((m) => m.id));
    const at = (m: (typeof members)[number]): PoolMemberLocation => ({ memberId: m.id, taskQueue: m.host.taskQueue });
    const unfinished = members.filter((m) => m.state === 'warming' && !expiring.has(m.id));
    const live = members.filter((m) => (m.state === 'warming' || m.state === 'ready') && !expiring.has(m.id)).length;
    const nextExpiry = ready
      .filter((m) => !expiring.has(m.id) && m.readyAt)
      .map((m) => m.readyAt!.getTime() + idleMs - now)
      .reduce((a, b) => Math.min(a, b), MAX_CHECK_INTERVAL_MS);
    const toDestroy = members.filter((m) => m.state === 'expiring' || expiring.has(m.id));
    return {
      retired: size === 0 && members.length === 0,
      expiring: toDestroy.map(at),
      unfinished: unfinished.map(at),
      shortfall: Math.max(0, size - live),
      nextCheckMs: Math.max(MIN_CHECK_INTERVAL_MS, nextExpiry),
    };
  });
}

/**
 * A new `warming` member of pool `poolId` on the host placement picks, under the placement lock (it
 * takes room on that host like any sandbox).
 * @returns where it lives, or null when no live host has room or the pool is gone or off.
 */
export async function placePoolMember(prisma: PrismaClient, opts: { poolId: string; orchestrationQueue: string }): Promise<PoolMemberLocation | null> {
  return prisma.$transaction(async (tx) => {
    await lockPlacement(tx, opts.orchestrationQueue);
    const pool = await tx.sandboxPool.findUnique({ where: { id: opts.poolId }, select: { size: true } });
    if (!pool || pool.size === 0) return null;
    const host = await pickHost(tx, opts.orchestrationQueue);
    if (!('id' in host)) return null;
    const member = await tx.warmSandbox.create({ data: { id: randomUUID(), poolId: opts.poolId, hostId: host.id, state: 'warming' } });
    return { memberId: member.id, taskQueue: host.taskQueue };
  });
}
