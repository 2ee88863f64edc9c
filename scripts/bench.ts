/**
 * `npm run bench`: measures what the asynchronous design buys (docs/BENCHMARKS.md, method) and writes docs/BENCHMARKS.md.
 *
 * It brings the stack up the way the start command does — a Temporal dev server (in memory, free
 * ports), a fresh Postgres database with the migrations, the worker and the API as separate processes
 * (with ENABLE_BENCHMARK_PROVIDERS=1: the benchmark-only `instant` and `slow` providers and the floor
 * endpoint) — then runs every scenario in one run, side by side, and tears it all down.
 *
 * Load comes from autocannon; latencies are per response (its `response` event), percentiles computed
 * over all responses of a run. Realtime figures come from the repository's typed client (client/:
 * createRealtimeClient and its workspace watch, over a real Socket.IO connection); REST calls other
 * than the load use its REST client. These machines are noisy: the report gives medians and ratios
 * measured in the same run, never a lone absolute time.
 *
 *   npm run bench [-- --seconds 8]
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import { Command } from 'commander';
import { dropDatabase } from '../src/db/migrate';
import { createScratchDatabase } from '../src/dev/scratchDatabase';
import { createScratchSandboxRoot } from '../src/dev/scratchSandboxRoot';
import { randomUUID } from 'node:crypto';
import { createPrismaClient } from '../src/db/prisma';
import { insertTaskWithCreatedEvent } from '../src/db/taskEvents';
import { ownDevServerSettings, startTemporalDevServer } from '../src/dev/temporalDevServer';
import { createTemporalClient } from '../src/temporal/client';
import { createTestRepo } from '../src/dev/stack/gitRepo';
import { findFreePort } from '../src/net/freePort';
import { spawnService, waitForHealth } from '../src/dev/serviceProcess';
import type { provisionTask } from '../src/workflows/provisionTask';
import { createRealtimeClient, createTaskServiceClient, type TaskRecord, type Watch, type WorkspaceView } from '../client';
import type { AgentId } from '../src/domain/agents';
import { pinPostgres, pinTree, postgresProcesses } from './bench/pinning';
import { killLocalTasks } from './bench/cleanup';
import { childPids, ms, percentile, regularActivitySpans, sleep } from './bench/measure';
import { localProvisioning, provisioningAgainstFloor, workerCpu, type ProvisioningBenchContext } from './bench/provisioning';
import { warmPoolProvisioning } from './bench/warmPool';

const ROOT = path.resolve(__dirname, '..');
const opts = new Command()
  .option('--seconds <n>', 'duration of each load run', '8')
  .option('--only <list>', 'comma-separated scenario numbers to run (then the report goes to stdout, docs/ are left alone)')
  .option('--profile-worker <dir>', "write the worker's V8 CPU profile (.cpuprofile) into <dir> when it exits")
  .option('--no-pin', 'leave every process on every core (default: API and Postgres on core 0, worker and Temporal on core 1)')
  .parse()
  .opts<{ seconds: string; only?: string; profileWorker?: string; pin: boolean }>();
const SECONDS = Number(opts.seconds);
const ONLY = opts.only ? new Set(opts.only.split(',').map(Number)) : undefined;
const runs = (scenario: number) => !ONLY || ONLY.has(scenario);
const TOKEN = 'bench-token-not-secret';
const WORKSPACE = 'bench';

// ---------------------------------------------------------------------------------------------- utils

const median = (values: number[]) => percentile(values, 50);
const ratio = (a: number, b: number) => (b > 0 ? (a / b).toFixed(2) : 'n/a');

/** `read(pid)` summed over a process and all its descendants (tsx runs the service in a child node process). */
function overProcessTree(pid: number, read: (pid: number) => number): number {
  return childPids(pid).reduce((total, child) => total + overProcessTree(child, read), read(pid));
}

/** RSS in MiB of a process and its children. */
const rssMiB = (pid: number) =>
  overProcessTree(pid, (p) => {
    try {
      const kb = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p}/status`, 'utf8'))?.[1];
      return kb ? Number(kb) / 1024 : 0;
    } catch {
      return 0;
    }
  });

/**
 * CPU time (user + system) in ms of one process, from /proc (clock ticks of 10 ms). With
 * `reapedChildren`, plus that of its children that have exited (how the Postgres server keeps the
 * time of backends that closed during a run: each live backend is in the list on its own).
 */
function ownCpuMs(pid: number, opts: { reapedChildren?: boolean } = {}): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8')
      .replace(/^.*\) /, '')
      .split(' ');
    // fields 14-17 of stat: utime, stime, cutime, cstime
    const own = Number(fields[11]) + Number(fields[12]);
    return (opts.reapedChildren ? own + Number(fields[13]) + Number(fields[14]) : own) * 10;
  } catch {
    return 0;
  }
}

/** CPU time in ms of a process and its children. */
const cpuMs = (pid: number) => overProcessTree(pid, ownCpuMs);

type CpuProbe = () => Record<string, number>;
const CPU_LABELS: Record<string, string> = { api: 'API', worker: 'worker', temporal: 'Temporal dev server', postgres: 'Postgres', bench: 'bench (load + client)' };

/** Runs `work` and returns the CPU ms each named process used meanwhile (postgres: all its processes; bench: this process). */
async function cpuDuring<T>(probe: CpuProbe, work: () => Promise<T>): Promise<{ result: T; cpu: Record<string, number> }> {
  const before = probe();
  const result = await work();
  const after = probe();
  return { result, cpu: Object.fromEntries(Object.keys(after).map((k) => [k, after[k]! - (before[k] ?? 0)])) };
}

interface LoadResult {
  p50: number;
  p95: number;
  p99: number;
  rps: number;
  non2xx: number;
  count: number;
}

async function load(url: string, body: unknown, connections: number, onSample?: () => void): Promise<LoadResult> {
  const latencies: number[] = [];
  let non2xx = 0;
  const sampler = onSample ? setInterval(onSample, 250) : undefined;
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url,
        method: 'POST',
        connections,
        duration: SECONDS,
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
  return { p50: percentile(latencies, 50), p95: percentile(latencies, 95), p99: percentile(latencies, 99), rps: latencies.length / SECONDS, non2xx, count: result.requests.total };
}

// ------------------------------------------------------------------------------------------ the stack

async function main(): Promise<void> {
  const started = new Date();
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
  /** Scenario 1's layout (`--pin`): API and Postgres apart from the worker and Temporal; `false` gives every process every core. */
  const pinLayout = (on: boolean) => {
    if (!layout) return;
    pinTree(api.pid!, on ? '0' : allCores);
    pinPostgres(on ? '0' : allCores);
    pinTree(worker.pid!, on ? '1' : allCores);
    pinTree(temporal.process.pid!, on ? '1' : allCores);
  };
  const prisma = createPrismaClient(databaseUrl);
  const client = await createTemporalClient({ address: temporal.address, namespace: temporal.namespace });
  const repo = await createTestRepo(path.join(workDir, 'repo'));
  const rest = createTaskServiceClient({ baseUrl: base, token: TOKEN });
  const live = createRealtimeClient({ baseUrl: base, token: TOKEN, rest, socket: { transports: ['websocket'] } });

  /**
   * What the client saw of each task, taken from its workspace view: every message carries the whole
   * task record, so a view change is a message arriving. `reached` lists when the record first reached
   * each higher `lastEventSeq` (the first entry is the task's first message), `running` when its status
   * first was running or error (and the record's lastEventSeq then). The record in a message is the task
   * as the relay read it, which may be newer than the event: an event counts as arrived once a record
   * covering its seq has (the event's type is read from the task's history afterwards, scenario 4).
   */
  const seen = new Map<string, { reached: Array<{ seq: number; at: number }>; running?: { at: number; seq: number } }>();
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
  /** When the client first saw the task's record running (or error), and that record's lastEventSeq. */
  const waitRunning = async (id: string) => {
    const running = () => seen.get(id)?.running;
    await watch!
      .until(() => running() !== undefined, 120_000)
      .catch(() => {
        throw new Error(`task ${id} did not reach running`);
      });
    return running()!;
  };

  const report: string[] = [];
  try {
    await sleep(2000);
    const idle = { api: rssMiB(api.pid!), worker: rssMiB(worker.pid!) };

    const probe: CpuProbe = () => ({
      api: cpuMs(api.pid!),
      worker: cpuMs(worker.pid!),
      temporal: cpuMs(temporal.process.pid!),
      postgres: postgresProcesses().reduce((sum, pid) => sum + ownCpuMs(pid, { reapedChildren: true }), 0),
      bench: (process.cpuUsage().user + process.cpuUsage().system) / 1000,
    });
    const sections: string[][] = [];

    // 1b. Where createTask's time goes, measured in this process with nothing else running:
    // the floor's insert, createTask's transaction (row + event + notify), and the workflow start.
    const breakdown = { insert: [] as number[], transaction: [] as number[], start: [] as number[] };
    for (let i = 0; i < (runs(1) ? 50 : 0); i++) {
      const id = randomUUID();
      let t = performance.now();
      await prisma.task.create({
        data: {
          id,
          workspaceId: 'bench-breakdown',
          repository: repo,
          prompt: 'p',
          providerId: 'floor',
          agentType: 'claude',
          status: 'archived',
          statusMessage: 'benchmark floor row',
          workflowId: `floor-${id}`,
        },
      });
      breakdown.insert.push(performance.now() - t);
      const id2 = randomUUID();
      t = performance.now();
      await insertTaskWithCreatedEvent(
        prisma,
        {
          id: id2,
          workspaceId: 'bench-breakdown',
          repository: repo,
          prompt: 'p',
          requestedBranch: null,
          providerId: 'instant',
          agentType: 'claude',
          statusMessage: 'provision queued',
          workflowId: `bd-${id2}`,
        },
        {},
      );
      breakdown.transaction.push(performance.now() - t);
      t = performance.now();
      const handle = await client.workflow.start<typeof provisionTask>('provisionTask', {
        taskQueue: 'bench-breakdown-no-worker',
        workflowId: `bd-${id2}`,
        args: [{ taskId: id2 }],
      });
      breakdown.start.push(performance.now() - t);
      await handle.terminate('benchmark breakdown');
      await prisma.task.delete({ where: { id: id2 } }); // never provisioned: keep it from the recovery sweep
    }

    // 1. createTask latency vs the floor, at 1, 16, 64 connections.
    const s1: Array<{ c: number; create: LoadResult; floor: LoadResult; createCpu: Record<string, number>; floorCpu: Record<string, number> }> = [];
    const peak = { api: 0, worker: 0 };
    pinLayout(true);
    for (const c of runs(1) || runs(6) ? [1, 16, 64] : []) {
      const floor = await cpuDuring(probe, () => load(`${base}/v1/bench/floor`, { repository: repo, prompt: 'Benchmark task' }, c));
      const sample = c === 64 ? () => ((peak.api = Math.max(peak.api, rssMiB(api.pid!))), (peak.worker = Math.max(peak.worker, rssMiB(worker.pid!)))) : undefined;
      const create = await cpuDuring(probe, () => load(`${base}/v1/tasks`, { workspaceId: WORKSPACE, repository: repo, prompt: 'Benchmark task', provider: 'instant' }, c, sample));
      s1.push({ c, create: create.result, floor: floor.result, createCpu: create.cpu, floorCpu: floor.cpu });
      process.stderr.write(`scenario 1, c=${c}: create p99 ${ms(create.result.p99)}, floor p99 ${ms(floor.result.p99)}\n`);
      await discardBacklog();
    }
    pinLayout(false);

    // 2. Independence from the provider: the same load with 0 s and 5 s steps, concurrency 16.
    if (runs(2)) {
      const instant = await load(`${base}/v1/tasks`, { workspaceId: WORKSPACE, repository: repo, prompt: 'Benchmark task', provider: 'instant' }, 16);
      await discardBacklog();
      const slow = await load(`${base}/v1/tasks`, { workspaceId: WORKSPACE, repository: repo, prompt: 'Benchmark task', provider: 'slow' }, 16);
      process.stderr.write(`scenario 2: p99 instant ${ms(instant.p99)}, slow ${ms(slow.p99)}\n`);
      await discardBacklog();
      sections.push([
        '## 2. Independence from the provider (16 connections)',
        '',
        '| provider steps | p50 | p95 | p99 | throughput |',
        '| --- | --- | --- | --- | --- |',
        `| 0 s (instant) | ${ms(instant.p50)} | ${ms(instant.p95)} | ${ms(instant.p99)} | ${instant.rps.toFixed(0)} req/s |`,
        `| 5 s (slow) | ${ms(slow.p50)} | ${ms(slow.p95)} | ${ms(slow.p99)} | ${slow.rps.toFixed(0)} req/s |`,
        '',
        `createTask p99 slow / instant = ${ratio(slow.p99, instant.p99)} (target at most 1.1: ${slow.p99 <= 1.1 * instant.p99 ? 'met' : 'missed'}).`,
        '',
      ]);
    }

    // 3 and 4. What the client waited before; time to first event and to each step (sequential tasks).
    recording = runs(3) || runs(4) || runs(5);
    if (runs(3) || runs(4)) {
      const s3: Record<string, { response: number[]; running: number[] }> = {};
      const firstEvent: number[] = [];
      const stepDelay = new Map<string, number[]>();
      const instant: Array<{ id: string; t1: number; upToSeq: number }> = [];
      for (const [provider, n] of [
        ['instant', 30],
        ['local', 10],
      ] as const) {
        s3[provider] = { response: [], running: [] };
        for (let i = 0; i < n; i++) {
          const { id, t0, t1 } = await createOne(provider);
          const done = await waitRunning(id);
          s3[provider]!.response.push(t1 - t0);
          s3[provider]!.running.push(done.at - t0);
          if (provider === 'instant') {
            firstEvent.push(seen.get(id)!.reached[0]!.at - t1);
            instant.push({ id, t1, upToSeq: done.seq });
          }
        }
      }
      // Each event up to the record that was running, at the first arrival of a record covering its seq
      // (the histories are read after the timed part).
      for (const { id, t1, upToSeq } of instant) {
        const { data: history, error } = await rest.GET('/v1/tasks/{id}/events', { params: { path: { id }, query: { limit: 500 } } });
        if (!history) throw new Error(`GET /v1/tasks/${id}/events failed: ${JSON.stringify(error)}`);
        const reached = seen.get(id)!.reached;
        for (const e of history.items) {
          if (e.seq > upToSeq) break;
          const at = reached.find((r) => r.seq >= e.seq)!.at;
          const key = e.type === 'task.step' ? `${(e.payload as { step: string }).step} ${(e.payload as { status: string }).status}` : e.type;
          stepDelay.set(key, [...(stepDelay.get(key) ?? []), at - t1]);
        }
      }
      process.stderr.write('scenarios 3-4 done\n');
      sections.push([
        '## 3. What the client waited before',
        '',
        '| provider | tasks | median time to the create response | median time to `running` (what a synchronous create made users wait) | ratio |',
        '| --- | --- | --- | --- | --- |',
        ...Object.entries(s3).map(
          ([p, v]) => `| ${p} | ${v.response.length} | ${ms(median(v.response))} | ${ms(median(v.running))} | ${ratio(median(v.running), median(v.response))}× |`,
        ),
        '',
        '## 4. Time to first event and to each step (instant provider, sequential tasks)',
        '',
        '| from the create response to | p50 | p99 |',
        '| --- | --- | --- |',
        `| first Socket.IO event | ${ms(percentile(firstEvent, 50))} | ${ms(percentile(firstEvent, 99))} |`,
        ...[...stepDelay.entries()].map(([k, v]) => `| ${k} | ${ms(percentile(v, 50))} | ${ms(percentile(v, 99))} |`),
        '',
        `Target: first event within 50 ms p50 of the response — measured ${ms(percentile(firstEvent, 50))}: ${percentile(firstEvent, 50) <= 50 ? 'met' : 'missed'}.`,
        '',
      ]);
    }

    // 5. Provisioning throughput: 200 tasks with the instant provider, then where the time goes.
    if (runs(5)) {
      const t5 = performance.now();
      const ids: string[] = [];
      let next = 0;
      let createdAt5 = 0;
      const { cpu: cpu5 } = await cpuDuring(probe, async () => {
        await Promise.all(
          Array.from({ length: 20 }, async () => {
            while (next < 200) {
              next++;
              ids.push((await createOne('instant')).id);
            }
          }),
        );
        createdAt5 = performance.now() - t5;
        await Promise.all(ids.map((id) => waitRunning(id)));
      });
      const elapsed5 = performance.now() - t5;
      const spans = new Map<string, { queue: number[]; run: number[] }>();
      for (const id of ids.slice(0, 25)) {
        for (const span of await regularActivitySpans(client, `provision-task-${id}`)) {
          const s = spans.get(span.name) ?? { queue: [], run: [] };
          s.queue.push(span.queue);
          s.run.push(span.run);
          spans.set(span.name, s);
        }
      }
      const cpuTotal = Object.values(cpu5).reduce((a, b) => a + b, 0);
      sections.push([
        '## 5. Provisioning throughput (200 tasks, instant provider, 20 creating clients)',
        '',
        `All 200 created in ${ms(createdAt5)}; all running after ${ms(elapsed5)}: ${(200 / (elapsed5 / 1000)).toFixed(1)} tasks reaching \`running\` per second.`,
        '',
        `CPU used from the first create until all 200 were running (user + system, from /proc), per task: ${(cpuTotal / 200).toFixed(1)} ms in all, of ${((2 * elapsed5) / 200).toFixed(1)} ms of CPU the 2 cores offered per task.`,
        '',
        '| process | CPU ms per task | share |',
        '| --- | --- | --- |',
        ...Object.entries(cpu5).map(([k, v]) => `| ${CPU_LABELS[k] ?? k} | ${(v / 200).toFixed(1)} | ${((100 * v) / cpuTotal).toFixed(0)} % |`),
        '',
        'Where the time goes, from the Temporal histories of 25 of those runs (ms, median per activity call):',
        '',
        '| activity | calls | waiting in the task queue (scheduled → started) | running (started → completed) |',
        '| --- | --- | --- | --- |',
        ...[...spans.entries()].map(([k, v]) => `| ${k} | ${v.run.length} | ${ms(median(v.queue))} | ${ms(median(v.run))} |`),
        '',
      ]);
    }

    // 7, 8 and 9. Provisioning against Temporal's floor, and with the real local provider (scripts/bench/provisioning.ts).
    if (runs(7) || runs(8) || runs(9)) {
      recording = true;
      const ctx: ProvisioningBenchContext = {
        client,
        orchestrationQueue: 'provision-task',
        hostQueue: 'provision-task-host-bench',
        // The worker split into its own time, its short-lived children's and its sandboxes' processes'.
        probe: () => {
          const { own, children, sandboxes } = workerCpu(worker.pid!);
          return { ...probe(), worker: own, workerChildren: children, sandboxes };
        },
        createOne,
        waitRunning,
        log: (line) => process.stderr.write(`${line}\n`),
      };
      if (runs(7)) sections.push((await provisioningAgainstFloor(ctx)).lines);
      if (runs(8)) sections.push((await localProvisioning(ctx)).lines);
      // 9. A warm sandbox pool (scripts/bench/warmPool.ts).
      if (runs(9)) sections.push((await warmPoolProvisioning({ ...ctx, prisma, rest, workspaceId: WORKSPACE, repository: repo })).lines);
    }

    // ------------------------------------------------------------------------------ the report
    const cpu = os.cpus()[0]?.model ?? 'unknown';
    const s16 = s1.find((r) => r.c === 16);
    const cpuPerRequest = (c: Record<string, number>, count: number) =>
      Object.keys(c)
        .map((k) => `${CPU_LABELS[k] ?? k} ${(c[k]! / count).toFixed(2)}`)
        .join(', ');
    report.push(
      '# Benchmarks',
      '',
      `Written by \`npm run bench\` on ${started.toISOString()}. Machine: ${os.cpus().length} × ${cpu}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, ${os.type()} ${os.release()}.`,
      '',
      '## Method',
      '',
      '- The stack as `scripts/start.sh` runs it: Temporal dev server (in memory here), Postgres (a fresh database), worker and API as separate processes; this script is a third process on the same 2 cores, so every figure includes its own load.',
      layout
        ? '- CPU layout in scenario 1 (`--pin`, the default): the API and Postgres on core 0, the worker and the Temporal dev server on core 1 (util-linux `taskset` on every thread; scripts/bench/pinning.ts), as production would run them apart; this script is not pinned. The other scenarios give every process both cores.'
        : '- CPU layout: none (`--no-pin`): every process may run on every core.',
      '- Load: autocannon, POSTs with a keep-alive connection per client, ' + `${SECONDS} s per run; latency per response, percentiles over all responses of the run.`,
      '- The floor is `POST /v1/bench/floor` (benchmark-only, enabled by ENABLE_BENCHMARK_PROVIDERS=1): the same Prisma insert of a task row and nothing else, behind the same HTTP, JSON and auth layers. Floor and createTask runs alternate, floor first, at each concurrency.',
      '- Providers: `instant` and `slow` are benchmark-only and make no sandbox (steps take 0 s and 5 s); `local` is the real provider (git clone, sandbox-agent, ACP session).',
      '- Every create also provisions a task on the same cores: a load run of 8 s queues thousands of runs. After each load run the script waits until the API has started every run it answered for (`provisionStartsPending` in /healthz), terminates the provisionTask runs still open and archives their tasks, so the next run starts on an idle stack; scenario 5 measures provisioning on its own.',
      "- Realtime: the repository's typed client (`client/`): `createRealtimeClient` over one WebSocket connection, with a `watchWorkspace` watch on the workspace (a fresh one after each load run, once its backlog is discarded); times are taken when a message changes a task's record in the client's view. A step's time is that of the first record covering its event's seq (a record may be newer than its event); the event types are read from the task's history afterwards.",
      '- CPU: user + system time of each process and its children read from /proc before and after a run (10 ms ticks); "Postgres" is every postgres process on the machine, "bench" is this script with autocannon and the Socket.IO client.',
      '- The machine is noisy: read ratios measured side by side in this run, not absolute times.',
      '',
    );
    if (runs(1) && s16) {
      report.push(
        '## 1. createTask latency against the floor',
        '',
        '| connections | createTask p50 / p95 / p99 | floor p50 / p95 / p99 | ratio p50 / p95 / p99 | createTask / floor throughput | non-2xx |',
        '| --- | --- | --- | --- | --- | --- |',
        ...s1.map(
          (r) =>
            `| ${r.c} | ${ms(r.create.p50)} / ${ms(r.create.p95)} / ${ms(r.create.p99)} | ${ms(r.floor.p50)} / ${ms(r.floor.p95)} / ${ms(r.floor.p99)} | ${ratio(r.create.p50, r.floor.p50)} / ${ratio(r.create.p95, r.floor.p95)} / ${ratio(r.create.p99, r.floor.p99)} | ${r.create.rps.toFixed(0)} / ${r.floor.rps.toFixed(0)} req/s | ${r.create.non2xx} / ${r.floor.non2xx} |`,
        ),
        '',
        `Target: createTask p99 within 2× the floor at 16 connections — measured ${ratio(s16.create.p99, s16.floor.p99)}×: ${s16.create.p99 <= 2 * s16.floor.p99 ? 'met' : 'missed'}.`,
        '',
        'CPU ms per request during each run (the load window only; provisioning of the created tasks that is still queued when the run ends is not in it):',
        '',
        '| connections | createTask | floor |',
        '| --- | --- | --- |',
        ...s1.map((r) => `| ${r.c} | ${cpuPerRequest(r.createCpu, r.create.count)} | ${cpuPerRequest(r.floorCpu, r.floor.count)} |`),
        '',
        'Breakdown of one createTask, measured in the benchmark process with no other load (50 runs, median / p99):',
        '',
        '| part | median | p99 |',
        '| --- | --- | --- |',
        `| the floor's insert alone | ${ms(median(breakdown.insert))} | ${ms(percentile(breakdown.insert, 99))} |`,
        `| createTask's statement (row + history event + pg_notify, one SQL statement) | ${ms(median(breakdown.transaction))} | ${ms(percentile(breakdown.transaction, 99))} |`,
        `| starting the provisionTask run (one gRPC call to Temporal) | ${ms(median(breakdown.start))} | ${ms(percentile(breakdown.start, 99))} |`,
        '',
      );
    }
    report.push(...sections.flat());
    if (s1.length > 0) {
      report.push(
        '## 6. Memory (RSS, MiB, process and its children)',
        '',
        '| process | idle | peak during scenario 1 at 64 connections |',
        '| --- | --- | --- |',
        `| API | ${idle.api.toFixed(0)} | ${peak.api.toFixed(0)} |`,
        `| worker | ${idle.worker.toFixed(0)} | ${peak.worker.toFixed(0)} |`,
        '',
      );
    }
  } finally {
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
  }
  if (ONLY) {
    process.stdout.write(`${report.join('\n')}\n`);
    return;
  }
  const analysis = path.join(ROOT, 'docs/BENCHMARKS.analysis.md');
  let notes = '';
  try {
    notes = readFileSync(analysis, 'utf8');
  } catch {
    // no written analysis yet
  }
  writeFileSync(path.join(ROOT, 'docs/BENCHMARKS.md'), `${report.join('\n')}\n${notes ? `\n${notes}` : ''}`);
  process.stderr.write('wrote docs/BENCHMARKS.md\n');
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
