/**
 * Reconcile (docs/PRODUCT.md#sandbox-lifecycle): every `ready` sandbox of a running task is checked at
 * worker start and then periodically; one whose sandbox-agent does not run (crashed, killed by its
 * memory limit, lost in a reboot or a restart of the start command) is reported to its lifecycle run,
 * which records it `stopped` with a `sandbox.state` event. So a task never sits `running` with nothing
 * behind it, and the next use wakes it. Only sandboxes of this sandbox host are checked (src/hosts).
 *
 * At its start a host also takes care of what happened while it was away ({@link adoptAndCleanUp}):
 * it adopts the sandboxes made before sandbox hosts existed whose files it holds, and removes the files
 * of its sandboxes that were destroyed (a kill that could not reach it) or recorded lost meanwhile.
 *
 * The pass at worker start also starts the lifecycle run of every such sandbox that has none (a task
 * provisioned before the lifecycle existed, or whose run was terminated), so each gets its idle timer.
 */
import type { Client } from '@temporalio/client';
import type { PrismaClient } from '../generated/prisma/client';
import type { Logger } from '../logger';
import { handleOfStored, type ProviderRegistry } from '../providers/types';
import { signalSandboxLifecycle, startSandboxLifecycle } from '../temporal/client';

export interface ReconcileOptions {
  prisma: PrismaClient;
  providers: ProviderRegistry;
  temporal: Client;
  /** The shared (orchestration) task queue: lifecycle runs are started there. */
  taskQueue: string;
  /** This sandbox host's id: only its sandboxes are checked. */
  hostId: string;
  logger: Logger;
  /** Idle stop setting handed to a lifecycle run this starts (ms; 0 = never). */
  idleStopMs: number;
}

/**
 * One pass. With `ensureLifecycleRuns`, a sandbox whose agent runs gets its lifecycle run started when
 * it has none.
 * @returns the ids of sandboxes found with no running agent (each reported to its lifecycle run).
 */
export async function reconcileSandboxes(opts: ReconcileOptions & { ensureLifecycleRuns?: boolean }): Promise<string[]> {
  const rows = await opts.prisma.sandbox.findMany({
    where: { hostId: opts.hostId, state: 'ready', providerSandboxId: { not: null }, directory: { not: null }, task: { status: { in: ['running', 'idle'] } } },
    select: { id: true, taskId: true, providerId: true, providerSandboxId: true, directory: true, agentEndpoint: true, details: true, task: { select: { workspaceId: true } } },
  });
  const dead: string[] = [];
  for (const row of rows) {
    const provider = opts.providers.get(row.providerId);
    if (!provider) continue;
    const handle = handleOfStored(row);
    if (!handle || !provider.holds(handle)) continue;
    const lifecycle = { taskQueue: opts.taskQueue, input: { taskId: row.taskId, sandboxId: row.id, idleStopMs: opts.idleStopMs }, workspaceId: row.task.workspaceId };
    try {
      if ((await provider.agentStatus(handle)).agent === 'running') {
        if (opts.ensureLifecycleRuns && (await startSandboxLifecycle(opts.temporal, lifecycle))) {
          opts.logger.info({ sandboxId: row.id, taskId: row.taskId }, 'started the lifecycle run of a sandbox that had none');
        }
        continue;
      }
      dead.push(row.id);
      opts.logger.warn({ sandboxId: row.id, taskId: row.taskId }, 'sandbox-agent is not running; recording the sandbox stopped');
      await signalSandboxLifecycle(opts.temporal, lifecycle, { kind: 'agent_exited' });
    } catch (err) {
      opts.logger.error({ err, sandboxId: row.id }, 'reconcile could not check or report a sandbox');
    }
  }
  return dead;
}

/**
 * Runs {@link reconcileSandboxes} now (starting missing lifecycle runs too) and then every `intervalMs`
 * until the returned stop function is called. A failed pass (database or Temporal down) is logged; the
 * next one tries again.
 */
export function runSandboxReconciler(opts: ReconcileOptions & { intervalMs: number }): () => Promise<void> {
  let running: Promise<unknown> = Promise.resolve();
  let firstPassDone = false;
  const pass = () => {
    running = running
      .then(async () => {
        await reconcileSandboxes({ ...opts, ensureLifecycleRuns: !firstPassDone });
        firstPassDone = true;
      })
      .catch((err) => opts.logger.error({ err }, 'sandbox reconcile failed'));
  };
  pass();
  const timer = setInterval(pass, opts.intervalMs);
  return async () => {
    clearInterval(timer);
    await running;
  };
}

/**
 * At a host's start: adopts the sandboxes with no host whose files this host's providers hold (made
 * before sandbox hosts existed), and removes the files of this host's sandboxes recorded `destroyed`
 * or `lost` since `since` (while it was away: a kill that could not reach it, the lost-host sweep).
 * @param since the host's last heartbeat before this start (null: a new host, nothing to clean).
 * @returns how many were adopted and removed.
 */
export async function adoptAndCleanUp(
  opts: Pick<ReconcileOptions, 'prisma' | 'providers' | 'hostId' | 'logger'> & { since: Date | null },
): Promise<{ adopted: number; removed: number }> {
  const { prisma, providers, hostId, logger } = opts;
  let adopted = 0;
  const orphans = await prisma.sandbox.findMany({ where: { hostId: null, state: { not: 'destroyed' }, directory: { not: null } } });
  for (const row of orphans) {
    const handle = handleOfStored(row);
    if (!handle || !providers.get(row.providerId)?.holds(handle)) continue;
    adopted += (await prisma.sandbox.updateMany({ where: { id: row.id, hostId: null }, data: { hostId } })).count;
  }
  let removed = 0;
  if (opts.since) {
    const gone = await prisma.sandbox.findMany({ where: { hostId, state: { in: ['destroyed', 'lost'] }, updatedAt: { gte: opts.since } } });
    for (const row of gone) {
      const provider = providers.get(row.providerId);
      const handle = provider ? await provider.resumeSandbox(row.id) : null;
      if (!provider || !handle) continue;
      await provider.destroySandbox(handle);
      removed++;
      logger.info({ sandboxId: row.id, state: row.state }, 'removed a sandbox that was released while this host was away');
    }
  }
  if (adopted > 0) logger.info({ adopted, hostId }, 'adopted sandboxes made before sandbox hosts');
  return { adopted, removed };
}
