/**
 * Reliability scenario 7 (docs/RELIABILITY.md): a burst of task creations against the real stack, with the
 * benchmark-only `instant` provider so the service itself is what is loaded.
 *
 *   npx tsx scripts/reliability/burst.ts [--tasks 500] [--concurrency 50]
 *
 * Method: the test stack (Temporal dev server in memory, fresh Postgres database) with one worker and
 * the API in this process; a Socket.IO client subscribed to the workspace; N POST /v1/tasks at the
 * given concurrency; then wait until every task is `running` or `error`. Checks: every request got
 * 201; Postgres has N tasks, each with a dense history 1..lastEventSeq; Temporal's visibility counts N
 * runs for the workspace, N completed; the event stream delivered every task's events 1..lastEventSeq
 * exactly once and in order. Prints a summary table; exit code 0 when all checks hold.
 */
import path from 'node:path';
import { Command } from 'commander';
import { InstantProvider } from '../../src/providers/instant/instantProvider';
import type { TaskEventMessage } from '../../src/domain/events';
import { authedFetch } from '../../src/dev/stack/auth';
import globalSetup from '../../src/dev/stack/globalSetup';
import globalTeardown from '../../src/dev/stack/globalTeardown';
import { TaskEventClient } from '../../src/dev/stack/socketClient';
import { startServices } from '../../src/dev/stack/services';

const opts = new Command()
  .option('--tasks <n>', 'tasks to create', '500')
  .option('--concurrency <n>', 'requests in flight', '50')
  .parse()
  .opts<{ tasks: string; concurrency: string }>();
const N = Number(opts.tasks);
const C = Number(opts.concurrency);

async function main(): Promise<number> {
  await globalSetup();
  const services = await startServices({ wrapProvider: () => new InstantProvider(0) });
  const workspaceId = 'ws-burst';
  const client = new TaskEventClient(services.baseUrl, 'ws-burst');
  try {
    await client.subscribe({ workspaceId });
    const statuses: number[] = [];
    const ids: string[] = [];
    const started = Date.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: C }, async () => {
        while (next < N) {
          const i = next++;
          const res = await authedFetch(`${services.baseUrl}/v1/tasks`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ workspaceId, repository: path.join(services.stack.workDir, 'any'), prompt: `Burst task ${i}`, provider: 'instant' }),
          });
          statuses.push(res.status);
          if (res.status === 201) ids.push(((await res.json()) as { id: string }).id);
        }
      }),
    );
    const createdIn = Date.now() - started;
    for (const deadline = Date.now() + 10 * 60_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 500))) {
      const open = await services.prisma.task.count({ where: { workspaceId, status: { notIn: ['running', 'error'] } } });
      if (open === 0) break;
    }
    const settledIn = Date.now() - started;
    const [byStatus, badHistories] = await Promise.all([
      services.prisma.task.groupBy({ by: ['status'], where: { workspaceId }, _count: true }),
      services.prisma.$queryRaw<Array<{ id: string }>>`
        SELECT t.id FROM tasks t LEFT JOIN task_events e ON e.task_id = t.id
        WHERE t.workspace_id = ${workspaceId}
        GROUP BY t.id, t.last_event_seq HAVING count(e.id) <> t.last_event_seq OR max(e.seq) <> t.last_event_seq`,
    ]);
    let temporalRuns = -1;
    let temporalCompleted = -1;
    for (const deadline = Date.now() + 60_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 500))) {
      temporalRuns = (await services.temporal.workflow.count(`WorkspaceId = "${workspaceId}"`)).count;
      temporalCompleted = (await services.temporal.workflow.count(`WorkspaceId = "${workspaceId}" AND ExecutionStatus = "Completed"`)).count;
      if (temporalRuns === N && temporalCompleted === N) break;
    }
    // Give the last notifications a moment to be relayed, then compare the stream with Postgres.
    await new Promise((r) => setTimeout(r, 2000));
    const tasks = await services.prisma.task.findMany({ where: { workspaceId }, select: { id: true, lastEventSeq: true } });
    const byTask = new Map<string, number[]>();
    client.messages.forEach((m: TaskEventMessage) => byTask.set(m.event.taskId, [...(byTask.get(m.event.taskId) ?? []), m.event.seq]));
    const streamMismatches = tasks.filter((t) => JSON.stringify(byTask.get(t.id) ?? []) !== JSON.stringify(Array.from({ length: t.lastEventSeq }, (_, i) => i + 1))).length;
    const counts = Object.fromEntries(byStatus.map((s) => [s.status, s._count]));
    const checks = {
      all201: statuses.length === N && statuses.every((s) => s === 201),
      postgresTasks: tasks.length === N,
      allSettled: (counts.running ?? 0) + (counts.error ?? 0) === N,
      denseHistories: badHistories.length === 0,
      temporalRuns: temporalRuns === N,
      temporalCompleted: temporalCompleted === (counts.running ?? 0),
      streamExactlyOnce: streamMismatches === 0,
    };
    const table = [
      '| figure | value |',
      '| --- | --- |',
      `| tasks created (concurrency) | ${N} (${C}) |`,
      `| all creates answered in | ${createdIn} ms (${((N * 1000) / createdIn).toFixed(0)} creates/s) |`,
      `| all tasks settled in | ${settledIn} ms |`,
      `| statuses in Postgres | ${JSON.stringify(counts)} |`,
      `| tasks with a gap or duplicate in their history | ${badHistories.length} |`,
      `| Temporal runs for the workspace / completed | ${temporalRuns} / ${temporalCompleted} |`,
      `| tasks whose pushed events differ from 1..lastEventSeq | ${streamMismatches} |`,
      `| events pushed in total | ${client.messages.length} |`,
      `| checks | ${JSON.stringify(checks)} |`,
    ].join('\n');
    process.stdout.write(`${table}\n`);
    return Object.values(checks).every(Boolean) ? 0 : 1;
  } finally {
    client.close();
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
