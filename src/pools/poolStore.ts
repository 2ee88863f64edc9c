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

/** The pools as the API shows them, their members counted in one query. */
async function toRecords(prisma: PrismaClient, pools: SandboxPool[]): Promise<SandboxPoolRecord[]> {
  const counts = await prisma.warmSandbox.groupBy({ by: ['poolId', 'state'], where: { poolId: { in: pools.map((p) => p.id) } }, _count: { _all: true } });
  return pools.map((pool) => toRecord(pool, (state) => counts.find((c) => c.poolId === pool.id && c.state === state)?._count._all ?? 0));
}

/** One pool as the API shows it, `count` giving its members in a state. */
function toRecord(pool: SandboxPool, count: (state: 'ready' | 'warming') => number): SandboxPoolRecord {
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
  return (await toRecords(prisma, [pool]))[0]!;
}

/** The workspace's pools, oldest first, counted. */
export async function listSandboxPools(prisma: PrismaClient, workspaceId: string): Promise<SandboxPoolRecord[]> {
  const pools = await prisma.sandboxPool.findMany({ where: { workspaceId }, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] });
  return toRecords(prisma, pools);
}

/** The pools whose run must be going (a size above 0, or members left to destroy): id and workspace. */
export async function activePools(prisma: PrismaClient): Promise<Array<{ id: string; workspaceId: string }>> {
  return prisma.sandboxPool.findMany({ where: { OR: [{ size: { gt: 0 } }, { members: { some: {} } }] }, select: { id: true, workspaceId: true } });
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
    const isIdle = (m: (typeof members)[number]) => m.readyAt !== null && now - m.readyAt.getTime() >= idleMs;
    const ready = members.filter((m) => m.state === 'ready'); // oldest first
    const fresh = ready.filter((m) => !isIdle(m));
    // Due now: idle members, the oldest fresh ones beyond the size, and (pool off) those a stopped run left warming.
    const due = [...ready.filter(isIdle), ...fresh.slice(0, Math.max(0, fresh.length - size)), ...(size === 0 ? members.filter((m) => m.state === 'warming') : [])];
    const dueIds = new Set(due.map((m) => m.id));
    if (dueIds.size) await tx.warmSandbox.updateMany({ where: { id: { in: [...dueIds] }, state: { in: ['ready', 'warming'] } }, data: { state: 'expiring' } });
    const at = (m: (typeof members)[number]): PoolMemberLocation => ({ memberId: m.id, taskQueue: m.host.taskQueue });
    const kept = members.filter((m) => m.state !== 'expiring' && !dueIds.has(m.id));
    const nextExpiry = kept.filter((m) => m.readyAt).reduce((soonest, m) => Math.min(soonest, m.readyAt!.getTime() + idleMs - now), MAX_CHECK_INTERVAL_MS);
    return {
      retired: size === 0 && members.length === 0,
      expiring: members.filter((m) => m.state === 'expiring' || dueIds.has(m.id)).map(at),
      unfinished: kept.filter((m) => m.state === 'warming').map(at),
      shortfall: Math.max(0, size - kept.length),
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
