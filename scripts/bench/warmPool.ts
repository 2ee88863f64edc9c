/**
 * Scenario 9 of `npm run bench` (docs/BENCHMARKS.md): warm sandbox pools (docs/ARCHITECTURE.md#warm-sandbox-pools)
 * with the real local provider, confined, and the offline agent.
 *
 * Method: the bench workspace's pool for the bench repository is set to {@link POOL_SIZE}, for the
 * offline agent (the tasks' agent, so each member's session is opened ahead for them), through the
 * API and the script waits until every member is ready (the fill time). Then 50 tasks one at a time
 * (each created once the previous one is `running`; the pool refills meanwhile, so a task misses only
 * when refills fall behind); then, with the pool full again, a burst of 50 created 16 at a time,
 * which the pool can serve only in part. A task is a hit when its sandbox row says it came from
 * the pool (`details.warmPoolId`), a miss otherwise; its claim time is its `init_create_sandbox`
 * step (placement's claim, the bundle of newer commits, the checkout inside the sandbox), from the
 * task's step timings. At the end the pool is set to 0 and drained.
 */
import type { PrismaClient } from '../../src/generated/prisma/client';
import type { TaskServiceClient } from '../../client';
import { ms, percentile, regularActivitySpans, sleep } from './measure';
import { provisioningContext, type ProvisioningBenchContext } from './provisioning';
import { WORKSPACE, type BenchStack } from './stack';

/** Members the pool keeps during the scenario. */
export const POOL_SIZE = 10;
const ms0 = (v: number) => ms(v, 0);

export interface WarmPoolBenchContext extends ProvisioningBenchContext {
  prisma: PrismaClient;
  rest: TaskServiceClient;
  workspaceId: string;
  repository: string;
}

/** Scenario 9's context on the benchmark's stack: scenarios 7 and 8's, and the bench workspace and repository. */
export function warmPoolContext(stack: BenchStack): WarmPoolBenchContext {
  return { ...provisioningContext(stack), prisma: stack.prisma, rest: stack.rest, workspaceId: WORKSPACE, repository: stack.repo };
}

interface TaskOutcome {
  id: string;
  /** Create response to the client seeing `running`, ms. */
  toRunning: number;
  hit: boolean;
  /** The init_create_sandbox step, ms. */
  createStep: number;
  /** Each provisioning step's duration, ms (from the task's step timings). */
  steps: Record<string, number>;
}

const STEPS = ['init_ensure_name', 'init_create_sandbox', 'init_ensure_agent', 'init_create_session'] as const;

async function setPool(ctx: WarmPoolBenchContext, size: number): Promise<void> {
  const { error, response } = await ctx.rest.PUT('/v1/workspaces/{workspaceId}/sandbox-pools', {
    params: { path: { workspaceId: ctx.workspaceId } },
    body: { repository: ctx.repository, provider: 'local', agent: 'offline', size, idleTimeoutSeconds: 3600 },
  });
  if (error) throw new Error(`setting the pool answered ${response.status}: ${JSON.stringify(error)}`);
}

/** Waits until the pool has `ready` ready members and none warming (or, for 0, no member at all). */
async function poolReaches(ctx: WarmPoolBenchContext, ready: number): Promise<void> {
  for (const deadline = Date.now() + 300_000; Date.now() < deadline; await sleep(100)) {
    const members = await ctx.prisma.warmSandbox.findMany({ where: { pool: { workspaceId: ctx.workspaceId, repository: ctx.repository } }, select: { state: true } });
    if (ready === 0 ? members.length === 0 : members.filter((m) => m.state === 'ready').length >= ready) return;
  }
  throw new Error(`the warm pool did not reach ${ready} ready members`);
}

async function outcome(ctx: WarmPoolBenchContext, id: string, toRunning: number): Promise<TaskOutcome> {
  const task = await ctx.prisma.task.findUniqueOrThrow({ where: { id }, select: { activeSandboxId: true, stepTimings: true } });
  const sandbox = await ctx.prisma.sandbox.findUniqueOrThrow({ where: { id: task.activeSandboxId! }, select: { details: true } });
  const timings = task.stepTimings as Record<string, { startedAt: string; endedAt?: string }>;
  const steps = Object.fromEntries(
    STEPS.map((name) => {
      const t = timings[name];
      return [name, t?.endedAt ? Date.parse(t.endedAt) - Date.parse(t.startedAt) : NaN];
    }),
  );
  return { id, toRunning, hit: typeof (sandbox.details as { warmPoolId?: unknown }).warmPoolId === 'string', createStep: steps.init_create_sandbox!, steps };
}

/** Scenario 9: a warm pool of {@link POOL_SIZE}: fill time, 50 tasks one at a time, a burst of 50. */
export async function warmPoolProvisioning(ctx: WarmPoolBenchContext): Promise<{ lines: string[] }> {
  const t = performance.now();
  await setPool(ctx, POOL_SIZE);
  await poolReaches(ctx, POOL_SIZE);
  const fillMs = performance.now() - t;
  ctx.log(`scenario 9: pool of ${POOL_SIZE} ready after ${ms0(fillMs)}`);

  const sequential: TaskOutcome[] = [];
  for (let i = 0; i < 50; i++) {
    const { id, t1 } = await ctx.createOne('local', 'offline');
    sequential.push(await outcome(ctx, id, (await ctx.waitRunning(id)).at - t1));
  }
  await poolReaches(ctx, POOL_SIZE);
  await sleep(2000); // the refills' clones and agent starts are done before the burst is measured

  const before = ctx.probe();
  const tb = performance.now();
  const created: Array<{ id: string; t1: number }> = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < 50) {
        next++;
        created.push(await ctx.createOne('local', 'offline'));
      }
    }),
  );
  const burst = await Promise.all(created.map(async (c) => outcome(ctx, c.id, (await ctx.waitRunning(c.id)).at - c.t1)));
  const burstMs = performance.now() - tb;
  const after = ctx.probe();
  ctx.log(`scenario 9: burst of 50 in ${ms0(burstMs)}, ${burst.filter((o) => o.hit).length} hits`);
  await setPool(ctx, 0);
  await poolReaches(ctx, 0);

  const spans = (
    await Promise.all(
      sequential
        .filter((o) => o.hit)
        .slice(0, 20)
        .map((o) => regularActivitySpans(ctx.client, `provision-task-${o.id}`)),
    )
  ).flat();
  const spanNames = [...new Set(spans.map((s) => s.name))];
  const hits = (os: TaskOutcome[]) => os.filter((o) => o.hit);
  const misses = (os: TaskOutcome[]) => os.filter((o) => !o.hit);
  const p = (values: number[], q: number) => (values.length ? ms0(percentile(values, q)) : '–');
  const row = (label: string, os: TaskOutcome[], wall?: number) =>
    `| ${label} | ${os.length} | ${hits(os).length} | ${misses(os).length} | ${p(
      hits(os).map((o) => o.toRunning),
      50,
    )} / ${p(
      hits(os).map((o) => o.toRunning),
      99,
    )} | ${p(
      misses(os).map((o) => o.toRunning),
      50,
    )} / ${p(
      misses(os).map((o) => o.toRunning),
      99,
    )} | ${p(
      hits(os).map((o) => o.createStep),
      50,
    )} / ${p(
      hits(os).map((o) => o.createStep),
      99,
    )} | ${p(
      misses(os).map((o) => o.createStep),
      50,
    )} / ${p(
      misses(os).map((o) => o.createStep),
      99,
    )} | ${wall === undefined ? '–' : ms0(wall)} |`;
  const cpuPerTask = (k: string) => ((after[k] ?? 0) - (before[k] ?? 0)) / burst.length;
  const seqHits = hits(sequential).map((o) => o.toRunning);
  const seqAll = sequential.map((o) => o.toRunning);
  return {
    lines: [
      `## 9. Warm sandbox pool (pool of ${POOL_SIZE}, local provider confined, offline agent)`,
      '',
      `Pool of ${POOL_SIZE} members cloned, with sandbox-agent running, after ${ms0(fillMs)} from the PUT.`,
      '',
      '| tasks | count | hits | misses | hit: create response to `running` p50 / p99 | miss: p50 / p99 | claim time (hit: init_create_sandbox step) p50 / p99 | miss: that step p50 / p99 | burst: all running after |',
      '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
      row('one at a time', sequential),
      row('burst of 50, 16 at a time', burst, burstMs),
      '',
      'Where the one-at-a-time hits spend their time, p50 of each step (ms, from the tasks’ step timings; the rest is the create response, the hand-over at `running` and its delivery to the client):',
      '',
      `| ${STEPS.join(' | ')} | sum of the steps | create response to \`running\` |`,
      `| ${STEPS.map(() => '---').join(' | ')} | --- | --- |`,
      `| ${STEPS.map((name) =>
        p(
          hits(sequential).map((o) => o.steps[name]!),
          50,
        ),
      ).join(' | ')} | ${p(
        hits(sequential).map((o) => STEPS.reduce((a, name) => a + o.steps[name]!, 0)),
        50,
      )} | ${p(seqHits, 50)} |`,
      '',
      'Temporal’s part of those steps: each regular activity of a hit (on the sandbox host’s task queue), p50 over 20 runs’ histories (ms):',
      '',
      '| activity | waiting in the task queue (scheduled → started) | running (started → completed) | the run resumed (completed → next workflow task completed) |',
      '| --- | --- | --- | --- |',
      ...spanNames.map((name) => {
        const of = spans.filter((s) => s.name === name);
        return `| ${name} | ${p(
          of.map((s) => s.queue),
          50,
        )} | ${p(
          of.map((s) => s.run),
          50,
        )} | ${p(
          of.map((s) => s.resume),
          50,
        )} |`;
      }),
      '',
      `CPU per task during the burst (hits and misses together, refills included): worker (own) ${cpuPerTask('worker').toFixed(0)} ms, its short-lived children ${cpuPerTask('workerChildren').toFixed(0)} ms, Temporal dev server ${cpuPerTask('temporal').toFixed(0)} ms, Postgres ${cpuPerTask('postgres').toFixed(0)} ms, API ${cpuPerTask('api').toFixed(0)} ms.`,
      '',
      `Target: with a warm pool, 50 tasks one at a time reach \`running\` within 150 ms p50 and 400 ms p99 of the create response — measured ${p(seqAll, 50)} / ${p(seqAll, 99)} (hits alone ${p(seqHits, 50)} / ${p(seqHits, 99)}): ${percentile(seqAll, 50) <= 150 && percentile(seqAll, 99) <= 400 ? 'met' : 'missed'}.`,
      '',
    ],
  };
}
