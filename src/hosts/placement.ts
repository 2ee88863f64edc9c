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
import type { PrismaClient } from '../generated/prisma/client';
import { ROOMLESS_SANDBOX_STATES } from './registry';

/** Where a task's sandbox lives: its row and its host's task queue. */
export interface Placement {
  sandboxId: string;
  hostId: string;
  taskQueue: string;
}

/** What placement saw when no host had room. */
export interface NoRoom {
  liveHosts: number;
}

/**
 * The task's sandbox row with its host: the one it has (not destroyed or lost: a retry after a
 * failed step keeps its clone), or a new `creating` row on the host picked by the rule above.
 * @returns the placement, or `{ liveHosts }` when every live host is full (or there is none).
 * @throws Error when the task's existing sandbox has files but no host yet (made before hosts existed:
 *   the host holding it adopts it at its start, src/recovery/sandboxAgents.ts); retrying later works.
 */
export async function placeSandbox(prisma: PrismaClient, opts: { taskId: string; providerId: string; orchestrationQueue: string }): Promise<Placement | NoRoom> {
  return prisma.$transaction(async (tx) => {
    await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext('sandbox-placement'), hashtext(${opts.orchestrationQueue}))`;
    const existing = await tx.sandbox.findFirst({
      where: { taskId: opts.taskId, providerId: opts.providerId, state: { notIn: [...ROOMLESS_SANDBOX_STATES] } },
      orderBy: { createdAt: 'desc' },
      include: { host: { select: { taskQueue: true } } },
    });
    if (existing?.hostId && existing.host) return { sandboxId: existing.id, hostId: existing.hostId, taskQueue: existing.host.taskQueue };
    if (existing?.directory) throw new Error(`sandbox ${existing.id} was made before sandbox hosts existed and no host has adopted it yet`);
    const hosts = await tx.$queryRaw<Array<{ id: string; task_queue: string; live: number; capacity: number }>>`
      SELECT h.id, h.task_queue, h.capacity, count(s.id)::int AS live
        FROM sandbox_hosts h
        LEFT JOIN sandboxes s ON s.host_id = h.id AND s.state::text NOT IN ('destroyed', 'lost')
       WHERE h.orchestration_queue = ${opts.orchestrationQueue} AND h.stopped_at IS NULL AND h.lost_at IS NULL
         AND h.last_seen_at > now() - make_interval(secs => h.heartbeat_seconds * 3)
       GROUP BY h.id`;
    const open = hosts.filter((h) => h.live < h.capacity).sort((a, b) => a.live / a.capacity - b.live / b.capacity || a.live - b.live || (a.id < b.id ? -1 : 1));
    const host = open[0];
    if (!host) return { liveHosts: hosts.length };
    // A row made by a step that failed before it had a host (none was live then) is given one.
    const row = existing
      ? await tx.sandbox.update({ where: { id: existing.id }, data: { hostId: host.id } })
      : await tx.sandbox.create({ data: { id: randomUUID(), taskId: opts.taskId, providerId: opts.providerId, state: 'creating', hostId: host.id } });
    await tx.task.update({ where: { id: opts.taskId }, data: { sandboxState: row.state } });
    return { sandboxId: row.id, hostId: host.id, taskQueue: host.task_queue };
  });
}

/** Narrows a placement result. */
export function isPlaced(p: Placement | NoRoom): p is Placement {
  return 'sandboxId' in p;
}
