/**
 * Scenarios 1 and 6 of `npm run bench` (docs/BENCHMARKS.md): createTask's latency against the floor,
 * and the memory of the API and the worker, whose peak is sampled during scenario 1's load runs.
 *
 * - 1b: where one createTask's time goes, measured in this process with nothing else running (50
 *   runs): the floor's insert, createTask's transaction (row + event + notify), and the workflow start.
 * - 1: load runs of 8 s (`--seconds`) at 1, 16 and 64 connections, floor first then createTask with
 *   the `instant` provider at each, in scenario 1's CPU layout (`--pin`), with the CPU each process
 *   used during each run; the backlog of each run is discarded before the next.
 * - 6: RSS of the API and the worker (process and children) when the stack is idle, and its peak
 *   during the createTask run at 64 connections (sampled every 250 ms). `--only 6` runs scenario 1's
 *   load runs for it (not the breakdown); `--only 1` reports scenario 6 too.
 */
import { randomUUID } from 'node:crypto';
import { insertTaskWithCreatedEvent } from '../../src/db/taskEvents';
import type { provisionTask } from '../../src/workflows/provisionTask';
import { cpuDuring, median, ms, percentile, ratio, rssMiB } from './measure';
import { CPU_LABELS, WORKSPACE, oncePerStack, type BenchStack, type LoadResult } from './stack';

interface LoadRuns {
  /** One per concurrency: createTask's and the floor's load runs and the CPU each process used during each. */
  runs: Array<{ c: number; create: LoadResult; floor: LoadResult; createCpu: Record<string, number>; floorCpu: Record<string, number> }>;
  /** Peak RSS in MiB during the createTask run at 64 connections. */
  peak: { api: number; worker: number };
}

/** Scenario 1's load runs, made once per stack whether scenario 1 or 6 asks first. */
const loadRuns = oncePerStack(measureLoadRuns);

/** 1. createTask latency vs the floor, at 1, 16, 64 connections (and scenario 6's peak memory at 64). */
async function measureLoadRuns(stack: BenchStack): Promise<LoadRuns> {
  const { base, repo } = stack;
  const s1: LoadRuns['runs'] = [];
  const peak = { api: 0, worker: 0 };
  stack.pinLayout(true);
  for (const c of [1, 16, 64]) {
    const floor = await cpuDuring(stack.probe, () => stack.load(`${base}/v1/bench/floor`, { repository: repo, prompt: 'Benchmark task' }, c));
    const sample = c === 64 ? () => ((peak.api = Math.max(peak.api, rssMiB(stack.apiPid))), (peak.worker = Math.max(peak.worker, rssMiB(stack.workerPid)))) : undefined;
    const create = await cpuDuring(stack.probe, () =>
      stack.load(`${base}/v1/tasks`, { workspaceId: WORKSPACE, repository: repo, prompt: 'Benchmark task', provider: 'instant' }, c, sample),
    );
    s1.push({ c, create: create.result, floor: floor.result, createCpu: create.cpu, floorCpu: floor.cpu });
    process.stderr.write(`scenario 1, c=${c}: create p99 ${ms(create.result.p99)}, floor p99 ${ms(floor.result.p99)}\n`);
    await stack.discardBacklog();
  }
  stack.pinLayout(false);
  return { runs: s1, peak };
}

/**
 * 1b. Where createTask's time goes, measured in this process with nothing else running:
 * the floor's insert, createTask's transaction (row + event + notify), and the workflow start.
 */
async function createTaskBreakdown(stack: BenchStack): Promise<{ insert: number[]; transaction: number[]; start: number[] }> {
  const { prisma, client, repo } = stack;
  const breakdown = { insert: [] as number[], transaction: [] as number[], start: [] as number[] };
  for (let i = 0; i < 50; i++) {
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
    await insertTaskWithCreatedEvent(prisma, {
      id: id2,
      workspaceId: 'bench-breakdown',
      repository: repo,
      prompt: 'p',
      requestedBranch: null,
      providerId: 'instant',
      agentType: 'claude',
      statusMessage: 'provision queued',
      workflowId: `bd-${id2}`,
    });
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
  return breakdown;
}

/** Scenario 1: the breakdown of one createTask (1b), then the load runs against the floor. */
export async function createTaskLatency(stack: BenchStack): Promise<string[]> {
  const breakdown = await createTaskBreakdown(stack);
  const { runs: s1 } = await loadRuns(stack);
  const s16 = s1.find((r) => r.c === 16)!;
  const cpuPerRequest = (c: Record<string, number>, count: number) =>
    Object.keys(c)
      .map((k) => `${CPU_LABELS[k] ?? k} ${(c[k]! / count).toFixed(2)}`)
      .join(', ');
  return [
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
  ];
}

/** Scenario 6: memory of the API and the worker, idle and at their peak during scenario 1 at 64 connections. */
export async function memory(stack: BenchStack): Promise<string[]> {
  const { peak } = await loadRuns(stack);
  const { idle } = stack;
  return [
    '## 6. Memory (RSS, MiB, process and its children)',
    '',
    '| process | idle | peak during scenario 1 at 64 connections |',
    '| --- | --- | --- |',
    `| API | ${idle.api.toFixed(0)} | ${peak.api.toFixed(0)} |`,
    `| worker | ${idle.worker.toFixed(0)} | ${peak.worker.toFixed(0)} |`,
    '',
  ];
}
