/**
 * Worker process (docs/DEPLOYMENT.md#worker-roles), in one or both roles (WORKER_ROLES):
 * - `orchestration`: polls the shared task queue with the workflows and the activities that touch only
 *   Postgres and Temporal; sweeps for tasks whose provisioning run was never started
 *   (src/recovery/unstartedTasks.ts) and for sandbox hosts gone too long (src/hosts/lostHosts.ts).
 * - `sandbox_host`: registers as sandbox host SANDBOX_HOST_ID and polls its own task queue with every
 *   activity on a sandbox it holds; runs the egress proxy of its sandboxes and reconciles their agents
 *   (src/recovery/sandboxAgents.ts).
 * Several worker processes may run against one Temporal namespace and one database.
 * Stops on SIGINT/SIGTERM (the Temporal runtime drains in-flight tasks first).
 */
// First: tracing starts before anything below loads http or pg.
import { tracing } from './instrument';
import { NativeConnection, Runtime } from '@temporalio/worker';
import { createWorkerActivities, type OrchestrationActivities, type SandboxHostActivities } from '../activities';
import { loadConfig } from '../config';
import { assertConfinementAvailable, type ConfinementUnavailableError } from '../confinement/hostCheck';
import { sandboxesMemoryBytes } from '../confinement/cgroups';
import { createPrismaClient } from '../db/prisma';
import { createLogger } from '../logger';
import { createProviders } from '../providers/registry';
import { pgNotifier } from '../db/notifier';
import { createTemporalClient } from '../temporal/client';
import { runUnstartedTaskSweeper } from '../recovery/unstartedTasks';
import { runSandboxPoolRecovery } from '../recovery/sandboxPools';
import { runLostHostSweeper } from '../hosts/lostHosts';
import { startSandboxHost, type RunningSandboxHost } from './sandboxHost';
import { createOrchestrationWorker } from './createWorker';
import { createBenchmarkActivities } from '../activities/benchmark.activities';
import { createWorkerMetrics } from '../observability/metrics';
import { LocalProvider } from '../providers/local/localProvider';
import { startMetricsServer } from '../observability/metricsServer';

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger('worker', config.logLevel);
  if (tracing.enabled) logger.info({ otlpEndpoint: config.tracing.otlpEndpoint }, 'exporting traces over OTLP');
  const roles = config.workerRoles;
  if (roles.sandboxHost) {
    if (config.confinement.isolation === 'none') {
      logger.warn('SANDBOX_ISOLATION=none: local sandboxes run UNCONFINED, with access to this host (development only; docs/SECURITY.md)');
    } else {
      // Refuses to start rather than run sandboxes unconfined.
      await assertConfinementAvailable(config.confinement).catch((err: Error) => {
        logger.fatal({ missing: (err as ConfinementUnavailableError).missing }, err.message);
        process.exit(1);
      });
    }
    if (!config.credentialsKey) logger.warn('CREDENTIALS_ENCRYPTION_KEY is not set: no workspace key can be used, so real agents get no model access');
  }
  if (config.metrics.temporalSdkPort) {
    // Before any connection: the runtime is made once per process, with its Prometheus exporter.
    Runtime.install({ telemetryOptions: { metrics: { prometheus: { bindAddress: `${config.host}:${config.metrics.temporalSdkPort}` } } } });
  }
  const prisma = createPrismaClient(config.databaseUrl);
  const providers = createProviders(config, logger);
  const local = providers.get('local');
  const metrics = createWorkerMetrics({
    prisma,
    hostId: roles.sandboxHost ? config.sandboxHost.id : null,
    sandboxesMemoryBytes,
    sandboxUsage: local instanceof LocalProvider ? () => local.sandboxUsage() : undefined,
  });
  const metricsServer = config.metrics.workerPort ? await startMetricsServer(metrics.registry, config.metrics.workerPort, config.host) : null;
  if (metricsServer) logger.info({ port: metricsServer.port }, `worker metrics at http://${config.host}:${metricsServer.port}/metrics`);
  const client = await createTemporalClient(config.temporal);
  const connection = await NativeConnection.connect({ address: config.temporal.address });
  const orchestrationQueue = config.temporal.taskQueue;

  const benchmarkActivities = config.benchmarkProviders.enabled ? createBenchmarkActivities() : undefined;
  const host: RunningSandboxHost | null = roles.sandboxHost
    ? await startSandboxHost({
        benchmarkActivities,
        prisma,
        notifier: pgNotifier,
        temporal: client,
        connection,
        namespace: config.temporal.namespace,
        orchestrationQueue,
        host: config.sandboxHost,
        providers,
        logger,
        idleStopMs: config.sandboxLifecycle.idleStopMs,
        reconcileIntervalMs: config.sandboxLifecycle.reconcileIntervalMs,
        // The sandboxes' one way to their model API (and, by policy, elsewhere): src/egress.
        egress: {
          credentialsKey: config.credentialsKey,
          defaults: config.egress.defaultPolicy,
          modelOrigins: config.egress.modelOrigins,
          modelTimeoutMs: config.egress.modelTimeoutMs,
          sandboxRoot: config.sandboxRoot,
        },
      })
    : null;

  let stopOrchestration = async () => {};
  let orchestrationRun: Promise<void> = Promise.resolve();
  if (roles.orchestration) {
    const activities: OrchestrationActivities & Partial<SandboxHostActivities> = host
      ? // Both roles: the host's activities on the shared queue too, for runs recorded before sandbox hosts.
        { ...createWorkerActivities({ ...host.activityDeps, metrics }).orchestration, ...host.activities }
      : createWorkerActivities({ prisma, providers, notifier: pgNotifier, temporal: client, logger, idleStopMs: config.sandboxLifecycle.idleStopMs, hostId: '', metrics })
          .orchestration;
    const worker = await createOrchestrationWorker({
      connection,
      namespace: config.temporal.namespace,
      taskQueue: orchestrationQueue,
      activities: { ...activities, ...benchmarkActivities },
      tracing,
    });
    logger.info({ taskQueue: orchestrationQueue, address: config.temporal.address }, 'orchestration worker polling');
    // Tasks whose row committed but whose run was never started (the API died in between) get started.
    const stopSweeper = runUnstartedTaskSweeper({
      prisma,
      temporal: client,
      taskQueue: orchestrationQueue,
      logger,
      minAgeMs: config.recoverySweepMs,
      intervalMs: config.recoverySweepMs,
      onStarted: () => metrics.recoveryStarted(),
    });
    const stopLostHosts = runLostHostSweeper({
      prisma,
      notifier: pgNotifier,
      temporal: client,
      orchestrationQueue,
      lostAfterSeconds: config.sandboxHost.lostAfterSeconds,
      logger,
      intervalMs: config.recoverySweepMs,
    });
    // Warm sandbox pools whose run ended or never got the last settings are woken.
    const stopPools = runSandboxPoolRecovery({ prisma, temporal: client, taskQueue: orchestrationQueue, logger, intervalMs: config.recoverySweepMs });
    orchestrationRun = worker.run();
    stopOrchestration = async () => {
      await stopPools();
      await stopLostHosts();
      await stopSweeper();
    };
  }
  // Both workers stop on SIGINT/SIGTERM (the SDK's default shutdown signals); then the rest is closed.
  const shutdown = new Promise<void>((resolve) => {
    for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => resolve());
  });
  try {
    // The Temporal runtime shuts every worker down on those signals; a host-only process waits for them itself.
    await (roles.orchestration ? orchestrationRun : shutdown);
  } finally {
    await stopOrchestration();
    await host?.stop();
    await metricsServer?.close();
    await connection.close();
    await client.connection.close();
    await prisma.$disconnect();
    await tracing.shutdown(); // the last spans exported
    logger.info('worker stopped');
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
