/**
 * Per-suite services on the run's shared stack: an orchestration worker on the suite's own task queue,
 * one or more sandbox hosts (src/hosts: each with its own id, task queue, sandbox root, real local
 * provider optionally wrapped with gates or faults, and egress proxy), and the real API server with
 * Socket.IO on a free port. Everything talks to the real Temporal server and Postgres.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, type Worker } from '@temporalio/worker';
import { createWorkerActivities, type OrchestrationActivities, type SandboxHostActivities } from '../../activities';
import type { ApiServer } from '../../api/server';
import { createPrismaClient, type PrismaClient } from '../../db/prisma';
import { createLogger } from '../../logger';
import { LocalProvider } from '../../providers/local/localProvider';
import type { SandboxProvider } from '../../providers/types';
import { DEFAULT_CONFINEMENT, type ConfinementPolicy } from '../../confinement/policy';
import { loadConfig } from '../../config';
import type { AgentId, ModelProvider } from '../../domain/agents';
import type { Logger } from '../../logger';
import type { EgressPolicy } from '../../domain/workspaceSettings';
import { egressSocketPath } from '../../providers/local/layout';
import type { EgressProxy } from '../../egress/egressProxy';
import { startSandboxHost, type RunningSandboxHost } from '../../worker/sandboxHost';
import { runLostHostSweeper } from '../../hosts/lostHosts';
import { sandboxHostTaskQueue } from '../../hosts/registry';
import type { RepositoryPolicy } from '../../repositories/policy';
import { createScratchSandboxRoot, removeScratchSandboxRoot } from '../scratchSandboxRoot';
import { pgNotifier } from '../../db/notifier';
import { createTemporalClient } from '../../temporal/client';
import { createOrchestrationWorker } from '../../worker/createWorker';
import { findFreePort } from '../../net/freePort';
import { createWorkerMetrics } from '../../observability/metrics';
import { sandboxesMemoryBytes } from '../../confinement/cgroups';
import { startMetricsServer } from '../../observability/metricsServer';
import { startTracing, type Tracing } from '../../observability/tracing';
import type { SpanExporter } from '@opentelemetry/sdk-trace-base';
import { authedFetch, closeAuthLookups } from './auth';
import { readStack, type TestStack } from './stackFile';
import { startTestApi } from './testApi';

/** One sandbox host of a suite. */
export interface TestHost {
  id: string;
  taskQueue: string;
  /** Root of this host's sandboxes (outside the repository roots, refused as a repository). */
  sandboxRoot: string;
  local: LocalProvider;
  egressProxy: EgressProxy;
  /** Whether its worker runs now. */
  readonly running: boolean;
  /** Stops its worker and heartbeat; `crash`: not recorded stopped, as a host that vanished. */
  stop(opts?: { crash?: boolean }): Promise<void>;
  /** Starts it again after {@link stop} (same id, queue and root: a machine coming back). */
  start(): Promise<void>;
}

export interface TestServices {
  stack: TestStack;
  baseUrl: string;
  prisma: PrismaClient;
  temporal: Client;
  taskQueue: string;
  /** Root of the first host's sandboxes (outside the repository roots, refused as a repository). */
  sandboxRoot: string;
  /** A directory under the repository roots for the suite's test repositories. */
  repoRoot: string;
  /** The first host's local provider. */
  local: LocalProvider;
  api: ApiServer;
  /** The egress proxy of the first host's sandboxes (src/egress). */
  egressProxy: EgressProxy;
  /** The suite's sandbox hosts (one unless `hosts` was given). */
  hosts: TestHost[];
  /** The orchestration worker's `GET /metrics` (src/observability/metrics.ts; the first host's sandboxes counted). */
  workerMetricsUrl: string;
  /** The Temporal SDK runtime's Prometheus exporter of this test process (one runtime per process, shared by its suites). */
  temporalSdkMetricsUrl: string;
  /** Stops the workers (orchestration and every host, with their reconcilers) as a worker process that died would: the API stays up. */
  stopWorker(): Promise<void>;
  /** Starts the workers again after {@link stopWorker} (on the same task queues, reconciling at once when configured). */
  startWorker(): Promise<void>;
  /** Stops the API and the workers, destroys every sandbox made under the hosts' roots, closes connections. */
  stop(): Promise<void>;
}

/** Port of the runtime's Prometheus exporter, once this process installed the runtime. */
let sdkMetricsPort: number | null = null;

export async function startServices(
  opts: {
    wrapProvider?: (local: LocalProvider) => SandboxProvider;
    /** Postgres URL the worker and the API use (e.g. through a fault proxy, test/support/tcpProxy.ts); default the stack's. */
    databaseUrl?: string;
    /** Temporal frontend (host:port) the worker and the API use (e.g. through a fault proxy); default the stack's. */
    temporalAddress?: string;
    /** Confinement of the local provider's sandboxes; default DEFAULT_CONFINEMENT (isolated). */
    confinement?: ConfinementPolicy;
    /** Repository policy switches for the API and the provider; roots are the stack's work directory, the sandbox root is protected. */
    repositoryPolicy?: Pick<Partial<RepositoryPolicy>, 'allowGitProtocol'>;
    /** Idle stop of sandboxes, ms (0 = never, the default here: tests that need it set it). */
    idleStopMs?: number;
    /** Run the sandbox reconciler (src/recovery/sandboxAgents.ts) with this interval, ms; default: not run. */
    reconcileIntervalMs?: number;
    /** Where the egress proxy sends model requests (e.g. a fake model API on loopback); default: closed ports on 127.0.0.1, so nothing leaves the machine. */
    modelOrigins?: Partial<Record<ModelProvider, string>>;
    /** Egress policy of workspaces that set none; default `deny`. */
    egressDefaults?: EgressPolicy;
    /** The egress proxy's limit for a model answer (and a pause in one), ms; default 10000. */
    modelTimeoutMs?: number;
    /** Agent of tasks that name none; default `offline`. */
    defaultAgent?: AgentId;
    /** Logger of the worker, the egress proxy and the API; default silent (TEST_LOG_LEVEL). */
    logger?: Logger;
    /**
     * Sandbox hosts, each with its capacity (default 200); default one host. With one host the
     * orchestration worker also serves the host's activities on the shared queue (as the one-process
     * default does, for runs recorded before sandbox hosts); with more it serves none, so an activity
     * scheduled on the wrong queue fails instead of working by accident.
     */
    hosts?: Array<{ capacity?: number }>;
    /** Run the lost-host sweep (src/hosts/lostHosts.ts) with these settings; default: not run. */
    lostHostSweep?: { lostAfterSeconds: number; intervalMs: number };
    /** Seconds between host heartbeats; default 10. */
    heartbeatSeconds?: number;
    /**
     * Traces (src/observability/tracing.ts) of the API and the workers, which run in this process, to
     * `exporter` (e.g. an InMemorySpanExporter) until {@link TestServices.stop}; default: no tracing.
     * One suite at a time per process: the tracer provider is the process's global one.
     */
    tracing?: { exporter: SpanExporter };
  } = {},
): Promise<TestServices> {
  const stack = readStack();
  // Before anything of the suite runs, so the API's requests, the client's starts and the activities are traced.
  const tracing: Tracing | undefined = opts.tracing ? startTracing({ serviceName: 'task-provisioning-test', exporter: opts.tracing.exporter }) : undefined;
  if (sdkMetricsPort === null) {
    const port = await findFreePort();
    Runtime.install({
      logger: new DefaultLogger((process.env.TEST_TEMPORAL_LOG_LEVEL ?? 'ERROR') as 'ERROR'),
      telemetryOptions: { metrics: { prometheus: { bindAddress: `127.0.0.1:${port}` } } },
    });
    sdkMetricsPort = port;
  }
  const logger = opts.logger ?? createLogger('test', process.env.TEST_LOG_LEVEL ?? 'silent');
  const databaseUrl = opts.databaseUrl ?? stack.databaseUrl;
  const prisma = createPrismaClient(databaseUrl);
  const temporalAddress = opts.temporalAddress ?? stack.temporalAddress;
  const temporal = await createTemporalClient({ address: temporalAddress, namespace: stack.namespace });
  const connection = await NativeConnection.connect({ address: temporalAddress });
  const taskQueue = `test-${randomUUID()}`;
  const repoRoot = mkdtempSync(path.join(stack.workDir, 'repos-'));
  const hostSpecs = (opts.hosts ?? [{}]).map((h, i) => ({
    id: `${taskQueue.slice(5, 13)}-h${i + 1}`,
    capacity: h.capacity ?? 200,
    sandboxRoot: createScratchSandboxRoot(),
  }));
  const repositoryPolicy: RepositoryPolicy = {
    roots: [stack.workDir],
    protectedPaths: hostSpecs.map((h) => h.sandboxRoot),
    allowGitProtocol: opts.repositoryPolicy?.allowGitProtocol ?? false,
  };
  const confinement = { ...(opts.confinement ?? DEFAULT_CONFINEMENT), agentsDir: loadConfig({}).confinement.agentsDir };
  const idleStopMs = opts.idleStopMs ?? 0;
  const egressDefaults = opts.egressDefaults ?? { mode: 'deny', hosts: [] };
  const hosts = hostSpecs.map((spec) => {
    const local = new LocalProvider({ sandboxRoot: spec.sandboxRoot, logger, confinement, repositoryPolicy, egressSocket: egressSocketPath(spec.sandboxRoot) });
    const provider = opts.wrapProvider ? opts.wrapProvider(local) : local;
    return { spec, local, providers: new Map([[provider.id, provider]]), running: null as RunningSandboxHost | null };
  });
  const startHost = async (h: (typeof hosts)[number]) => {
    h.running = await startSandboxHost({
      prisma,
      notifier: pgNotifier,
      temporal,
      connection,
      namespace: stack.namespace,
      orchestrationQueue: taskQueue,
      host: { id: h.spec.id, capacity: h.spec.capacity, heartbeatSeconds: opts.heartbeatSeconds ?? 10, lostAfterSeconds: opts.lostHostSweep?.lostAfterSeconds ?? 900 },
      providers: h.providers,
      logger,
      idleStopMs,
      reconcileIntervalMs: opts.reconcileIntervalMs,
      egress: {
        credentialsKey: Buffer.from(stack.credentialsKey, 'base64'),
        defaults: egressDefaults,
        // Closed ports on this machine's loopback unless a test serves a fake model API: never the real ones.
        modelOrigins: { anthropic: 'http://127.0.0.1:9', openai: 'http://127.0.0.1:9', ...opts.modelOrigins },
        modelTimeoutMs: opts.modelTimeoutMs ?? 10_000,
        sandboxRoot: h.spec.sandboxRoot,
      },
    });
    return h.running;
  };
  for (const h of hosts) await startHost(h);
  const first = hosts[0]!;
  const workerMetrics = createWorkerMetrics({ prisma, hostId: first.spec.id, sandboxesMemoryBytes, sandboxUsage: () => first.local.sandboxUsage() });
  const metricsServer = await startMetricsServer(workerMetrics.registry, 0, '127.0.0.1');
  const startOrchestration = async () => {
    const deps = { ...first.running!.activityDeps, metrics: workerMetrics };
    const activities: OrchestrationActivities & Partial<SandboxHostActivities> =
      hosts.length === 1 ? { ...createWorkerActivities(deps).orchestration, ...first.running!.activities } : createWorkerActivities(deps).orchestration;
    const worker: Worker = await createOrchestrationWorker({
      connection,
      namespace: stack.namespace,
      taskQueue,
      activities,
      workflowBundle: { codePath: stack.workflowBundlePath },
      tracing,
    });
    const running = worker.run();
    const stopSweeper = opts.lostHostSweep
      ? runLostHostSweeper({ prisma, notifier: pgNotifier, temporal, orchestrationQueue: taskQueue, logger, ...opts.lostHostSweep })
      : async () => {};
    return {
      async stop() {
        await stopSweeper();
        worker.shutdown();
        await running;
      },
    };
  };
  let orchestration: { stop(): Promise<void> } | null = await startOrchestration();
  const testHosts: TestHost[] = hosts.map((h) => ({
    id: h.spec.id,
    taskQueue: sandboxHostTaskQueue(taskQueue, h.spec.id),
    sandboxRoot: h.spec.sandboxRoot,
    local: h.local,
    get egressProxy() {
      return h.running!.egress.proxy;
    },
    get running() {
      return h.running !== null;
    },
    async stop(stopOpts) {
      await h.running?.stop(stopOpts);
      h.running = null;
    },
    async start() {
      if (!h.running) await startHost(h);
    },
  }));
  const { api, baseUrl } = await startTestApi({
    stack,
    prisma,
    temporal,
    taskQueue,
    providerIds: [...first.providers.keys()],
    logger,
    databaseUrl,
    repositoryPolicy,
    idleStopMs,
    egressDefaults,
    defaultAgent: opts.defaultAgent,
  });
  return {
    stack,
    baseUrl,
    prisma,
    temporal,
    taskQueue,
    sandboxRoot: first.spec.sandboxRoot,
    repoRoot,
    local: first.local,
    api,
    get egressProxy() {
      return testHosts[0]!.egressProxy;
    },
    hosts: testHosts,
    workerMetricsUrl: `http://127.0.0.1:${metricsServer.port}/metrics`,
    temporalSdkMetricsUrl: `http://127.0.0.1:${sdkMetricsPort}/metrics`,
    async stopWorker() {
      await orchestration?.stop();
      orchestration = null;
      for (const h of testHosts) await h.stop({ crash: true });
    },
    async startWorker() {
      for (const h of testHosts) await h.start();
      if (!orchestration) orchestration = await startOrchestration();
    },
    async stop() {
      await api.close();
      await orchestration?.stop();
      await metricsServer.close();
      for (const h of testHosts) await h.stop();
      for (const h of hosts) {
        const sandboxes = await prisma.sandbox.findMany({ where: { directory: { startsWith: h.spec.sandboxRoot } } });
        for (const s of sandboxes) {
          const handle = await h.local.resumeSandbox(s.id);
          if (handle) await h.local.destroySandbox(handle);
        }
        await removeScratchSandboxRoot(h.local, h.spec.sandboxRoot); // whatever is left (a sandbox whose row was never completed)
      }
      await connection.close();
      await temporal.connection.close();
      await prisma.$disconnect();
      await closeAuthLookups();
      await tracing?.shutdown();
    },
  };
}

/** POSTs JSON (with the token of the workspace it is about) and returns status, headers and parsed body. */
export async function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; headers: Headers; body: any }> {
  const res = await authedFetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  return { status: res.status, headers: res.headers, body: await res.json().catch(() => null) };
}

/** PUTs JSON (with the token of the workspace it is about) and returns status and parsed body. */
export async function putJson(url: string, body: unknown): Promise<{ status: number; body: any }> {
  const res = await authedFetch(url, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, body: await res.json().catch(() => null) };
}

export async function getJson(url: string): Promise<{ status: number; body: any }> {
  const res = await authedFetch(url);
  return { status: res.status, body: await res.json().catch(() => null) };
}
