/**
 * Per-host figures of sandbox hosts (docs/DEPLOYMENT.md#figures-from-this-machine): real, confined
 * local sandboxes with the offline agent, placed over one or two sandbox hosts.
 *
 *   npx tsx scripts/reliability/sandbox-hosts.ts [--hosts 2] [--sequential 5] [--burst 20]
 *
 * Method: the test stack (Temporal dev server in memory, fresh Postgres database), with the API, the
 * orchestration worker and `--hosts` sandbox hosts in this one process (src/dev/stack/services.ts),
 * each host with its own sandbox root and confined local provider. First `--sequential` tasks one
 * after another (each created once the previous one is `running`): time from the task's creation to
 * its `task.initialized` event (both written by Postgres' clock). Then `--burst` tasks created at once: time until every one
 * is `running`, and how placement spread them. Then, with every sandbox idle, each sandbox's cgroup
 * memory (memory.usage_in_bytes of its v1 group: its agent and everything it started). CPU: this
 * process's own user+system time and its waited-for children's (git, cgroup tools, `ip`, the agent
 * launch wrappers) across the burst, from /proc/self/stat, per task. Every host here shares the same
 * 2 cores, so two hosts on one machine show placement, not added throughput.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';
import { cgroupValue } from '../../src/confinement/cgroups';
import { createTestRepo } from '../../src/dev/stack/gitRepo';
import globalSetup from '../../src/dev/stack/globalSetup';
import globalTeardown from '../../src/dev/stack/globalTeardown';
import { postJson, startServices } from '../../src/dev/stack/services';

const opts = new Command()
  .option('--hosts <n>', 'sandbox hosts', '2')
  .option('--sequential <n>', 'tasks created one after another', '5')
  .option('--burst <n>', 'tasks created at once', '20')
  .parse()
  .opts<{ hosts: string; sequential: string; burst: string }>();

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const CLOCK_TICKS = 100; // USER_HZ on Linux

/** This process's CPU and its waited-for children's, ms (utime, stime, cutime, cstime of /proc/self/stat). */
function cpuMs(): { own: number; children: number } {
  const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ');
  const [utime, stime, cutime, cstime] = [11, 12, 13, 14].map((i) => Number(fields[i]));
  return { own: ((utime! + stime!) * 1000) / CLOCK_TICKS, children: ((cutime! + cstime!) * 1000) / CLOCK_TICKS };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

async function main(): Promise<number> {
  const hosts = Number(opts.hosts);
  await globalSetup();
  const services = await startServices({ hosts: Array.from({ length: hosts }, () => ({})) });
  const workspaceId = 'ws-host-figures';
  const repo = await createTestRepo(path.join(services.repoRoot, `figures-repo-${Date.now()}`));
  const create = async (prompt: string) => {
    const res = await postJson(`${services.baseUrl}/v1/tasks`, { workspaceId, repository: repo, prompt });
    if (res.status !== 201) throw new Error(`create answered ${res.status}`);
    return res.body.id as string;
  };
  const settled = async (ids: string[]) => {
    for (const deadline = Date.now() + 15 * 60_000; Date.now() < deadline; await sleep(100)) {
      const open = await services.prisma.task.count({ where: { id: { in: ids }, status: { notIn: ['running', 'error'] } } });
      if (open === 0) return;
    }
    throw new Error('tasks did not settle within 15 min');
  };
  try {
    const sequential: number[] = [];
    for (let i = 0; i < Number(opts.sequential); i++) {
      const id = await create(`Sequential task ${i + 1}`);
      await settled([id]);
      const t = await services.prisma.task.findUniqueOrThrow({ where: { id } });
      // When the `running` transition was written (its `task.initialized` event), against the task's creation.
      const running = await services.prisma.taskEvent.findFirstOrThrow({ where: { taskId: id, type: 'task.initialized' } });
      sequential.push(running.createdAt.getTime() - t.createdAt.getTime());
    }
    const cpuBefore = cpuMs();
    const started = Date.now();
    const ids = await Promise.all(Array.from({ length: Number(opts.burst) }, (_, i) => create(`Burst task ${i + 1}`)));
    await settled(ids);
    const burstMs = Date.now() - started;
    const cpuAfter = cpuMs();
    const burstTasks = await services.prisma.task.findMany({ where: { id: { in: ids } }, select: { status: true, activeSandboxId: true } });
    const sandboxes = await services.prisma.sandbox.findMany({ where: { task: { workspaceId } }, select: { id: true, hostId: true } });
    const perHost = Object.fromEntries(services.hosts.map((h) => [h.id, sandboxes.filter((s) => s.hostId === h.id).length]));
    await sleep(5_000); // the first turns are over and every agent idle
    const memory = sandboxes.map((s) => Number(cgroupValue(s.id, 'memory', 'memory.usage_in_bytes') ?? NaN) / 2 ** 20).filter((m) => !Number.isNaN(m));
    const n = ids.length;
    const table = [
      '| figure | value |',
      '| --- | --- |',
      `| sandbox hosts (one process, same 2 cores) | ${hosts} |`,
      `| sequential: create to \`running\`, median of ${sequential.length} | ${median(sequential)} ms (each: ${sequential.join(', ')}) |`,
      `| burst of ${n}: all \`running\` | ${burstMs} ms (${((n * 1000) / burstMs).toFixed(2)} tasks/s); statuses ${JSON.stringify(burstTasks.reduce<Record<string, number>>((a, t) => ({ ...a, [t.status]: (a[t.status] ?? 0) + 1 }), {}))} |`,
      `| sandboxes per host (all ${sandboxes.length}) | ${JSON.stringify(perHost)} |`,
      `| cgroup memory of an idle sandbox (offline agent), median / max of ${memory.length} | ${median(memory).toFixed(1)} / ${Math.max(...memory).toFixed(1)} MiB |`,
      `| CPU per task in the burst: this process / its children | ${((cpuAfter.own - cpuBefore.own) / n).toFixed(0)} / ${((cpuAfter.children - cpuBefore.children) / n).toFixed(0)} ms |`,
    ].join('\n');
    process.stdout.write(`${table}\n`);
    return burstTasks.every((t) => t.status === 'running') ? 0 : 1;
  } finally {
    await services.stop();
    await globalTeardown();
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
