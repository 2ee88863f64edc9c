/**
 * Reliability scenario (docs/RELIABILITY.md#running-tasks-survive-restarts): N running tasks, each with
 * an open tab that has answered its prompt, go through three restarts; after each, every task's next
 * message must be answered exactly once.
 *
 *   npx tsx scripts/reliability/stack-restart.ts [--tasks 20]
 *
 *   1. stop-all   The start command's Ctrl-C: the worker is stopped (SIGTERM) and every sandbox's
 *                 processes end (LocalProvider.stopAll, as scripts/dev.ts does); then a new worker.
 *                 Its reconcile at start must record every sandbox `stopped`; each message wakes one.
 *   2. agents-die Every sandbox-agent is SIGKILLed (an OOM kill, a crash) while the worker runs.
 *                 Reconcile (every 5 s here) must record them `stopped`; each message wakes one.
 *   3. worker-kill The worker is SIGKILLed and started again; the sandboxes keep running, nothing sleeps.
 *
 * Method: the test stack (Temporal dev server in memory, a fresh Postgres database), the API in this
 * process, the worker as its own process (`src/worker/main.ts`) with confined sandboxes under a
 * scratch root. Figures: time from the restart until reconcile recorded every sandbox `stopped`, and
 * until every task had answered its message; the sandboxes' cgroup memory before and after the stop.
 * Exit code 0 when every check holds.
 */
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';
import { loadConfig } from '../../src/config';
import { cgroupValue } from '../../src/confinement/cgroups';
import { createPrismaClient } from '../../src/db/prisma';
import { createLogger } from '../../src/logger';
import { listAcpServers } from '../../src/providers/local/acpClient';
import type { AgentTarget } from '../../src/providers/local/agentHttp';
import { LocalProvider } from '../../src/providers/local/localProvider';
import { createTemporalClient } from '../../src/temporal/client';
import { authedFetch } from '../../src/dev/stack/auth';
import { createTestRepo } from '../../src/dev/stack/gitRepo';
import globalSetup from '../../src/dev/stack/globalSetup';
import globalTeardown from '../../src/dev/stack/globalTeardown';
import { stackServiceEnv } from '../../src/dev/stack/serviceEnv';
import { readStack } from '../../src/dev/stack/stackFile';
import { startTestApi } from '../../src/dev/stack/testApi';
import { spawnService } from '../../src/dev/serviceProcess';
import { createScratchSandboxRoot, removeScratchSandboxRoot } from '../../src/dev/scratchSandboxRoot';

const opts = new Command().option('--tasks <n>', 'running tasks', '20').parse().opts<{ tasks: string }>();
const TASKS = Number(opts.tasks);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Running {
  taskId: string;
  sandboxId: string;
  tabId: string;
}

async function main(): Promise<number> {
  await globalSetup();
  const stack = readStack();
  const logger = createLogger('reliability', 'warn');
  const prisma = createPrismaClient(stack.databaseUrl);
  const temporal = await createTemporalClient({ address: stack.temporalAddress, namespace: stack.namespace });
  const taskQueue = 'reliability-restart';
  const sandboxRoot = createScratchSandboxRoot('tps-restart-sandboxes-');
  const env = stackServiceEnv(stack, taskQueue, {
    SANDBOX_ROOT: sandboxRoot,
    REPOSITORY_ROOTS: stack.workDir,
    LOG_LEVEL: 'warn',
    SANDBOX_IDLE_STOP_MINUTES: '0',
    SANDBOX_RECONCILE_SECONDS: '5',
  });
  const config = loadConfig(env);
  const local = new LocalProvider({ sandboxRoot, logger, confinement: config.confinement, repositoryPolicy: config.repositoryPolicy });
  const startWorker = (): ChildProcess => spawnService('worker', { env, stdio: ['ignore', 'ignore', 'inherit'], detached: true });
  const stopWorker = async (worker: ChildProcess, signal: NodeJS.Signals) => {
    const exited = new Promise((r) => worker.once('exit', r));
    process.kill(-worker.pid!, signal);
    await exited;
  };
  const { api, baseUrl } = await startTestApi({ stack, prisma, temporal, taskQueue, logger });
  const repo = await createTestRepo(path.join(stack.workDir, 'repo'));
  const post = async (p: string, body: unknown) => {
    const res = await authedFetch(`${baseUrl}${p}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    if (!res.ok) throw new Error(`POST ${p} answered ${res.status}`);
    return (await res.json()) as any;
  };
  /** Waits until every message is sent and its tab is no longer in a turn; @returns ms taken. */
  const answered = async (tabs: Array<{ tabId: string; index: number }>, since: number) => {
    for (const deadline = Date.now() + 600_000; ; await sleep(200)) {
      const rows = await prisma.transcriptEntry.findMany({ where: { OR: tabs.map((t) => ({ sessionId: t.tabId, index: t.index })) }, select: { delivery: true } });
      const busy = await prisma.workbenchSession.count({ where: { id: { in: tabs.map((t) => t.tabId) }, status: 'running' } });
      if (rows.length === tabs.length && rows.every((r) => r.delivery === 'sent') && busy === 0) return Date.now() - since;
      if (Date.now() > deadline) throw new Error('messages were not answered within 10 minutes');
    }
  };
  const reply = async (tabId: string, index: number) =>
    (await prisma.transcriptEntry.findMany({ where: { sessionId: tabId, replyTo: index, role: 'agent' }, orderBy: { index: 'asc' } })).map((e) => e.text).join('');
  const expected = (text: string) => `offline agent: received ${text.length} characters: ${text}`;
  const sandboxStates = async (tasks: Running[]) =>
    (await prisma.task.findMany({ where: { id: { in: tasks.map((t) => t.taskId) } }, select: { sandboxState: true } })).map((t) => t.sandboxState);
  const memoryMb = (tasks: Running[]) =>
    tasks.reduce((sum, t) => sum + Number(cgroupValue(t.sandboxId, 'memory', 'memory.usage_in_bytes') ?? cgroupValue(t.sandboxId, 'memory', 'memory.current') ?? 0), 0) / 2 ** 20;

  const rows: string[] = [];
  let failures = 0;
  let worker = startWorker();
  try {
    // N running tasks, each with its first tab open and its prompt answered.
    const started = Date.now();
    const created = await Promise.all(
      Array.from({ length: TASKS }, (_, i) => post('/v1/tasks', { workspaceId: 'ws-restart', repository: repo, prompt: `Task ${i + 1}`, openSession: true })),
    );
    await answered(
      created.map((t) => ({ tabId: t.firstSession.id as string, index: 1 })),
      started,
    );
    const tasks: Running[] = [];
    for (const t of created) {
      const row = await prisma.task.findUniqueOrThrow({ where: { id: t.id } });
      tasks.push({ taskId: t.id, sandboxId: row.activeSandboxId!, tabId: t.firstSession.id });
    }
    process.stdout.write(`${TASKS} tasks running with their first tab answered in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);

    for (const scenario of ['stop-all', 'agents-die', 'worker-kill'] as const) {
      const memoryBefore = memoryMb(tasks);
      const restartedAt = Date.now();
      if (scenario === 'stop-all') {
        await stopWorker(worker, 'SIGTERM');
        await local.stopAll();
        worker = startWorker();
      } else if (scenario === 'agents-die') {
        for (const t of tasks) for (const pid of local.agentProcesses(t.sandboxId)) process.kill(pid, 'SIGKILL');
      } else {
        await stopWorker(worker, 'SIGKILL');
        worker = startWorker();
      }
      let recordedStoppedMs: number | null = null;
      if (scenario !== 'worker-kill') {
        for (const deadline = Date.now() + 300_000; ; await sleep(200)) {
          if ((await sandboxStates(tasks)).every((s) => s === 'stopped')) break;
          if (Date.now() > deadline) throw new Error(`${scenario}: reconcile did not record every sandbox stopped`);
        }
        recordedStoppedMs = Date.now() - restartedAt;
      }
      const memoryAsleep = memoryMb(tasks);
      const sentAt = Date.now();
      const messages = await Promise.all(
        tasks.map(async (t) => {
          const text = `After ${scenario} ${t.taskId.slice(0, 8)}`;
          const { entry } = await post(`/v1/tasks/${t.taskId}/sessions/${t.tabId}/messages`, { text });
          return { ...t, text, index: entry.index as number };
        }),
      );
      const answerMs = await answered(messages, sentAt);
      let ok = 0;
      for (const m of messages) {
        const agent = JSON.parse(readFileSync(path.join(local.paths(m.sandboxId).host, 'agent.json'), 'utf8')) as AgentTarget;
        const servers = await listAcpServers({ ...agent, timeoutMs: 5_000 });
        const users = await prisma.transcriptEntry.count({ where: { sessionId: m.tabId, role: 'user', text: m.text } });
        if ((await reply(m.tabId, m.index)) === expected(m.text) && servers.length === 1 && users === 1 && local.agentProcesses(m.sandboxId).length === 1) ok++;
      }
      const states = await sandboxStates(tasks);
      const pass = ok === TASKS && states.every((s) => s === 'ready');
      if (!pass) failures++;
      rows.push(
        `| ${scenario} | ${pass ? 'pass' : 'FAIL'} | ${recordedStoppedMs === null ? '—' : `${(recordedStoppedMs / 1000).toFixed(1)} s`} | ${(answerMs / 1000).toFixed(1)} s | ${ok}/${TASKS} | ${memoryBefore.toFixed(0)} → ${memoryAsleep.toFixed(0)} MiB |`,
      );
      process.stdout.write(`${rows[rows.length - 1]}\n`);
    }
  } finally {
    await stopWorker(worker, 'SIGTERM').catch(() => undefined);
    await api.close();
    await removeScratchSandboxRoot(local, sandboxRoot);
    await temporal.connection.close();
    await prisma.$disconnect();
    await globalTeardown();
  }
  process.stdout.write(
    `\n| restart | result | until every sandbox recorded stopped | until every message answered | answered once, one session, one agent | sandboxes' cgroup memory before → asleep |\n| --- | --- | --- | --- | --- | --- |\n${rows.join('\n')}\n`,
  );
  return failures === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
