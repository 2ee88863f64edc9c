/**
 * Reconcile (docs/PRODUCT.md#sandbox-lifecycle): every `ready` sandbox of a running task is checked at
 * worker start and then periodically; one whose sandbox-agent does not run (crashed, killed by its
 * memory limit, lost in a reboot or a restart of the start command) is reported to its lifecycle run,
 * which records it `stopped` with a `sandbox.state` event. So a task never sits `running` with nothing
 * behind it, and the next use wakes it. Only sandboxes this worker's providers hold are checked.
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
  taskQueue: string;
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
    where: { state: 'ready', providerSandboxId: { not: null }, directory: { not: null }, task: { status: { in: ['running', 'idle'] } } },
    select: { id: true, taskId: true, providerId: true, providerSandboxId: true, directory: true, agentEndpoint: true, details: true },
  });
  const dead: string[] = [];
  for (const row of rows) {
    const provider = opts.providers.get(row.providerId);
    if (!provider) continue;
    const handle = handleOfStored(row);
    if (!handle || !provider.holds(handle)) continue;
    const lifecycle = { taskQueue: opts.taskQueue, input: { taskId: row.taskId, sandboxId: row.id, idleStopMs: opts.idleStopMs } };
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
