/**
 * Sandbox host registration (docs/DEPLOYMENT.md#sandbox-hosts): a worker with the `sandbox_host` role
 * writes its row in `sandbox_hosts` at start (id, task queue, capacity) and heartbeats it while it
 * runs (last seen, live sandboxes). Placement (./placement.ts) offers only live hosts; the lost-host
 * sweep (./lostHosts.ts) acts on hosts unseen for SANDBOX_HOST_LOST_AFTER.
 */
import { Prisma, type PrismaClient } from '../generated/prisma/client';
import type { Logger } from '../logger';
import type { SandboxHostConfig } from '../config';

/** Sandbox states that take a host's room: every one but these. */
export const ROOMLESS_SANDBOX_STATES = ['destroyed', 'lost'] as const;

/** SQL condition that sandbox host row `h` is live: seen within three heartbeats, not stopped, not lost. */
export const LIVE_HOST = Prisma.sql`h.stopped_at IS NULL AND h.lost_at IS NULL AND h.last_seen_at > now() - make_interval(secs => h.heartbeat_seconds * 3)`;

/**
 * The task queue of sandbox host `hostId` in the deployment whose shared queue is `orchestrationQueue`:
 * every activity on one of its sandboxes is scheduled there (Temporal's worker-specific task queues).
 */
export function sandboxHostTaskQueue(orchestrationQueue: string, hostId: string): string {
  return `${orchestrationQueue}-host-${hostId}`;
}

/** A host's registration, as it heartbeats. */
export interface HostRegistration extends Pick<SandboxHostConfig, 'id' | 'capacity' | 'heartbeatSeconds'> {
  orchestrationQueue: string;
  taskQueue: string;
}

/**
 * Writes (or refreshes) host `reg.id`: seen now, not stopped, not lost, with its live sandboxes counted.
 * @returns when it was last seen before this call (null for a new host): what happened to its
 *   sandboxes while it was away is later than that.
 */
export async function heartbeatHost(prisma: PrismaClient, reg: HostRegistration): Promise<Date | null> {
  const [row] = await prisma.$queryRaw<Array<{ previous: Date | null }>>`
    WITH previous AS (SELECT last_seen_at FROM sandbox_hosts WHERE id = ${reg.id}),
         live AS (SELECT ((SELECT count(*) FROM sandboxes WHERE host_id = ${reg.id} AND state::text NOT IN ('destroyed', 'lost'))
                       + (SELECT count(*) FROM warm_sandboxes WHERE host_id = ${reg.id}))::int AS n)
    INSERT INTO sandbox_hosts (id, orchestration_queue, task_queue, capacity, heartbeat_seconds, live_sandboxes, last_seen_at)
    VALUES (${reg.id}, ${reg.orchestrationQueue}, ${reg.taskQueue}, ${reg.capacity}, ${reg.heartbeatSeconds}, (SELECT n FROM live), now())
    ON CONFLICT (id) DO UPDATE SET orchestration_queue = EXCLUDED.orchestration_queue, task_queue = EXCLUDED.task_queue,
      capacity = EXCLUDED.capacity, heartbeat_seconds = EXCLUDED.heartbeat_seconds, live_sandboxes = EXCLUDED.live_sandboxes,
      last_seen_at = now(), stopped_at = NULL, lost_at = NULL
    RETURNING (SELECT last_seen_at FROM previous) AS previous`;
  return row?.previous ?? null;
}

/** Records host `id` as shut down cleanly: placement skips it until it heartbeats again. Its sandboxes stay its own until it has been unseen for SANDBOX_HOST_LOST_AFTER, stopped or not (./lostHosts.ts). */
export async function markHostStopped(prisma: PrismaClient, id: string): Promise<void> {
  await prisma.sandboxHost.updateMany({ where: { id }, data: { stoppedAt: new Date() } });
}

/**
 * Heartbeats host `reg` now and every `reg.heartbeatSeconds` until the returned stop function is
 * called, which records the host stopped. A heartbeat that fails (database down) is logged; the next
 * one tries again. The first heartbeat is awaited, so a host is placeable once this returns. The stop
 * function records the host stopped unless `markStopped: false` (a test's stand-in for a host that vanished).
 * @returns the stop function, and the host's previous last-seen time (see {@link heartbeatHost}).
 */
export async function runHostHeartbeat(opts: {
  prisma: PrismaClient;
  registration: HostRegistration;
  logger: Logger;
}): Promise<{ stop: (how?: { markStopped?: boolean }) => Promise<void>; previousLastSeen: Date | null }> {
  const { prisma, registration, logger } = opts;
  let previousLastSeen: Date | null = null;
  try {
    previousLastSeen = await heartbeatHost(prisma, registration);
  } catch (err) {
    logger.error({ err, hostId: registration.id }, 'sandbox host registration failed; retrying with the next heartbeat');
  }
  let running: Promise<unknown> = Promise.resolve();
  const timer = setInterval(() => {
    running = running.then(() => heartbeatHost(prisma, registration)).catch((err) => logger.error({ err, hostId: registration.id }, 'sandbox host heartbeat failed'));
  }, registration.heartbeatSeconds * 1_000);
  logger.info({ hostId: registration.id, taskQueue: registration.taskQueue, capacity: registration.capacity }, 'sandbox host registered');
  return {
    previousLastSeen,
    async stop(how) {
      clearInterval(timer);
      await running;
      if (how?.markStopped === false) return;
      await markHostStopped(prisma, registration.id).catch((err) => logger.warn({ err, hostId: registration.id }, 'could not record the sandbox host stopped'));
    },
  };
}
