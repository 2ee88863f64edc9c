/**
 * One sandbox host, running (docs/DEPLOYMENT.md#worker-roles): registered and heartbeating in
 * Postgres (src/hosts/registry.ts), its leftovers from while it was away handled (adoption and clean-up,
 * src/recovery/sandboxAgents.ts), its egress proxy listening (src/egress), its worker polling its
 * own task queue with the sandbox activities, and its reconciler checking its sandboxes' agents.
 * The worker process and the test services start hosts through this one function.
 */
import type { Client } from '@temporalio/client';
import type { NativeConnection } from '@temporalio/worker';
import { createWorkerActivities, type SandboxHostActivities, type WorkerActivityDeps } from '../activities';
import type { SandboxHostConfig } from '../config';
import type { PrismaClient } from '../generated/prisma/client';
import type { TaskEventNotifier } from '../db/notifier';
import { startSandboxHostEgress, type HostedEgressProxyDeps, type SandboxHostEgress } from '../egress/sandboxEgress';
import type { Logger } from '../logger';
import type { ProviderRegistry } from '../providers/types';
import { adoptAndCleanUp, runSandboxReconciler } from '../recovery/sandboxAgents';
import { createSandboxHostWorker } from './createWorker';
import type { FloorActivities } from '../workflows/provisioningFloor';
import { runHostHeartbeat, sandboxHostTaskQueue } from '../hosts/registry';

export interface SandboxHostOptions {
  prisma: PrismaClient;
  notifier: TaskEventNotifier;
  temporal: Client;
  connection: NativeConnection;
  namespace: string;
  /** The deployment's shared task queue (TEMPORAL_TASK_QUEUE). */
  orchestrationQueue: string;
  host: SandboxHostConfig;
  providers: ProviderRegistry;
  logger: Logger;
  /** SANDBOX_IDLE_STOP_MINUTES in ms (handed to the lifecycle runs reconcile starts). */
  idleStopMs: number;
  /** Agent checks every this many ms; undefined: no reconciler (tests that do not need one). */
  reconcileIntervalMs?: number;
  /** The egress proxy's settings; it listens under `sandboxRoot` (src/egress/sandboxEgress.ts). */
  egress: Omit<HostedEgressProxyDeps, 'prisma' | 'notifier' | 'logger'> & { sandboxRoot: string };
  /** Benchmark-only activities registered beside the host's own (ENABLE_BENCHMARK_PROVIDERS=1: src/activities/benchmark.activities.ts). */
  benchmarkActivities?: FloorActivities;
}

export interface RunningSandboxHost {
  id: string;
  taskQueue: string;
  /** The host's activities (a process with both roles also serves them on the shared queue, for runs recorded before hosts). */
  activities: SandboxHostActivities;
  /** What the activities were built from (a process with both roles builds its orchestration activities from the same). */
  activityDeps: WorkerActivityDeps;
  egress: SandboxHostEgress;
  /**
   * Stops the host: reconciler, worker (in-flight activities get their grace time), heartbeat, egress.
   * `crash`: as a host that vanished would, it is not recorded stopped (its row just stops being seen).
   */
  stop(opts?: { crash?: boolean }): Promise<void>;
}

/** Starts sandbox host `opts.host.id`; resolves once it is registered and polling. */
export async function startSandboxHost(opts: SandboxHostOptions): Promise<RunningSandboxHost> {
  const { prisma, logger, providers } = opts;
  const id = opts.host.id;
  const taskQueue = sandboxHostTaskQueue(opts.orchestrationQueue, id);
  const heartbeat = await runHostHeartbeat({
    prisma,
    logger,
    registration: { id, orchestrationQueue: opts.orchestrationQueue, taskQueue, capacity: opts.host.capacity, heartbeatSeconds: opts.host.heartbeatSeconds },
  });
  await adoptAndCleanUp({ prisma, providers, hostId: id, logger, since: heartbeat.previousLastSeen }).catch((err) =>
    logger.error({ err, hostId: id }, 'adopting or cleaning up sandboxes at host start failed'),
  );
  const egress = await startSandboxHostEgress({ ...opts.egress, prisma, notifier: opts.notifier, logger });
  const activityDeps: WorkerActivityDeps = {
    prisma,
    providers,
    notifier: opts.notifier,
    temporal: opts.temporal,
    logger,
    idleStopMs: opts.idleStopMs,
    hostId: id,
    egress: egress.issuer,
    modelFailures: egress.proxy.failures,
  };
  const activities = createWorkerActivities(activityDeps).sandboxHost;
  const worker = await createSandboxHostWorker({ connection: opts.connection, namespace: opts.namespace, taskQueue, activities: { ...activities, ...opts.benchmarkActivities } });
  const running = worker.run();
  const stopReconciler =
    opts.reconcileIntervalMs !== undefined
      ? runSandboxReconciler({
          prisma,
          providers,
          temporal: opts.temporal,
          taskQueue: opts.orchestrationQueue,
          hostId: id,
          logger,
          idleStopMs: opts.idleStopMs,
          intervalMs: opts.reconcileIntervalMs,
        })
      : async () => {};
  logger.info({ hostId: id, taskQueue }, 'sandbox host polling');
  return {
    id,
    taskQueue,
    activities,
    activityDeps,
    egress,
    async stop(stopOpts) {
      await stopReconciler();
      if (worker.getState() === 'RUNNING') worker.shutdown(); // a signal may have shut it down already
      await running;
      if (stopOpts?.crash) await heartbeat.stop({ markStopped: false });
      else await heartbeat.stop();
      await egress.proxy.close();
    },
  };
}
