/**
 * Reliability scenario 1, Temporal part (docs/RELIABILITY.md): stop the Temporal dev server while a task is in the
 * middle of provisioning, start it again with the same database file, and check that the task still
 * reaches `running` with one sandbox, one sandbox-agent process and one session.
 *
 *   npx tsx scripts/reliability/temporal-restart.ts
 *
 * Method: a dedicated dev server with a SQLite database file (not the suite's in-memory one), a fresh
 * Postgres database, the worker and API in this process. A gate holds the sandbox step; the server is
 * stopped (SIGTERM), the gate opened (the step finishes while Temporal is down and cannot hear of
 * it), and after 3 s the server is started again on the same ports and file. Exit code 0 when every
 * check holds; the result goes into docs/RELIABILITY.md.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DefaultLogger, bundleWorkflowCode } from '@temporalio/worker';
import { dropDatabase } from '../../src/db/migrate';
import { createScratchDatabase } from '../../src/dev/scratchDatabase';
import { ownDevServerSettings, startTemporalDevServer, type RunningTemporalDevServer } from '../../src/dev/temporalDevServer';
import { listAcpServers } from '../../src/providers/local/acpClient';
import { isProcessAlive } from '../../src/providers/local/sandboxAgentProcess';
import { Gate, gatedProvider } from '../../src/dev/stack/gate';
import { createTestRepo } from '../../src/dev/stack/gitRepo';
import { postJson, startServices } from '../../src/dev/stack/services';
import { STACK_FILE_ENV, newTestCredentialsKey, type TestStack } from '../../src/dev/stack/stackFile';
import { WORKFLOW_INTERCEPTOR_MODULES } from '../../src/worker/tracing';

async function main(): Promise<number> {
  const workDir = mkdtempSync(path.join(os.tmpdir(), 'tps-temporal-restart-'));
  const { cli, server } = await ownDevServerSettings({ dbFilename: path.join(workDir, 'temporal.sqlite') });
  let temporal: RunningTemporalDevServer = await startTemporalDevServer(cli, server);
  const databaseUrl = await createScratchDatabase('tps_restart', process.env.TEST_DATABASE_URL);
  const { code } = await bundleWorkflowCode({
    workflowsPath: require.resolve('../../src/workflows'),
    workflowInterceptorModules: WORKFLOW_INTERCEPTOR_MODULES,
    logger: new DefaultLogger('WARN'),
  });
  const stack: TestStack = {
    temporalAddress: temporal.address,
    namespace: temporal.namespace,
    temporalUiUrl: temporal.uiUrl,
    databaseUrl,
    workflowBundlePath: path.join(workDir, 'bundle.js'),
    workDir,
    credentialsKey: newTestCredentialsKey(),
  };
  writeFileSync(stack.workflowBundlePath, code);
  writeFileSync(path.join(workDir, 'stack.json'), JSON.stringify(stack));
  process.env[STACK_FILE_ENV] = path.join(workDir, 'stack.json');

  const gate = new Gate();
  const services = await startServices({ wrapProvider: (local) => gatedProvider(local, { createSandbox: gate }) });
  let ok = false;
  try {
    const repo = await createTestRepo(path.join(workDir, 'repo'));
    const created = await postJson(`${services.baseUrl}/v1/tasks`, { workspaceId: 'ws-temporal-restart', repository: repo, prompt: 'Survive a Temporal restart' });
    await gate.entered;
    const stoppedAt = Date.now();
    await temporal.stop();
    gate.open();
    await new Promise((r) => setTimeout(r, 3_000));
    temporal = await startTemporalDevServer(cli, server);
    const restartedAfter = Date.now() - stoppedAt;
    await services.temporal.workflow.getHandle(created.body.workflowId).result();
    const reachedAfter = Date.now() - stoppedAt;
    const task = await services.prisma.task.findUniqueOrThrow({ where: { id: created.body.id } });
    const sandboxes = await services.prisma.sandbox.findMany({ where: { taskId: task.id } });
    const agent = JSON.parse(readFileSync(path.join(path.dirname(sandboxes[0]!.directory!), 'agent.json'), 'utf8')) as { pid: number; token: string; baseUrl: string };
    const servers = await listAcpServers({ baseUrl: agent.baseUrl, token: agent.token, timeoutMs: 2000 });
    const checks = { running: task.status === 'running', oneSandbox: sandboxes.length === 1, agentAlive: isProcessAlive(agent.pid), oneSession: servers.length === 1 };
    ok = Object.values(checks).every(Boolean);
    process.stdout.write(
      [
        '| figure | value |',
        '| --- | --- |',
        `| Temporal down for | ${restartedAfter} ms |`,
        `| task running after the stop | ${reachedAfter} ms |`,
        `| final status | ${task.status} |`,
        `| sandboxes / ACP servers | ${sandboxes.length} / ${servers.length} |`,
        `| checks | ${JSON.stringify(checks)} |`,
      ].join('\n') + '\n',
    );
  } finally {
    await services.stop();
    await temporal.stop();
    await dropDatabase(databaseUrl);
  }
  return ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
