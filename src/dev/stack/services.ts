/**
 * Per-suite services on the run's shared stack: a worker on its own task queue (real activities and
 * the real local provider, optionally wrapped with gates or faults), and the real API server with
 * Socket.IO on a free port. Everything talks to the real Temporal server and Postgres.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, type Worker } from '@temporalio/worker';
import { createWorkerActivities } from '../../activities';
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
import { egressSocketPath, startSandboxHostEgress } from '../../egress/sandboxEgress';
import type { EgressProxy } from '../../egress/egressProxy';
import type { RepositoryPolicy } from '../../repositories/policy';
import { createScratchSandboxRoot, removeScratchSandboxRoot } from '../scratchSandboxRoot';
import { pgNotifier } from '../../db/notifier';
import { createTemporalClient } from '../../temporal/client';
import { createWorker } from '../../worker/createWorker';
import { runSandboxReconciler } from '../../recovery/sandboxAgents';
import { authedFetch, closeAuthLookups } from './auth';
import { readStack, type TestStack } from './stackFile';
import { startTestApi } from './testApi';

export interface TestServices {
  stack: TestStack;
  baseUrl: string;
  prisma: PrismaClient;
  temporal: Client;
  taskQueue: string;
  /** Root of this suite's sandboxes (outside the repository roots, refused as a repository). */
  sandboxRoot: string;
  /** A directory under the repository roots for the suite's test repositories. */
  repoRoot: string;
  local: LocalProvider;
  api: ApiServer;
  /** The egress proxy of this suite's sandboxes (src/egress). */
  egressProxy: EgressProxy;
  /** Stops the worker (and its reconciler) as a worker process that died would: the API stays up. */
  stopWorker(): Promise<void>;
  /** Starts the worker again after {@link stopWorker} (a new worker on the same task queue, reconciling at once when configured). */
  startWorker(): Promise<void>;
  /** Stops the API and the worker, destroys every sandbox made under `sandboxRoot`, closes connections. */
  stop(): Promise<void>;
}

let runtimeInstalled = false;

export async function startServices(
  opts: {
    wrapProvider?: (local: LocalProvider) => SandboxProvider;
    /** Postgres URL the worker and the API use (e.g. through a fault proxy, ./tcpProxy.ts); default the stack's. */
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
  } = {},
): Promise<TestServices> {
  const stack = readStack();
  if (!runtimeInstalled) {
    Runtime.install({ logger: new DefaultLogger((process.env.TEST_TEMPORAL_LOG_LEVEL ?? 'ERROR') as 'ERROR') });
    runtimeInstalled = true;
  }
  const logger = opts.logger ?? createLogger('test', process.env.TEST_LOG_LEVEL ?? 'silent');
  const databaseUrl = opts.databaseUrl ?? stack.databaseUrl;
  const prisma = createPrismaClient(databaseUrl);
  const temporalAddress = opts.temporalAddress ?? stack.temporalAddress;
  const temporal = await createTemporalClient({ address: temporalAddress, namespace: stack.namespace });
  const connection = await NativeConnection.connect({ address: temporalAddress });
  const taskQueue = `test-${randomUUID()}`;
  const sandboxRoot = createScratchSandboxRoot();
  const repoRoot = mkdtempSync(path.join(stack.workDir, 'repos-'));
  const repositoryPolicy: RepositoryPolicy = { roots: [stack.workDir], protectedPaths: [sandboxRoot], allowGitProtocol: opts.repositoryPolicy?.allowGitProtocol ?? false };
  const confinement = { ...(opts.confinement ?? DEFAULT_CONFINEMENT), agentsDir: loadConfig({}).confinement.agentsDir };
  const local = new LocalProvider({ sandboxRoot, logger, confinement, repositoryPolicy, egressSocket: egressSocketPath(sandboxRoot) });
  const provider = opts.wrapProvider ? opts.wrapProvider(local) : local;
  const providers = new Map([[provider.id, provider]]);
  const idleStopMs = opts.idleStopMs ?? 0;
  const egressDefaults = opts.egressDefaults ?? { mode: 'deny', hosts: [] };
  const egress = await startSandboxHostEgress({
    prisma,
    notifier: pgNotifier,
    logger,
    credentialsKey: Buffer.from(stack.credentialsKey, 'base64'),
    defaults: egressDefaults,
    // Closed ports on this machine's loopback unless a test serves a fake model API: never the real ones.
    modelOrigins: { anthropic: 'http://127.0.0.1:9', openai: 'http://127.0.0.1:9', ...opts.modelOrigins },
    modelTimeoutMs: opts.modelTimeoutMs ?? 10_000,
    sandboxRoot,
  });
  const activities = createWorkerActivities({
    prisma,
    providers,
    notifier: pgNotifier,
    temporal,
    logger,
    idleStopMs,
    egress: egress.issuer,
    modelFailures: egress.proxy.failures,
  });
  const startWorker = async () => {
    const worker: Worker = await createWorker({
      connection,
      namespace: stack.namespace,
      taskQueue,
      activities,
      workflowBundle: { codePath: stack.workflowBundlePath },
    });
    const running = worker.run();
    const stopReconciler =
      opts.reconcileIntervalMs !== undefined
        ? runSandboxReconciler({ prisma, providers, temporal, taskQueue, logger, idleStopMs, intervalMs: opts.reconcileIntervalMs })
        : async () => {};
    return {
      async stop() {
        await stopReconciler();
        worker.shutdown();
        await running;
      },
    };
  };
  let worker: { stop(): Promise<void> } | null = await startWorker();
  const { api, baseUrl } = await startTestApi({
    stack,
    prisma,
    temporal,
    taskQueue,
    providerIds: [provider.id],
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
    sandboxRoot,
    repoRoot,
    local,
    api,
    egressProxy: egress.proxy,
    async stopWorker() {
      await worker?.stop();
      worker = null;
    },
    async startWorker() {
      if (!worker) worker = await startWorker();
    },
    async stop() {
      await api.close();
      await worker?.stop();
      const sandboxes = await prisma.sandbox.findMany({ where: { directory: { startsWith: sandboxRoot } } });
      for (const s of sandboxes) {
        const handle = await local.resumeSandbox(s.id);
        if (handle) await local.destroySandbox(handle);
      }
      await egress.proxy.close();
      await removeScratchSandboxRoot(local, sandboxRoot); // whatever is left (a sandbox whose row was never completed)
      await connection.close();
      await temporal.connection.close();
      await prisma.$disconnect();
      await closeAuthLookups();
    },
  };
}

/** POSTs JSON (with the token of the workspace it is about) and returns status, headers and parsed body. */
export async function postJson(url: string, body: unknown): Promise<{ status: number; headers: Headers; body: any }> {
  const res = await authedFetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, headers: res.headers, body: await res.json().catch(() => null) };
}

export async function getJson(url: string): Promise<{ status: number; body: any }> {
  const res = await authedFetch(url);
  return { status: res.status, body: await res.json().catch(() => null) };
}
