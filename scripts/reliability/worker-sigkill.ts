/**
 * Reliability scenario 1 (docs/RELIABILITY.md): SIGKILL the worker while each provisioning step runs, restart it,
 * and check that every task still reaches `running` with exactly one sandbox directory, one
 * sandbox-agent process and one agent session.
 *
 *   npx tsx scripts/reliability/worker-sigkill.ts
 *
 * Method: the same real stack as the tests (Temporal dev server in memory, a fresh Postgres database,
 * the API in this process) with the worker as a separate process (`src/worker/main.ts`). For each step
 * a task is created; as soon as Postgres shows the task in that step the worker gets SIGKILL, and a new
 * worker is started. The killed attempt is retried after its heartbeat timeout (15-30 s). Exit code 0
 * when every check holds; the table it prints goes into docs/RELIABILITY.md.
 */
import type { ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { createPrismaClient } from '../../src/db/prisma';
import { PROVISION_STEPS } from '../../src/domain/status';
import { createLogger } from '../../src/logger';
import { listAcpServers } from '../../src/providers/local/acpClient';
import type { AgentTarget } from '../../src/providers/local/agentHttp';
import { isProcessAlive } from '../../src/providers/local/sandboxAgentProcess';
import { LocalProvider } from '../../src/providers/local/localProvider';
import { loadConfig } from '../../src/config';
import { isSandboxAgentServer } from '../../src/confinement/processes';
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

/** Live sandbox-agent servers on this machine (the servers themselves, not a confined sandbox's wrappers). */
function sandboxAgentPids(): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .map(Number)
    .filter((pid) => isSandboxAgentServer(pid) && isProcessAlive(pid));
}

async function main(): Promise<number> {
  await globalSetup();
  const stack = readStack();
  const logger = createLogger('reliability', 'warn');
  const prisma = createPrismaClient(stack.databaseUrl);
  const temporal = await createTemporalClient({ address: stack.temporalAddress, namespace: stack.namespace });
  const taskQueue = 'reliability-sigkill';
  const sandboxRoot = createScratchSandboxRoot('tps-sigkill-sandboxes-');
  const env = stackServiceEnv(stack, taskQueue, { SANDBOX_ROOT: sandboxRoot, REPOSITORY_ROOTS: stack.workDir, LOG_LEVEL: 'warn' });
  // Reads the worker's sandbox records and stops its sandboxes at the end, confined as the worker confines them.
  const local = new LocalProvider({ sandboxRoot, logger, confinement: loadConfig(env).confinement, repositoryPolicy: loadConfig(env).repositoryPolicy });
  const startWorker = (): ChildProcess => spawnService('worker', { env, stdio: ['ignore', 'ignore', 'inherit'], detached: true });
  const { api, baseUrl } = await startTestApi({ stack, prisma, temporal, taskQueue, logger });
  const repo = await createTestRepo(path.join(stack.workDir, 'repo'));
  const rows: string[] = [];
  let failures = 0;
  let worker = startWorker();
  try {
    for (const step of PROVISION_STEPS) {
      const agentsBefore = sandboxAgentPids().length;
      const res = await authedFetch(`${baseUrl}/v1/tasks`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ workspaceId: 'ws-sigkill', repository: repo, prompt: `Survive a kill at ${step}` }),
      });
      const task = (await res.json()) as { id: string; workflowId: string };
      for (;;) {
        const { status } = await prisma.task.findUniqueOrThrow({ where: { id: task.id }, select: { status: true } });
        if (status === step) break;
        if (status === 'running' || status === 'error') throw new Error(`task passed ${step} before the kill (status ${status})`);
        await new Promise((r) => setTimeout(r, 5));
      }
      process.kill(-worker.pid!, 'SIGKILL');
      const killedAt = Date.now();
      worker = startWorker();
      const result = await temporal.workflow.getHandle(task.workflowId).result();
      const seconds = ((Date.now() - killedAt) / 1000).toFixed(1);
      const sandboxes = await prisma.sandbox.findMany({ where: { taskId: task.id } });
      const agentRecord = JSON.parse(readFileSync(path.join(local.paths(sandboxes[0]!.id).host, 'agent.json'), 'utf8')) as AgentTarget & { pid: number };
      const servers = await listAcpServers({ ...agentRecord, timeoutMs: 2000 });
      const agentsAfter = sandboxAgentPids().length;
      const checks = {
        running: result.status === 'running',
        oneSandbox: sandboxes.length === 1 && readdirSync(sandboxRoot).filter((d) => d.startsWith(sandboxes[0]!.id)).length === 1,
        oneAgentProcess: agentsAfter - agentsBefore === 1 && isProcessAlive(agentRecord.pid),
        oneSession: servers.length === 1,
      };
      const ok = Object.values(checks).every(Boolean);
      if (!ok) failures++;
      rows.push(`| ${step} | ${ok ? 'pass' : 'FAIL'} | ${seconds} s | ${sandboxes.length} | ${agentsAfter - agentsBefore} | ${servers.length} | ${JSON.stringify(checks)} |`);
      process.stdout.write(`${rows[rows.length - 1]}\n`);
    }
  } finally {
    process.kill(-worker.pid!, 'SIGTERM');
    await api.close();
    await removeScratchSandboxRoot(local, sandboxRoot);
    await temporal.connection.close();
    await prisma.$disconnect();
    await globalTeardown();
  }
  process.stdout.write(
    `\n| killed during | result | kill → running | sandboxes | new agent processes | ACP servers | checks |\n| --- | --- | --- | --- | --- | --- | --- |\n${rows.join('\n')}\n`,
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
