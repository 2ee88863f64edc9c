/**
 * Prometheus metrics of the API and the worker (prom-client), one registry per process role, scraped
 * at `GET /metrics` (the API's own port; the worker's WORKER_METRICS_PORT, ./metricsServer.ts). Names
 * follow Prometheus conventions: base units (`_seconds`), counters end in `_total`, every series of
 * this service starts with `provisioning_` except the standard `http_request_duration_seconds` and the
 * process metrics of prom-client's default collectors. docs/OBSERVABILITY.md lists them with what
 * they are for; the Temporal SDK's own worker metrics are served by its runtime's exporter
 * (TEMPORAL_SDK_METRICS_PORT, src/worker/main.ts).
 *
 * Gauges read from Postgres (tasks by status, sandboxes by state) are read at scrape time, one grouped
 * query each; while Postgres does not answer they are left out of the scrape rather than failing it.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { PrismaClient } from '../generated/prisma/client';

/** Seconds: HTTP requests and realtime delivery, from 5 ms to 10 s. */
const FAST_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Seconds: provisioning steps and create-to-running, from 50 ms to 10 min. */
const STEP_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];

/** How long a scrape waits for one Postgres count before leaving that gauge out, ms. */
const COUNT_TIMEOUT_MS = 2_000;

/** Runs `query` unless it takes longer than COUNT_TIMEOUT_MS; null when it failed or timed out. */
async function boundedCount<T>(query: () => Promise<T>): Promise<T | null> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<null>((resolve) => {
    timer = setTimeout(() => resolve(null), COUNT_TIMEOUT_MS);
  });
  try {
    return await Promise.race([query().catch(() => null), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A registry whose series all carry `service`, with prom-client's default process metrics. */
function newRegistry(service: 'api' | 'worker'): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  return registry;
}

/** What the API's metrics read at scrape time. */
export interface ApiMetricSources {
  prisma: PrismaClient;
  /** Created tasks whose provisioning run this process has not started yet (src/temporal/provisionStarter.ts). */
  provisionStartsPending: () => number;
  /** Open Socket.IO connections of this process. */
  socketConnections: () => number;
}

/** The API process's metrics. */
export interface ApiMetrics {
  registry: Registry;
  /** `http_request_duration_seconds{method, route, status_code}`: `route` is the OpenAPI path template, or `other`. */
  httpRequestDuration: Histogram<'method' | 'route' | 'status_code'>;
  /** `provisioning_tasks_created_total`: tasks created by this process (an idempotent replay is not counted). */
  tasksCreated: Counter;
  /** `provisioning_realtime_delivery_lag_seconds`: an event's commit to its live emit by the relay. */
  realtimeDeliveryLag: Histogram;
}

/** The API's registry: default process metrics, HTTP, tasks, realtime, the provision starter's queue. */
export function createApiMetrics(sources: ApiMetricSources): ApiMetrics {
  const registry = newRegistry('api');
  const httpRequestDuration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP requests by method, OpenAPI route template and status code.',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: FAST_BUCKETS,
    registers: [registry],
  });
  const tasksCreated = new Counter({ name: 'provisioning_tasks_created_total', help: 'Tasks created (idempotent replays not counted).', registers: [registry] });
  const realtimeDeliveryLag = new Histogram({
    name: 'provisioning_realtime_delivery_lag_seconds',
    help: 'From a history event’s commit to its live task.event emit by this process’s relay.',
    buckets: FAST_BUCKETS,
    registers: [registry],
  });
  new Gauge({
    name: 'provisioning_tasks',
    help: 'Tasks by status (all workspaces), read from Postgres at scrape time.',
    labelNames: ['status'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      const rows = await boundedCount(() => sources.prisma.task.groupBy({ by: ['status'], _count: { _all: true } }));
      for (const row of rows ?? []) this.set({ status: row.status }, row._count._all);
    },
  });
  new Gauge({
    name: 'provisioning_starts_pending',
    help: 'Created tasks whose provisioning run this API process has not started yet.',
    registers: [registry],
    collect() {
      this.set(sources.provisionStartsPending());
    },
  });
  new Gauge({
    name: 'provisioning_socketio_connections',
    help: 'Open Socket.IO connections of this API process.',
    registers: [registry],
    collect() {
      this.set(sources.socketConnections());
    },
  });
  return { registry, httpRequestDuration, tasksCreated, realtimeDeliveryLag };
}

/** Outcome of a provisioning step as the step-duration histogram labels it. */
export type StepOutcome = 'completed' | 'failed';

/** What the provisioning activities report (src/activities/provisionTask.activities.ts), once per written transition. */
export interface ProvisioningMetrics {
  /** A step ended after `seconds` (its start to its end, as the run recorded them) in `attempt` attempts. */
  stepEnded(step: string, outcome: StepOutcome, seconds: number, attempt: number): void;
  /** A task reached `running`, `seconds` after it was created. */
  taskRunning(seconds: number): void;
}

/** What the worker's metrics read at scrape time. */
export interface WorkerMetricSources {
  prisma: PrismaClient;
  /** The sandbox host this worker is (SANDBOX_HOST_ID), or null for an orchestration-only worker. */
  hostId: string | null;
  /** Memory this host's sandboxes use together (their cgroups), bytes; null when unknown. */
  sandboxesMemoryBytes?: () => number | null;
  /** What each of this host's sandboxes uses now (memory of its cgroup, used bytes of its disk), bytes, null when unknown. */
  sandboxUsage?: () => Promise<Array<{ sandboxKey: string; memoryBytes: number | null; diskUsedBytes: number | null }>>;
}

/** The worker process's metrics. */
export interface WorkerMetrics extends ProvisioningMetrics {
  registry: Registry;
  /** The recovery sweep started a task's provisioning run that the API had not (src/recovery/unstartedTasks.ts). */
  recoveryStarted(): void;
}

/** The worker's registry: default process metrics, provisioning steps, recovery, its sandboxes. */
export function createWorkerMetrics(sources: WorkerMetricSources): WorkerMetrics {
  const registry = newRegistry('worker');
  const stepDuration = new Histogram({
    name: 'provisioning_step_duration_seconds',
    help: 'Provisioning steps by step and outcome, from the step’s start to its end as the run recorded them.',
    labelNames: ['step', 'outcome'] as const,
    buckets: STEP_BUCKETS,
    registers: [registry],
  });
  const stepRetries = new Counter({
    name: 'provisioning_step_retries_total',
    help: 'Attempts beyond the first of ended provisioning steps, by step.',
    labelNames: ['step'] as const,
    registers: [registry],
  });
  const timeToRunning = new Histogram({
    name: 'provisioning_time_to_running_seconds',
    help: 'From a task’s creation to its `running` status.',
    buckets: STEP_BUCKETS,
    registers: [registry],
  });
  const recoveryStarts = new Counter({
    name: 'provisioning_recovery_starts_total',
    help: 'Provisioning runs started by the recovery sweep because the API had not started them.',
    registers: [registry],
  });
  if (sources.hostId !== null) {
    const hostId = sources.hostId;
    new Gauge({
      name: 'provisioning_sandboxes',
      help: 'Sandboxes on this sandbox host by lifecycle state, read from Postgres at scrape time.',
      labelNames: ['state'] as const,
      registers: [registry],
      async collect() {
        this.reset();
        const rows = await boundedCount(() => sources.prisma.sandbox.groupBy({ by: ['state'], where: { hostId }, _count: { _all: true } }));
        for (const row of rows ?? []) this.set({ state: row.state }, row._count._all);
      },
    });
    const usage = sources.sandboxUsage;
    if (usage) {
      // One scrape reads the host's sandboxes once, for both gauges (label `sandbox_id`: at most the host's capacity).
      let reading: ReturnType<typeof usage> | null = null;
      const read = () => (reading ??= usage().finally(() => setImmediate(() => (reading = null))));
      const perSandbox = (name: string, help: string, field: 'memoryBytes' | 'diskUsedBytes') =>
        new Gauge({
          name,
          help,
          labelNames: ['sandbox_id'] as const,
          registers: [registry],
          async collect() {
            this.reset();
            for (const s of await read()) if (s[field] !== null) this.set({ sandbox_id: s.sandboxKey }, s[field]);
          },
        });
      perSandbox('provisioning_sandbox_memory_bytes', 'Memory one sandbox (its agent and every process it started) uses now, from its cgroup.', 'memoryBytes');
      perSandbox('provisioning_sandbox_disk_used_bytes', 'Bytes used on one sandbox’s own filesystem (its checkout, HOME and whatever the agent wrote).', 'diskUsedBytes');
    }
    const memory = sources.sandboxesMemoryBytes;
    if (memory) {
      new Gauge({
        name: 'provisioning_sandboxes_memory_bytes',
        help: 'Memory this host’s sandboxes (agents, their tools) use together, from their cgroups.',
        registers: [registry],
        collect() {
          const bytes = memory();
          if (bytes !== null) this.set(bytes);
        },
      });
    }
  }
  return {
    registry,
    stepEnded(step, outcome, seconds, attempt) {
      stepDuration.observe({ step, outcome }, seconds);
      if (attempt > 1) stepRetries.inc({ step }, attempt - 1);
    },
    taskRunning(seconds) {
      timeToRunning.observe(seconds);
    },
    recoveryStarted() {
      recoveryStarts.inc();
    },
  };
}
