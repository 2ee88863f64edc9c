/**
 * At the orchestration worker's start, every warm sandbox pool that should have a `sandboxPool` run
 * (size above 0, or members left to destroy) is woken with signal-with-start, so a pool whose run was
 * terminated, or whose settings were stored while Temporal was down, is filled (or drained) again.
 * Tried again every interval until one pass went through (a database or Temporal outage at start).
 */
import type { Client } from '@temporalio/client';
import type { PrismaClient } from '../generated/prisma/client';
import type { Logger } from '../logger';
import { activePools } from '../pools/poolStore';
import { refillSandboxPool } from '../temporal/client';

export interface PoolRecoveryOptions {
  prisma: PrismaClient;
  temporal: Client;
  /** The shared task queue the pool runs are started on. */
  taskQueue: string;
  logger: Logger;
}

/** Wakes the run of every active pool. @returns how many were woken. @throws database or Temporal errors. */
export async function wakeSandboxPools(opts: PoolRecoveryOptions): Promise<number> {
  const pools = await activePools(opts.prisma);
  for (const pool of pools) await refillSandboxPool(opts.temporal, { taskQueue: opts.taskQueue, pool });
  return pools.length;
}

/**
 * Runs {@link wakeSandboxPools} now and again every `intervalMs` until a pass succeeds, or the returned
 * stop function is called. Errors are logged.
 */
export function runSandboxPoolRecovery(opts: PoolRecoveryOptions & { intervalMs: number }): () => Promise<void> {
  let running: Promise<unknown> = Promise.resolve();
  let timer: NodeJS.Timeout | undefined;
  const attempt = () => {
    running = wakeSandboxPools(opts).then(
      (n) => {
        if (n > 0) opts.logger.info({ pools: n }, 'woke the warm sandbox pools');
        clearInterval(timer);
      },
      (err) => opts.logger.error({ err }, 'waking the warm sandbox pools failed; trying again'),
    );
  };
  timer = setInterval(attempt, opts.intervalMs);
  attempt();
  return async () => {
    clearInterval(timer);
    await running;
  };
}
