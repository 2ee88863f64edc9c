/**
 * Placement (docs/DEPLOYMENT.md#placement): which sandbox host a new sandbox goes to.
 *
 * Rule: among the live hosts of the deployment (seen within three heartbeats, not stopped, not lost)
 * with free capacity, the least loaded by share of capacity used (live sandboxes / capacity), then by
 * fewest live sandboxes, then by id. Why: a sandbox's cost (about 45 MB idle, CPU while its agent
 * works) is per sandbox, so the share of a host's room in use is what evens out memory and CPU
 * across hosts of different sizes; it needs no figures from the host beyond its row, and ties are
 * broken the same way by every caller. Live sandboxes are counted from the `sandboxes` rows under a
 * placement lock, not taken from the heartbeat, so two placements at the same moment cannot both take
 * a host's last slot.
 */
import { randomUUID } from 'node:crypto';
import type { Prisma, PrismaClient } from '../generated/prisma/client';
import { LIVE_HOST, ROOMLESS_SANDBOX_STATES } from './registry';

/** Where a task's sandbox lives: its row and its host's task queue. */
export interface Placement {
  sandboxId: string;
  hostId: string;
  taskQueue: string;
  /** Set when the sandbox is a warm pool member this placement claimed (src/pools/claim.ts): the pool's id. */
  claimedFromPool?: string;
}

/**
 * Claims a ready warm pool member for the task inside placement's transaction, under its lock (the
 * warm pools' src/pools/claim.ts, passed in by the caller so hosts/ does not depend on pools/).
 * @returns its placement, or null on a miss.
 */
export type WarmSandboxClaim = (
  tx: Prisma.TransactionClient,
  opts: { taskId: string; providerId: string; orchestrationQueue: string; workspaceId: string; repository: string },
) => Promise<Placement | null>;

/** What placement saw when no host had room. */
export interface NoRoom {
  liveHosts: number;
}

/** What a new task's sandbox is placed for. */
export interface PlacementRequest {
  taskId: string;
  providerId: string;
  /** The shared task queue of the deployment whose hosts count. */
  orchestrationQueue: string;
  /** With both: a ready member of the workspace's warm pool for the repository is claimed first. */
  workspaceId?: string;
  repository?: string;
}

/** Takes the deployment's placement lock for the rest of `tx`: one placement (or claim) at a time per orchestration queue. */
export async function lockPlacement(tx: Prisma.TransactionClient, orchestrationQueue: string): Promise<void> {
  await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext('sandbox-placement'), hashtext(${orchestrationQueue}))`;
}

/**
 * The host a new sandbox goes to by the rule above, under the placement lock (./placement.ts header);
 * its load counts its sandbox rows that hold room and its warm pool members.
 * @returns the host, or `{ liveHosts }` when none has room.
 */
export async function pickHost(tx: Prisma.TransactionClient, orchestrationQueue: string): Promise<{ id: string; taskQueue: string } | NoRoom> {
  const hosts = await tx.$queryRaw<Array<{ id: string; task_queue: string; live: number; capacity: number }>>`
    SELECT h.id, h.task_queue, h.capacity,
           (SELECT count(*) FROM sandboxes s WHERE s.host_id = h.id AND s.state::text NOT IN ('destroyed', 'lost'))::int
         + (SELECT count(*) FROM warm_sandboxes w WHERE w.host_id = h.id)::int AS live
      FROM sandbox_hosts h
     WHERE h.orchestration_queue = ${orchestrationQueue} AND ${LIVE_HOST}`;
  const open = hosts.filter((h) => h.live < h.capacity).sort((a, b) => a.live / a.capacity - b.live / b.capacity || a.live - b.live || (a.id < b.id ? -1 : 1));
  const host = open[0];
  return host ? { id: host.id, taskQueue: host.task_queue } : { liveHosts: hosts.length };
}

/**
 * The task's sandbox row with its host: the one it has (not destroyed or lost: a retry after a
 * failed step keeps its clone); else, with `claim`, a ready member of the workspace's warm pool for
 * the repository, claimed (src/pools/claim.ts); else a new `creating` row on the host picked by the
 * rule above.
 * @returns the placement, or `{ liveHosts }` when every live host is full (or there is none).
 * @throws Error when the task's existing sandbox has files but no host yet (made before hosts existed:
 *   the host holding it adopts it at its start, src/recovery/sandboxAgents.ts); retrying later works.
 */
export async function placeSandbox(prisma: PrismaClient, opts: PlacementRequest, claim?: WarmSandboxClaim): Promise<Placement | NoRoom> {
  return prisma.$transaction(async (tx) => {
    await lockPlacement(tx, opts.orchestrationQueue);
    const existing = await tx.sandbox.findFirst({
      where: { taskId: opts.taskId, providerId: opts.providerId, state: { notIn: [...ROOMLESS_SANDBOX_STATES] } },
      orderBy: { createdAt: 'desc' },
      include: { host: { select: { taskQueue: true } } },
    });
    if (existing?.hostId && existing.host) return { sandboxId: existing.id, hostId: existing.hostId, taskQueue: existing.host.taskQueue };
    if (existing?.directory) throw new Error(`sandbox ${existing.id} was made before sandbox hosts existed and no host has adopted it yet`);
    if (!existing && claim && opts.workspaceId && opts.repository) {
      const claimed = await claim(tx, { ...opts, workspaceId: opts.workspaceId, repository: opts.repository });
      if (claimed) return claimed;
    }
    const host = await pickHost(tx, opts.orchestrationQueue);
    if (!('id' in host)) return host;
    // A row made by a step that failed before it had a host (none was live then) is given one.
    const row = existing
      ? await tx.sandbox.update({ where: { id: existing.id }, data: { hostId: host.id } })
      : await tx.sandbox.create({ data: { id: randomUUID(), taskId: opts.taskId, providerId: opts.providerId, state: 'creating', hostId: host.id } });
    await tx.task.update({ where: { id: opts.taskId }, data: { sandboxState: row.state } });
    return { sandboxId: row.id, hostId: host.id, taskQueue: host.taskQueue };
  });
}

/** Narrows a placement result. */
export function isPlaced(p: Placement | NoRoom): p is Placement {
  return 'sandboxId' in p;
}
