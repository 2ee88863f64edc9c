/**
 * Activities that place a new sandbox on a sandbox host and tell a workflow where an existing one
 * lives (contract: src/workflows/sandboxHosts.contract.ts). They run on the shared (orchestration)
 * task queue and touch only Postgres: the queue they run on names the deployment whose hosts count.
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import type { PrismaClient } from '../generated/prisma/client';
import type { Logger } from '../logger';
import { refillSandboxPool } from '../temporal/client';
import { isReleased } from '../domain/status';
import { isPlaced, placeSandbox, type Placement, type PlacementRequest } from '../hosts/placement';
import { claimWarmSandbox } from '../pools/claim';
import type { SandboxPlacementActivities } from '../workflows/sandboxHosts.contract';
import { asActivityErrors } from './errors';
import type { StepProgressReporter } from './progress';

export interface PlacementActivityDeps {
  prisma: PrismaClient;
  progress: StepProgressReporter;
  /** Wakes a warm pool's run after a claim (src/pools); without it the run refills at its next look. */
  temporal?: Client;
  logger?: Logger;
}

/** How often a placement waiting for room looks again, ms. */
const PLACEMENT_POLL_MS = 1_000;
/** A waiting placement gives up this long before its attempt's limit, ms, so it fails with its own reason. */
const PLACEMENT_MARGIN_MS = 5_000;

/** A task's placement request: always for the task's workspace. */
type TaskPlacement = PlacementRequest & { workspaceId: string };

export function createSandboxPlacementActivities(deps: PlacementActivityDeps): SandboxPlacementActivities {
  const { prisma } = deps;
  /** What the task's placement asks for, unless it was killed or archived before placement ran (then nothing is made, for good). */
  const placementOf = async (taskId: string): Promise<TaskPlacement> => {
    const task = await prisma.task.findUniqueOrThrow({ where: { id: taskId }, select: { providerId: true, status: true, workspaceId: true, repository: true } });
    if (isReleased(task.status)) throw ApplicationFailure.nonRetryable(`the task was ${task.status} before this step ran; nothing was made`, 'TaskKilled');
    return { taskId, providerId: task.providerId, workspaceId: task.workspaceId, repository: task.repository, orchestrationQueue: Context.current().info.taskQueue };
  };
  /**
   * The placement; when a member was claimed, its pool's run is woken to refill, without waiting for
   * Temporal's answer (not on the task's path; a lost signal only delays the refill to the run's next look).
   */
  const afterClaim = (placed: Placement, request: TaskPlacement): Placement => {
    if (placed.claimedFromPool && deps.temporal) {
      // A pool serves one workspace, so the claiming task's is the pool's.
      const pool = { id: placed.claimedFromPool, workspaceId: request.workspaceId };
      void refillSandboxPool(deps.temporal, { taskQueue: Context.current().info.taskQueue, pool }).catch((err: unknown) => {
        deps.logger?.warn({ err, poolId: placed.claimedFromPool }, 'could not wake the warm pool after a claim; it refills at its next look');
      });
    }
    const { claimedFromPool: _claimed, ...location } = placed;
    return location;
  };
  return {
    async tryPlaceSandbox({ taskId }) {
      return asActivityErrors(async () => {
        const request = await placementOf(taskId);
        const placed = await placeSandbox(prisma, request, claimWarmSandbox);
        return isPlaced(placed) ? afterClaim(placed, request) : null;
      });
    },

    async placeSandbox({ taskId }) {
      return asActivityErrors(async () => {
        const ctx = Context.current();
        const request = await placementOf(taskId);
        const giveUpAt = Date.now() + ctx.info.startToCloseTimeoutMs - PLACEMENT_MARGIN_MS;
        let waitingSince: number | null = null;
        for (;;) {
          const placed = await placeSandbox(prisma, request, claimWarmSandbox);
          if (isPlaced(placed)) return afterClaim(placed, request);
          const why = placed.liveHosts === 0 ? 'no sandbox host is live' : `all ${placed.liveHosts} live sandbox hosts are full`;
          if (waitingSince === null) {
            waitingSince = Date.now();
            const report = deps.progress('init_create_sandbox', taskId);
            await report('waiting_for_sandbox_host', `waiting for a sandbox host: ${why}`);
            await report.close();
          }
          if (Date.now() + PLACEMENT_POLL_MS > giveUpAt) {
            throw ApplicationFailure.retryable(`no sandbox host had room for ${Math.round((Date.now() - waitingSince) / 1_000)} s (${why})`, 'NoSandboxHost');
          }
          ctx.heartbeat({ subStep: 'waiting_for_sandbox_host' });
          await ctx.sleep(PLACEMENT_POLL_MS);
        }
      });
    },

    async locateSandbox({ sandboxId }) {
      const row = await prisma.sandbox.findUniqueOrThrow({ where: { id: sandboxId }, select: { hostId: true, host: { select: { taskQueue: true } } } });
      if (!row.hostId || !row.host) throw ApplicationFailure.retryable(`sandbox ${sandboxId} has no host yet (its host adopts it when it starts)`, 'SandboxWithoutHost');
      return { sandboxId, hostId: row.hostId, taskQueue: row.host.taskQueue };
    },
  };
}
