/**
 * Claiming a warm pool member for a new task (docs/ARCHITECTURE.md#warm-sandbox-pools), inside
 * placement's transaction and lock (src/hosts/placement.ts).
 *
 * A claim is one transaction: the oldest `ready` member of the workspace's pool for the repository and
 * provider, on a live host, is deleted from `warm_sandboxes` and inserted into `sandboxes` under the
 * same id (the provider's key of its files), owned by the task, `ready`, with its agent's endpoint and
 * egress token hash. So two tasks never get the same member (the row is locked, then gone), a claimed
 * sandbox never returns to the pool (nothing writes a `warm_sandboxes` row for it again), and a worker
 * that dies mid-claim leaves either the member in the pool or the task with its sandbox, never both or
 * neither. The task's `createSandbox` step then fetches and checks out its branch inside the sandbox
 * (src/providers/local/git.ts checkoutInside).
 */
import type { Prisma } from '../generated/prisma/client';
import type { WarmSandboxClaim } from '../hosts/placement';
import { LIVE_HOST } from '../hosts/registry';

/** `sandboxes.details` keys a claim adds: the pool the sandbox came from and when it was claimed (ISO 8601). */
export interface ClaimedDetails {
  warmPoolId: string;
  claimedAt: string;
}

/** Whether a sandbox row's details say it was claimed from a warm pool. */
export function wasClaimed(details: unknown): details is ClaimedDetails {
  return typeof details === 'object' && details !== null && typeof (details as { warmPoolId?: unknown }).warmPoolId === 'string';
}

/**
 * Claims a ready member for `taskId` (see the header). Must run under the placement lock.
 * @returns the placement of the claimed sandbox, or null when the pool has no ready member on a live host (a miss).
 */
export const claimWarmSandbox: WarmSandboxClaim = async (tx, opts) => {
  const [member] = await tx.$queryRaw<
    Array<{
      id: string;
      pool_id: string;
      host_id: string;
      task_queue: string;
      provider_sandbox_id: string | null;
      directory: string | null;
      agent_endpoint: string | null;
      details: Prisma.JsonValue;
      egress_token_hash: string | null;
    }>
  >`
    WITH taken AS (
      DELETE FROM warm_sandboxes w
       WHERE w.id = (
         SELECT m.id FROM warm_sandboxes m
           JOIN sandbox_pools p ON p.id = m.pool_id
           JOIN sandbox_hosts h ON h.id = m.host_id
          WHERE p.workspace_id = ${opts.workspaceId} AND p.repository = ${opts.repository} AND p.provider_id = ${opts.providerId}
            AND m.state = 'ready' AND h.orchestration_queue = ${opts.orchestrationQueue} AND ${LIVE_HOST}
          ORDER BY m.ready_at, m.id
          LIMIT 1
          FOR UPDATE OF m SKIP LOCKED)
      RETURNING w.*)
    SELECT t.id, t.pool_id, t.host_id, h.task_queue, t.provider_sandbox_id, t.directory, t.agent_endpoint, t.details, t.egress_token_hash
      FROM taken t JOIN sandbox_hosts h ON h.id = t.host_id`;
  if (!member) return null;
  const details: ClaimedDetails = { warmPoolId: member.pool_id, claimedAt: new Date().toISOString() };
  await tx.sandbox.create({
    data: {
      id: member.id,
      taskId: opts.taskId,
      providerId: opts.providerId,
      providerSandboxId: member.provider_sandbox_id,
      directory: member.directory,
      agentEndpoint: member.agent_endpoint,
      state: 'ready',
      hostId: member.host_id,
      egressTokenHash: member.egress_token_hash,
      details: { ...(member.details as object), ...details } as Prisma.InputJsonValue,
    },
  });
  await tx.task.update({ where: { id: opts.taskId }, data: { sandboxState: 'ready' } });
  return { sandboxId: member.id, hostId: member.host_id, taskQueue: member.task_queue, claimedFromPool: member.pool_id };
};
