/**
 * The stack `npm run bench` measures, and what its scenarios share on it.
 *
 * {@link startStack} brings the stack up the way the start command does — a Temporal dev server (in
 * memory, free ports), a fresh Postgres database with the migrations, the worker and the API as
 * separate processes (with ENABLE_BENCHMARK_PROVIDERS=1: the benchmark-only `instant` and `slow`
 * providers and the floor endpoint) — with the repository's typed client (client/) watching the bench
 * workspace over a real Socket.IO connection; `stop` tears it all down. In between, the scenarios use
 * its load runs (autocannon), creates and waits through the typed client, the discarding of a load
 * run's backlog, the CPU probe and the CPU layout.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import type { Client } from '@temporalio/client';
import { dropDatabase } from '../../src/db/migrate';
import { createPrismaClient } from '../../src/db/prisma';
import { createScratchDatabase } from '../../src/dev/scratchDatabase';
import { createScratchSandboxRoot } from '../../src/dev/scratchSandboxRoot';
import { ownDevServerSettings, startTemporalDevServer } from '../../src/dev/temporalDevServer';
import { createTemporalClient } from '../../src/temporal/client';
import { createTestRepo } from '../../src/dev/stack/gitRepo';
import { findFreePort } from '../../src/net/freePort';
import { spawnService, waitForHealth } from '../../src/dev/serviceProcess';
import type { PrismaClient } from '../../src/generated/prisma/client';
import { createRealtimeClient, createTaskServiceClient, type TaskRecord, type TaskServiceClient, type Watch, type WorkspaceView } from '../../client';
import type { AgentId } from '../../src/domain/agents';
import { pinPostgres, pinTree, postgresProcesses } from './pinning';
import { killLocalTasks } from './cleanup';
import { cpuMs, ownCpuMs, percentile, rssMiB, sleep, type CpuProbe } from './measure';

export const TOKEN = 'bench-token-not-secret';
export const WORKSPACE = 'bench';

/** How the report names each process of {@link BenchStack.probe}. */
export const CPU_LABELS: Record<string, string> = { api: 'API', worker: 'worker', temporal: 'Temporal dev server', postgres: 'Postgres', bench: 'bench (load + client)' };

export interface LoadResult {
  p50: number;
  p95: number;
  p99: number;
  rps: number;
  non2xx: number;
  count: number;
}

/**
 * What the client saw of one task, taken from its workspace view: every message carries the whole
 * task record, so a view change is a message arriving. `reached` lists when the record first reached
 * each higher `lastEventSeq` (the first entry is the task's first message), `running` when its status
 * first was running or error (and the record's lastEventSeq then). The record in a message is the task
 * as the relay read it, which may be newer than the event: an event counts as arrived once a record
 * covering its seq has (the event's type is read from the task's history afterwards, scenario 4).
 */
export interface SeenTask {
  reached: Array<{ seq: number; at: number }>;
  running?: { at: number; seq: number };
}

export interface BenchStack {
  /** The API's base URL. */
  base: string;
  /** The bench repository (a git repository in the run's work directory). */
  repo: string;
  prisma: PrismaClient;
  /** The Temporal client. */
  client: Client;
  /** The typed REST client (client/), with the bench token. */
  rest: TaskServiceClient;
  /** The API's and the worker's pids (each the root of its process tree: tsx, then the service's node process). */
  apiPid: number;
  workerPid: number;
  /** RSS in MiB of the API and the worker once the stack has been up and idle for 2 s (scenario 6). */
  idle: { api: number; worker: number };
  /** Whether the CPU layout is applied (`--pin`, the default, on at least 2 cores). */
  layout: boolean;
  /** Scenario 1's layout (`--pin`): API and Postgres apart from the worker and Temporal; `false` gives every process every core. */
  pinLayout: (on: boolean) => void;
  /** CPU ms so far of the API, the worker, the Temporal dev server, Postgres (all its processes) and this process. */
  probe: CpuProbe;
  /**
   * A load run (autocannon): POSTs `body` to `url` over `connections` keep-alive connections for the
   * run's seconds, `onSample` called every 250 ms meanwhile; latencies are per response (its `response`
   * event), percentiles computed over all responses of the run.
   */
  load: (url: string, body: unknown, connections: number, onSample?: () => void) => Promise<LoadResult>;
  /** After a load run: discards the provisioning its creates queued (see startStack). */
  discardBacklog: () => Promise<void>;
  /** POST /v1/tasks with `provider` (and `agent`, else the service's default); t1 is when the response was read. */
  createOne: (provider: string, agent?: AgentId) => Promise<{ id: string; t0: number; t1: number }>;
  /** When the client first saw the task's record running (or error), and that record's lastEventSeq. */
  waitRunning: (id: string) => Promise<{ at: number; seq: number }>;
  /** What the client saw of each task since {@link BenchStack.startRecording}. */
  seen: ReadonlyMap<string, SeenTask>;
  /** From now on the client's view of the workspace is recorded in `seen` (the scenarios after the load runs). */
  startRecording: () => void;
  /** Kills the real tasks through the API and tears everything down. */
  stop: () => Promise<void>;
}

export interface StackOptions {
  /** Duration of each load run. */
  seconds: number;
  /** `--pin`: scenario 1's CPU layout (where there are at least 2 cores). */
  pin: boolean;
  /** `--profile-worker`: where the worker writes its V8 CPU profile when it exits. */
  profileWorker?: string;
}

export async function startStack(opts: StackOptions): Promise<BenchStack> {
  const workDir = mkdtempSync(path.join(os.tmpdir(), 'tps-bench-'));
  const { cli, server } = await ownDevServerSettings({ log: (l) => process.stderr.write(`${l}\n`) });
  const temporal = await startTemporalDevServer(cli, server);
  const databaseUrl = await createScratchDatabase('tps_bench', process.env.DATABASE_URL);
  const apiPort = await findFreePort();
  const env = {
    ...process.env,
    DATABASE_URL: databaseUrl,
    TEMPORAL_ADDRESS: temporal.address,
    PORT: String(apiPort),
    API_TOKENS: `${TOKEN}=${WORKSPACE}`,
    ENABLE_BENCHMARK_PROVIDERS: '1',
    SLOW_PROVIDER_DELAY_MS: '5000',
    SANDBOX_ROOT: createScratchSandboxRoot('tps-bench-sandboxes-'),
    SANDBOX_HOST_ID: 'bench',
    // The load runs place thousands of benchmark-provider sandboxes (rows, nothing runs): room for all.
    SANDBOX_HOST_CAPACITY: '100000',
    REPOSITORY_ROOTS: workDir,
    LOG_LEVEL: 'warn',
  };
  const worker: ChildProcess = spawnService(
    'worker',
    { env, stdio: ['ignore', 'ignore', 'inherit'], detached: true },
    opts.profileWorker ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(opts.profileWorker)}`] : undefined,
  );
  const api: ChildProcess = spawnService('api', { env, stdio: ['ignore', 'ignore', 'inherit'], detached: true });
  const base = `http://127.0.0.1:${apiPort}`;
  await waitForHealth(base);
  const layout = opts.pin && os.cpus().length >= 2;
  const allCores = `0-${os.cpus().length - 1}`;
  const pinLayout = (on: boolean) => {
    if (!layout) return;
    pinTree(api.pid!, on ? '0' : allCores);
    pinPostgres(on ? '0' : allCores);
    pinTree(worker.pid!, on ? '1' : allCores);
    pinTree(temporal.process.pid!, on ? '1' : allCores);
  };
  // Every process on every core until scenario 1 pins them for its load runs (and gives them back).
  pinLayout(false);
  const prisma = createPrismaClient(databaseUrl);
  const client = await createTemporalClient({ address: temporal.address, namespace: temporal.namespace });
  const repo = await createTestRepo(path.join(workDir, 'repo'));
  const rest = createTaskServiceClient({ baseUrl: base, token: TOKEN });
  const live = createRealtimeClient({ baseUrl: base, token: TOKEN, rest, socket: { transports: ['websocket'] } });

  const seen = new Map<string, SeenTask>();
  // Only scenarios 3-5 read `seen`: during the load runs the listener does nothing.
  let recording = false;
  let known = new Map<string, TaskRecord>();
  const record = (view: WorkspaceView) => {
    if (!recording) return;
    const at = performance.now();
    for (const task of view.tasks) {
      if (known.get(task.id) === task) continue; // the reducer keeps unchanged records by reference
      known.set(task.id, task);
      const s = seen.get(task.id) ?? { reached: [] };
      seen.set(task.id, s);
      if (task.lastEventSeq > (s.reached[s.reached.length - 1]?.seq ?? 0)) s.reached.push({ seq: task.lastEventSeq, at });
      if (!s.running && (task.status === 'running' || task.status === 'error')) s.running = { at, seq: task.lastEventSeq };
    }
  };
  /**
   * (Re)subscribes to the workspace with a fresh watch, live once its first subscribe is acked. The
   * view keeps every task record it was sent and its reducer costs O(tasks held) per message, so after
   * each load run (thousands of creates, archived in the database without events) a fresh one replaces it.
   */
  let watch: Watch<WorkspaceView> | undefined;
  const watchWorkspace = async () => {
    watch?.close();
    known = new Map();
    const w = live.watchWorkspace(WORKSPACE);
    watch = w;
    w.subscribe(record);
    await w
      .until(() => w.stats.subscribes >= 1, 15_000)
      .catch(() => {
        throw new Error(`workspace subscribe not acked${w.error ? ` (${w.error.code}: ${w.error.message})` : ''}`);
      });
  };
  await watchWorkspace();

  const settle = async () => {
    for (const deadline = Date.now() + 15 * 60_000; Date.now() < deadline; await sleep(500)) {
      if ((await prisma.task.count({ where: { workspaceId: WORKSPACE, providerId: { not: 'floor' }, status: { notIn: ['running', 'error', 'archived'] } } })) === 0) return;
    }
    throw new Error('tasks did not settle');
  };
  /**
   * After a load run: the provisioning its creates queued (thousands of runs at a few dozen per second
   * on these 2 cores) is discarded so that the next run starts on an idle stack. Once the API has
   * started every run it answered for, every provisionTask run still open is terminated, then the rows it left half-way are archived (so the recovery sweep
   * leaves them alone). Scenario 5 measures provisioning throughput on its own.
   */
  const discardBacklog = async () => {
    // First let the API start every run it has answered for, so that none starts after the clean-up.
    for (let pending = 1; pending > 0; await sleep(200)) {
      const { data, error } = await rest.GET('/healthz');
      if (!data) throw new Error(`GET /healthz failed: ${JSON.stringify(error)}`);
      pending = data.provisionStartsPending;
    }
    const open: string[] = [];
    for await (const wf of client.workflow.list({ query: `WorkflowType = 'provisionTask' AND ExecutionStatus = 'Running'` })) open.push(wf.workflowId);
    let next = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < open.length) {
          await client.workflow
            .getHandle(open[next++]!)
            .terminate('benchmark: backlog discarded between load runs')
            .catch(() => undefined);
        }
      }),
    );
    await sleep(1000);
    const archived = await prisma.task.updateMany({
      where: { workspaceId: WORKSPACE, status: { notIn: ['running', 'error', 'archived'] } },
      data: { status: 'archived', statusMessage: 'benchmark: backlog discarded' },
    });
    // Their benchmark-provider sandboxes (rows only) leave the host's count, as a kill's would.
    await prisma.sandbox.updateMany({ where: { providerId: { in: ['instant', 'slow'] }, state: { not: 'destroyed' } }, data: { state: 'destroyed' } });
    process.stderr.write(`discarded ${open.length} open runs, archived ${archived.count} tasks\n`);
    await settle();
    await watchWorkspace();
  };
  const createOne = async (provider: string, agent?: AgentId) => {
    const t0 = performance.now();
    const {
      data: task,
      error,
      response,
    } = await rest.POST('/v1/tasks', { body: { workspaceId: WORKSPACE, repository: repo, prompt: 'Benchmark task', provider, ...(agent ? { agent } : {}) } });
    const t1 = performance.now(); // the typed client resolves with the parsed body: t1 includes reading it
    if (!task) throw new Error(`create answered ${response.status}: ${JSON.stringify(error)}`);
    return { id: task.id, t0, t1 };
  };
  const waitRunning = async (id: string) => {
    const running = () => seen.get(id)?.running;
    await watch!
      .until(() => running() !== undefined, 120_000)
      .catch(() => {
        throw new Error(`task ${id} did not reach running`);
      });
    return running()!;
  };

  const load = async (url: string, body: unknown, connections: number, onSample?: () => void): Promise<LoadResult> => {
    const latencies: number[] = [];
    let non2xx = 0;
    const sampler = onSample ? setInterval(onSample, 250) : undefined;
    const result = await new Promise<autocannon.Result>((resolve, reject) => {
      const instance = autocannon(
        {
          url,
          method: 'POST',
          connections,
          duration: opts.seconds,
          headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
          body: JSON.stringify(body),
        },
        (err, res) => (err ? reject(err) : resolve(res)),
      );
      instance.on('response', (_client, statusCode, _bytes, responseTime) => {
        latencies.push(responseTime);
        if (statusCode < 200 || statusCode >= 300) non2xx++;
      });
    });
    if (sampler) clearInterval(sampler);
    return {
      p50: percentile(latencies, 50),
      p95: percentile(latencies, 95),
      p99: percentile(latencies, 99),
      rps: latencies.length / opts.seconds,
      non2xx,
      count: result.requests.total,
    };
  };

  await sleep(2000);
  const idle = { api: rssMiB(api.pid!), worker: rssMiB(worker.pid!) };

  const probe: CpuProbe = () => ({
    api: cpuMs(api.pid!),
    worker: cpuMs(worker.pid!),
    temporal: cpuMs(temporal.process.pid!),
    postgres: postgresProcesses().reduce((sum, pid) => sum + ownCpuMs(pid, { reapedChildren: true }), 0),
    bench: (process.cpuUsage().user + process.cpuUsage().system) / 1000,
  });

  const stop = async () => {
    live.close();
    await killLocalTasks(prisma, rest);
    for (const child of [api, worker]) {
      try {
        process.kill(-child.pid!, 'SIGTERM');
      } catch {
        // gone
      }
    }
    await sleep(3000);
    await prisma.$disconnect();
    await client.connection.close();
    await temporal.stop();
    await dropDatabase(databaseUrl);
    pinLayout(false); // the machine's shared Postgres gets every core back
    rmSync(workDir, { recursive: true, force: true });
    rmSync(env.SANDBOX_ROOT, { recursive: true, force: true });
  };

  return {
    base,
    repo,
    prisma,
    client,
    rest,
    apiPid: api.pid!,
    workerPid: worker.pid!,
    idle,
    layout,
    pinLayout,
    probe,
    load,
    discardBacklog,
    createOne,
    waitRunning,
    seen,
    startRecording: () => {
      recording = true;
    },
    stop,
  };
}

/** `measure`, run at most once per stack: scenarios that report the same measurements share its promise. */
export function oncePerStack<T>(measure: (stack: BenchStack) => Promise<T>): (stack: BenchStack) => Promise<T> {
  const results = new WeakMap<BenchStack, Promise<T>>();
  return (stack) => {
    let result = results.get(stack);
    if (!result) results.set(stack, (result = measure(stack)));
    return result;
  };
}
