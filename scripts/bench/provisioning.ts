/**
 * Scenarios 7 and 8 of `npm run bench` (docs/BENCHMARKS.md): provisioning against Temporal's own floor,
 * and provisioning with the real local provider (confined), each measured side by side in one run.
 *
 * - 7: the benchmark-only `provisioningFloor` workflow (src/workflows/provisioningFloor.ts: the same
 *   commands as a clean provisionTask run, every activity a no-op) against provisionTask with the
 *   `instant` provider, each as a burst of 50 and one at a time.
 * - 8: provisionTask with the `local` provider: one task at a time, then a burst of 50.
 *
 * For each: wall time, CPU per run of every process (the worker split into its own time and that of
 * its children: short-lived ones such as git, ip and pasta once reaped, and the live sandbox processes),
 * and history events per run.
 */
import { readFileSync } from 'node:fs';
import { childPids, ms, percentile, sleep } from './measure';
import type { Client } from '@temporalio/client';
import type { AgentId } from '../../src/domain/agents';
import { PROVISIONING_FLOOR_WORKFLOW_TYPE } from '../../src/workflows/provisioningFloor';
import type { BenchStack } from './stack';

const ms0 = (v: number) => ms(v, 0);

/** /proc/<pid>/stat fields: own and reaped-children CPU in ms, and the command name. */
function stat(pid: number): { own: number; reaped: number; comm: string } | null {
  try {
    const raw = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const comm = raw.slice(raw.indexOf('(') + 1, raw.lastIndexOf(')'));
    const f = raw.slice(raw.lastIndexOf(')') + 2).split(' ');
    return { own: (Number(f[11]) + Number(f[12])) * 10, reaped: (Number(f[13]) + Number(f[14])) * 10, comm };
  } catch {
    return null;
  }
}

/**
 * The worker's CPU in ms, split: `own` is the node processes of its tree (tsx and the worker itself);
 * `children` is the short-lived processes they started and reaped (git, ip, cgroup writes: cutime and
 * cstime of the node processes); `sandboxes` is the live descendants (each sandbox's bwrap,
 * sandbox-agent, agent, pasta and socat) and what they reaped.
 */
export function workerCpu(rootPid: number): { own: number; children: number; sandboxes: number } {
  const total = { own: 0, children: 0, sandboxes: 0 };
  const visit = (pid: number, underNode: boolean) => {
    const s = stat(pid);
    if (!s) return;
    const isNode = underNode && (s.comm === 'node' || s.comm === 'tsx' || s.comm.startsWith('node'));
    if (isNode) {
      total.own += s.own;
      total.children += s.reaped;
    } else {
      // A live descendant: a sandbox's processes (bwrap, sandbox-agent, the agent, pasta, socat): the
      // sandbox's own workload, counted apart.
      total.sandboxes += s.own + s.reaped;
    }
    for (const c of childPids(pid)) visit(c, isNode);
  };
  visit(rootPid, true);
  return total;
}

export interface ProvisioningBenchContext {
  client: Client;
  /** The sandbox host's task queue (the floor's regular activities go there, as provisioning's host steps do). */
  hostQueue: string;
  orchestrationQueue: string;
  /** CPU ms so far per process: `worker` (own), `workerChildren`, `sandboxes`, `temporal`, `api`, `postgres`, `bench`. */
  probe: () => Record<string, number>;
  /** POST /v1/tasks with `provider` (and `agent`, else the service's default); t1 is when the response was read. */
  createOne: (provider: string, agent?: AgentId) => Promise<{ id: string; t0: number; t1: number }>;
  /** When the client saw the task running. */
  waitRunning: (id: string) => Promise<{ at: number }>;
  log: (line: string) => void;
}

/**
 * Scenarios 7-9's context on the benchmark's stack (scripts/bench/stack.ts), which records the
 * client's view of the workspace from then on (the scenarios wait for their tasks through it).
 */
export function provisioningContext(stack: BenchStack): ProvisioningBenchContext {
  stack.startRecording();
  return {
    client: stack.client,
    orchestrationQueue: 'provision-task',
    hostQueue: 'provision-task-host-bench',
    // The worker split into its own time, its short-lived children's and its sandboxes' processes'.
    probe: () => {
      const { own, children, sandboxes } = workerCpu(stack.workerPid);
      return { ...stack.probe(), worker: own, workerChildren: children, sandboxes };
    },
    createOne: stack.createOne,
    waitRunning: stack.waitRunning,
    log: (line) => process.stderr.write(`${line}\n`),
  };
}

interface Measured {
  label: string;
  runs: number;
  wallMs: number;
  cpu: Record<string, number>;
  eventsPerRun: number[];
  /** One-at-a-time times (ms): floor from start to result, tasks from the create response to running. */
  sequential: number[];
}

const CPU_ORDER = ['worker', 'workerChildren', 'sandboxes', 'temporal', 'api', 'postgres', 'bench'] as const;
const CPU_NAMES: Record<string, string> = {
  worker: 'worker (own)',
  workerChildren: "worker's short-lived children",
  sandboxes: 'sandbox processes',
  temporal: 'Temporal dev server',
  api: 'API',
  postgres: 'Postgres',
  bench: 'bench',
};

async function during<T>(probe: () => Record<string, number>, work: () => Promise<T>): Promise<{ result: T; cpu: Record<string, number>; wallMs: number }> {
  const before = probe();
  const t = performance.now();
  const result = await work();
  const wallMs = performance.now() - t;
  const after = probe();
  return { result, wallMs, cpu: Object.fromEntries(Object.keys(after).map((k) => [k, after[k]! - (before[k] ?? 0)])) };
}

async function eventCount(client: Client, workflowId: string): Promise<number> {
  return ((await client.workflow.getHandle(workflowId).fetchHistory()).events ?? []).length;
}

/** Runs `run` over `items`, `n` at a time. */
async function pool<T>(items: T[], n: number, run: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < items.length) await run(items[next++]!);
  };
  await Promise.all(Array.from({ length: n }, lane));
}

async function floorRuns(ctx: ProvisioningBenchContext, label: string, n: number): Promise<Measured> {
  const start = (i: number) =>
    ctx.client.workflow.start(PROVISIONING_FLOOR_WORKFLOW_TYPE, {
      taskQueue: ctx.orchestrationQueue,
      workflowId: `floor-${label}-${Date.now()}-${i}`,
      args: [{ taskQueue: ctx.hostQueue }],
    });
  const sequential: number[] = [];
  for (let i = 0; i < 20; i++) {
    const t = performance.now();
    await (await start(1000 + i)).result();
    sequential.push(performance.now() - t);
  }
  const ids: string[] = [];
  const { wallMs, cpu } = await during(ctx.probe, async () => {
    const handles = await Promise.all(Array.from({ length: n }, (_, i) => start(i)));
    ids.push(...handles.map((h) => h.workflowId));
    await Promise.all(handles.map((h) => h.result()));
  });
  const eventsPerRun = await Promise.all(ids.slice(0, 5).map((id) => eventCount(ctx.client, id)));
  return { label, runs: n, wallMs, cpu, eventsPerRun, sequential };
}

async function taskRuns(ctx: ProvisioningBenchContext, label: string, provider: string, n: number, sequentialCount: number, agent?: AgentId): Promise<Measured> {
  const sequential: number[] = [];
  for (let i = 0; i < sequentialCount; i++) {
    const { id, t1 } = await ctx.createOne(provider, agent);
    sequential.push((await ctx.waitRunning(id)).at - t1);
  }
  await sleep(2000); // let the sequential tasks' lifecycle runs settle before the burst is measured
  const ids: string[] = [];
  const { wallMs, cpu } = await during(ctx.probe, async () => {
    await pool(
      Array.from({ length: n }, (_, i) => i),
      16,
      async () => void ids.push((await ctx.createOne(provider, agent)).id),
    );
    await Promise.all(ids.map((id) => ctx.waitRunning(id)));
  });
  const eventsPerRun = await Promise.all(ids.slice(0, 5).map((id) => eventCount(ctx.client, `provision-task-${id}`)));
  return { label, runs: n, wallMs, cpu, eventsPerRun, sequential };
}

function table(rows: Measured[]): string[] {
  const perRun = (m: Measured, k: string) => (m.cpu[k] ?? 0) / m.runs;
  const allPerRun = (m: Measured) => Object.values(m.cpu).reduce((a, b) => a + b, 0) / m.runs;
  return [
    `| runs | burst: all done after | per second | one at a time p50 / p99 | history events per run | ${CPU_ORDER.map((k) => `${CPU_NAMES[k]} CPU ms/run`).join(' | ')} | all processes CPU ms/run |`,
    `| --- | --- | --- | --- | --- | ${CPU_ORDER.map(() => '---').join(' | ')} | --- |`,
    ...rows.map(
      (m) =>
        `| ${m.label} (${m.runs}) | ${ms0(m.wallMs)} | ${(m.runs / (m.wallMs / 1000)).toFixed(1)} | ${ms0(percentile(m.sequential, 50))} / ${ms0(percentile(m.sequential, 99))} | ${Math.min(...m.eventsPerRun)}–${Math.max(...m.eventsPerRun)} | ${CPU_ORDER.map((k) => perRun(m, k).toFixed(0)).join(' | ')} | ${allPerRun(m).toFixed(0)} |`,
    ),
  ];
}

/** Scenario 7: the floor workflow against provisionTask with the instant provider. */
export async function provisioningAgainstFloor(ctx: ProvisioningBenchContext): Promise<{ lines: string[]; floor: Measured; instant: Measured }> {
  const floor = await floorRuns(ctx, 'floor workflow', 50);
  ctx.log(`scenario 7: floor burst of 50 in ${ms0(floor.wallMs)}`);
  const instant = await taskRuns(ctx, 'provisionTask, instant provider', 'instant', 50, 20);
  ctx.log(`scenario 7: instant burst of 50 in ${ms0(instant.wallMs)}`);
  const cpuAll = (m: Measured) => Object.values(m.cpu).reduce((a, b) => a + b, 0) / m.runs;
  const serverCpu = (m: Measured) => (m.cpu.temporal ?? 0) / m.runs;
  return {
    floor,
    instant,
    lines: [
      '## 7. Provisioning against Temporal’s own floor (burst of 50, and 20 one at a time)',
      '',
      ...table([floor, instant]),
      '',
      `Ratios, provisionTask / floor: burst wall time ${(instant.wallMs / floor.wallMs).toFixed(2)}×, CPU per run (all processes) ${(cpuAll(instant) / cpuAll(floor)).toFixed(2)}×, Temporal dev server CPU per run ${(serverCpu(instant) / serverCpu(floor)).toFixed(2)}×. The provisionTask rows include the API's createTask and the realtime relay, which the floor does not have; "one at a time" is from the create response to the client seeing \`running\` for tasks, and from start to result for the floor.`,
      '',
    ],
  };
}

/** Scenario 8: the real local provider (confined): 10 one at a time, then a burst of 50. */
export async function localProvisioning(ctx: ProvisioningBenchContext): Promise<{ lines: string[]; local: Measured }> {
  // The offline agent (no model): what is measured is provisioning, not a model agent's own start-up.
  const local = await taskRuns(ctx, 'provisionTask, local provider, offline agent', 'local', 50, 10, 'offline');
  ctx.log(`scenario 8: local burst of 50 in ${ms0(local.wallMs)}`);
  const workerPerTask = ((local.cpu.worker ?? 0) + (local.cpu.workerChildren ?? 0)) / local.runs;
  return {
    local,
    lines: [
      '## 8. Real local provider, confined (10 one at a time, then a burst of 50)',
      '',
      ...table([local]),
      '',
      `Targets: the burst of 50 all \`running\` within 10 s — measured ${ms0(local.wallMs)}: ${local.wallMs <= 10_000 ? 'met' : 'missed'}; the worker's own CPU plus its children's at most 150 ms per task — measured ${workerPerTask.toFixed(0)} ms: ${workerPerTask <= 150 ? 'met' : 'missed'}.`,
      '',
    ],
  };
}
