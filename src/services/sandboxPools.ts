/**
 * A workspace's warm sandbox pools (docs/ARCHITECTURE.md#warm-sandbox-pools): list them, and set one
 * repository's pool (size 0 turns it off). Setting a pool wakes its `sandboxPool` run, which fills or
 * drains it in the background.
 */
import type { SandboxPoolRecord } from '../domain/sandboxPools';
import { listSandboxPools, putSandboxPool } from '../pools/poolStore';
import { refillSandboxPool } from '../temporal/client';
import type { ServiceDeps } from './deps';
import { DomainError } from './errors';

export interface SandboxPoolDeps extends Pick<ServiceDeps, 'prisma' | 'temporal' | 'taskQueue' | 'logger'> {
  /** Provider ids the worker serves. */
  providerIds: readonly string[];
  /** The repository policy, as for a new task (src/repositories/policy.ts). */
  checkRepository: (repository: string) => { ok: true } | { ok: false; reason: string };
}

/** The workspace's pools with their members counted now, oldest first. @throws database errors. */
export function readSandboxPools(deps: Pick<ServiceDeps, 'prisma'>, workspaceId: string): Promise<SandboxPoolRecord[]> {
  return listSandboxPools(deps.prisma, workspaceId);
}

/**
 * Creates or changes the workspace's pool for `repository` on `provider`, then wakes its run. Idempotent:
 * the same request again changes nothing and wakes the run again.
 * @returns the stored pool, counted (members appear as its run makes them).
 * @throws DomainError invalid `unknown_provider` (field `provider`) | invalid `repository_not_allowed`
 *   (field `repository`) | unavailable `workflow_start_failed` when Temporal did not take the signal
 *   (the settings are stored; repeating the request wakes the run).
 */
export async function setSandboxPool(
  deps: SandboxPoolDeps,
  input: { workspaceId: string; repository: string; provider: string; agent: string; size: number; idleTimeoutSeconds: number },
): Promise<SandboxPoolRecord> {
  if (!deps.providerIds.includes(input.provider))
    throw new DomainError('invalid', 'unknown_provider', `provider must be one of: ${deps.providerIds.join(', ')}`, { field: 'provider' });
  const verdict = deps.checkRepository(input.repository);
  if (!verdict.ok) throw new DomainError('invalid', 'repository_not_allowed', verdict.reason, { field: 'repository' });
  const pool = await putSandboxPool(deps.prisma, {
    workspaceId: input.workspaceId,
    repository: input.repository,
    providerId: input.provider,
    agent: input.agent,
    size: input.size,
    idleTimeoutSeconds: input.idleTimeoutSeconds,
  });
  try {
    await refillSandboxPool(deps.temporal, { taskQueue: deps.taskQueue, pool });
  } catch (err) {
    deps.logger.error({ err, poolId: pool.id }, 'waking the sandbox pool run failed');
    throw new DomainError('unavailable', 'workflow_start_failed', 'the pool is saved but its run could not be woken; send the request again');
  }
  return pool;
}
