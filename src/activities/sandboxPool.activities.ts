/**
 * Activities of the `sandboxPool` workflow (contract: src/workflows/sandboxPool.contract.ts; rules:
 * docs/ARCHITECTURE.md#warm-sandbox-pools). Planning and placement run on the shared queue and touch
 * only Postgres; warming and destroying a member run on its sandbox host's queue and refuse a member
 * of another host.
 *
 * A member is made exactly like a task's sandbox (the provider's createSandbox, ensureAgent and
 * createSession for the task's initial session key, so it is confined the same way, with the
 * workspace's egress, and its session is open for the pool's agent), except that no branch is checked
 * out: the task that claims it does that inside it (src/pools/claim.ts). Every step is idempotent by the
 * member's id, the provider's key of its files, so a retried or re-planned warm reuses what an earlier
 * attempt made, and a member whose row was marked `expiring` meanwhile is destroyed, never left behind.
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Prisma, PrismaClient, WarmSandbox } from '../generated/prisma/client';
import type { EgressIssuer } from '../egress/sandboxEgress';
import type { Logger } from '../logger';
import { planPool, placePoolMember } from '../pools/poolStore';
import { INITIAL_SESSION_KEY, ProviderError, type ProviderRegistry, type SandboxHandle } from '../providers/types';
import { POOL_ACTIVITY_OPTIONS } from '../workflows/policies';
import type { SandboxPoolActivities } from '../workflows/sandboxPool.contract';
import { unexpectedErrorMessage } from './errors';
import { withKeepAliveHeartbeat } from './progress';
import { SANDBOX_MISROUTED, providerFor } from './sandboxAccess';

export interface PoolActivityDeps {
  prisma: PrismaClient;
  providers: ProviderRegistry;
  logger: Logger;
  /** This sandbox host's id: warm and destroy refuse a member of another host. */
  hostId: string;
  /** Issues a member's agent its egress token (src/egress/sandboxEgress.ts). */
  egress?: EgressIssuer;
}

/** The provider handle of a member (its id is the provider's key). */
function handleOf(m: Pick<WarmSandbox, 'id' | 'providerSandboxId' | 'directory' | 'details'>): SandboxHandle {
  return { sandboxKey: m.id, providerSandboxId: m.providerSandboxId ?? m.id, directory: m.directory ?? '', details: m.details as Record<string, unknown> };
}

export function createSandboxPoolActivities(deps: PoolActivityDeps): SandboxPoolActivities {
  const { prisma } = deps;
  const noProgress = async () => undefined;

  /** The member with its pool, on this host; null when its row is gone (claimed or destroyed). */
  const memberHere = async (memberId: string) => {
    const member = await prisma.warmSandbox.findUnique({ where: { id: memberId }, include: { pool: true } });
    if (member && member.hostId !== deps.hostId)
      throw ApplicationFailure.nonRetryable(`warm sandbox ${memberId} lives on host ${member.hostId}; this is host ${deps.hostId}`, SANDBOX_MISROUTED);
    return member;
  };

  /** Destroys a member's files and processes, then removes its row. */
  const destroy = async (member: WarmSandbox & { pool: { providerId: string } }) => {
    await providerFor(deps.providers, member.pool.providerId).destroySandbox(handleOf(member));
    await prisma.warmSandbox.deleteMany({ where: { id: member.id } });
  };

  return {
    async planSandboxPool({ poolId }) {
      return planPool(prisma, poolId);
    },

    async placeWarmSandbox({ poolId }) {
      return placePoolMember(prisma, { poolId, orchestrationQueue: Context.current().info.taskQueue });
    },

    async warmSandbox({ memberId }) {
      const member = await memberHere(memberId);
      if (!member) return { ready: false };
      if (member.state === 'ready') return { ready: true };
      if (member.state === 'expiring') {
        await destroy(member);
        return { ready: false };
      }
      const provider = providerFor(deps.providers, member.pool.providerId);
      try {
        const handle = await withKeepAliveHeartbeat(() => provider.createSandbox({ sandboxKey: member.id, repository: member.pool.repository, branchName: null }, noProgress));
        const egress = deps.egress?.({ sandboxId: member.id, workspaceId: member.pool.workspaceId });
        const agent = await withKeepAliveHeartbeat(() => provider.ensureAgent(handle, noProgress, { egress }));
        // The session the claiming task's provisioning would open, opened ahead for the pool's agent.
        const session = await withKeepAliveHeartbeat(() =>
          provider.createSession({ ...handle, agentEndpoint: agent.endpoint }, { agent: member.pool.agent, sessionKey: INITIAL_SESSION_KEY }, noProgress),
        );
        // Claimable from now on, unless it was marked expiring (the pool was turned off) meanwhile.
        const { count } = await prisma.warmSandbox.updateMany({
          where: { id: member.id, state: 'warming' },
          data: {
            state: 'ready',
            readyAt: new Date(),
            providerSandboxId: handle.providerSandboxId,
            directory: handle.directory,
            agentEndpoint: agent.endpoint,
            details: { ...handle.details, ...agent.details, ...session.details } as Prisma.InputJsonValue,
          },
        });
        if (count === 0) {
          // Marked expiring, or already removed, while it warmed: what this attempt made goes too.
          await destroy(member);
          return { ready: false };
        }
        await prisma.sandboxPool.updateMany({ where: { id: member.poolId, lastError: { not: null } }, data: { lastError: null } });
        deps.logger.info({ memberId, poolId: member.poolId, endpoint: agent.endpoint }, 'warm sandbox ready');
        return { ready: true };
      } catch (err) {
        const final = err instanceof ProviderError ? !err.retryable : false;
        const lastAttempt = Context.current().info.attempt >= (POOL_ACTIVITY_OPTIONS.warm.retry.maximumAttempts ?? Infinity);
        if (!final && !lastAttempt) throw err; // retried by its policy
        // Given up: the member is removed and the pool says why; its run tries a new one later.
        const error = err instanceof ProviderError ? err.message : unexpectedErrorMessage(err);
        deps.logger.warn({ err, memberId, poolId: member.poolId }, 'warm sandbox failed; removing it');
        await destroy(member);
        await prisma.sandboxPool.update({ where: { id: member.poolId }, data: { lastError: error } });
        return { ready: false, error };
      }
    },

    async destroyWarmSandbox({ memberId }) {
      const member = await memberHere(memberId);
      if (member?.state === 'expiring') await withKeepAliveHeartbeat(() => destroy(member));
    },
  };
}
