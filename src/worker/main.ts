/**
 * Worker process: polls the task queue and runs `provisionTask` and its activities.
 * Several worker processes may run against one Temporal namespace and one database.
 * Stops on SIGINT/SIGTERM (the Temporal runtime drains in-flight tasks first).
 * Also sweeps for tasks whose provisioning run was never started (src/recovery/unstartedTasks.ts) and
 * reconciles sandboxes whose agent is gone (src/recovery/sandboxAgents.ts).
 */
import { NativeConnection } from '@temporalio/worker';
import { createWorkerActivities } from '../activities';
import { loadConfig } from '../config';
import { assertConfinementAvailable, type ConfinementUnavailableError } from '../confinement/hostCheck';
import { createPrismaClient } from '../db/prisma';
import { createLogger } from '../logger';
import { createProviders } from '../providers/registry';
import { pgNotifier } from '../db/notifier';
import { createTemporalClient } from '../temporal/client';
import { runUnstartedTaskSweeper } from '../recovery/unstartedTasks';
import { runSandboxReconciler } from '../recovery/sandboxAgents';
import { createWorker } from './createWorker';
import { startSandboxHostEgress } from '../egress/sandboxEgress';

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger('worker', config.logLevel);
  if (config.confinement.isolation === 'none') {
    logger.warn('SANDBOX_ISOLATION=none: local sandboxes run UNCONFINED, with access to this host (development only; docs/SECURITY.md)');
  } else {
    // Refuses to start rather than run sandboxes unconfined.
    await assertConfinementAvailable(config.confinement).catch((err: Error) => {
      logger.fatal({ missing: (err as ConfinementUnavailableError).missing }, err.message);
      process.exit(1);
    });
  }
  const prisma = createPrismaClient(config.databaseUrl);
  const client = await createTemporalClient(config.temporal);
  const connection = await NativeConnection.connect({ address: config.temporal.address });
  const providers = createProviders(config, logger);
  // The sandboxes' one way to their model API (and, by policy, elsewhere): src/egress.
  const egress = await startSandboxHostEgress({
    prisma,
    notifier: pgNotifier,
    logger,
    credentialsKey: config.credentialsKey,
    defaults: config.egress.defaultPolicy,
    modelOrigins: config.egress.modelOrigins,
    modelTimeoutMs: config.egress.modelTimeoutMs,
    sandboxRoot: config.sandboxRoot,
  });
  if (!config.credentialsKey) logger.warn('CREDENTIALS_ENCRYPTION_KEY is not set: no workspace key can be used, so real agents get no model access');
  const activities = createWorkerActivities({
    prisma,
    providers,
    notifier: pgNotifier,
    temporal: client,
    logger,
    idleStopMs: config.sandboxLifecycle.idleStopMs,
    egress: egress.issuer,
    modelFailures: egress.proxy.failures,
  });
  const worker = await createWorker({ connection, namespace: config.temporal.namespace, taskQueue: config.temporal.taskQueue, activities });
  logger.info({ taskQueue: config.temporal.taskQueue, address: config.temporal.address }, 'worker polling');
  // Tasks whose row committed but whose run was never started (the API died in between) get started.
  const stopSweeper = runUnstartedTaskSweeper({ prisma, temporal: client, taskQueue: config.temporal.taskQueue, logger, minAgeMs: 30_000, intervalMs: 30_000 });
  // Sandboxes whose agent died while no worker watched (a reboot, a crash) are recorded stopped now, then checked periodically.
  const stopReconciler = runSandboxReconciler({
    prisma,
    providers,
    temporal: client,
    taskQueue: config.temporal.taskQueue,
    logger,
    idleStopMs: config.sandboxLifecycle.idleStopMs,
    intervalMs: config.sandboxLifecycle.reconcileIntervalMs,
  });
  try {
    await worker.run();
  } finally {
    await stopReconciler();
    await stopSweeper();
    await egress.proxy.close();
    await connection.close();
    await client.connection.close();
    await prisma.$disconnect();
    logger.info('worker stopped');
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
