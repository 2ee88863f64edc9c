/**
 * Chaos script: dependency outages with tasks in flight (docs/RELIABILITY.md, dependency outages).
 *
 *   npx tsx scripts/reliability/dependency-faults.ts [--tasks 20] [--local-tasks 2] [--rounds 3]
 *        [--postgres-down-ms 6000] [--temporal-down-ms 5000] [--step-ms 3000]
 *
 * Method: a Temporal dev server of its own (SQLite file, free loopback ports), a fresh database on
 * the machine's PostgreSQL server, and the worker and the API as separate processes (src/worker,
 * src/api) exactly as `scripts/start.sh` runs them. Tasks use the benchmark-only `slow` provider
 * (each step takes --step-ms; no sandbox) plus a few on the real `local` provider (a clone of this
 * repository, a real sandbox-agent and agent session each). One Socket.IO client subscribes to the
 * workspace and to every task as it is created. Each round creates a wave of tasks, then RESTARTS
 * THE MACHINE'S POSTGRESQL SERVER (`pg_ctlcluster … stop -m fast`, down for --postgres-down-ms, start)
 * and then the Temporal dev server (stopped, down for --temporal-down-ms, started on the same ports
 * and file). Afterwards it waits for every task and checks:
 *   - every task is `running`, its history dense (1..lastEventSeq), its run completed, one run only;
 *   - the client received each pushed event once, in order, and every event after its subscribe
 *     snapshot (those in Postgres with a higher seq);
 *   - one sandbox row per task; for `local` tasks one live sandbox-agent process and one agent
 *     session (ACP server) each.
 * Prints a Markdown table (for docs/RELIABILITY.md); exit code 0 when every check holds.
 * It restarts the shared PostgreSQL server: run it when nothing else uses it (not during tests).
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Command } from 'commander';
import { io, type Socket } from 'socket.io-client';
import { Connection, Client } from '@temporalio/client';
import { createPrismaClient } from '../../src/db/prisma';
import { dropDatabase } from '../../src/db/migrate';
import { createScratchDatabase } from '../../src/dev/scratchDatabase';
import { createScratchSandboxRoot } from '../../src/dev/scratchSandboxRoot';
import { createTestRepo } from '../../src/dev/stack/gitRepo';
import { spawnService, waitForHealth } from '../../src/dev/serviceProcess';
import { ownDevServerSettings, startTemporalDevServer, type RunningTemporalDevServer } from '../../src/dev/temporalDevServer';
import type { TaskEventMessage } from '../../src/domain/events';
import { findFreePort } from '../../src/net/freePort';
import { listAcpServers } from '../../src/providers/local/acpClient';
import { LocalProvider } from '../../src/providers/local/localProvider';
import { loadConfig } from '../../src/config';
import { createLogger } from '../../src/logger';

const program = new Command()
  .option('--tasks <n>', 'slow-provider tasks in all', (v) => Number(v), 20)
  .option('--local-tasks <n>', 'local-provider tasks (real sandbox-agent) in all', (v) => Number(v), 2)
  .option('--rounds <n>', 'rounds of Postgres + Temporal restarts', (v) => Number(v), 3)
  .option('--postgres-down-ms <ms>', 'how long PostgreSQL stays down per round', (v) => Number(v), 6_000)
  .option('--temporal-down-ms <ms>', 'how long the Temporal dev server stays down per round', (v) => Number(v), 5_000)
  .option('--step-ms <ms>', 'how long each step of the slow provider takes', (v) => Number(v), 3_000)
  .parse();
const opts = program.opts<{ tasks: number; localTasks: number; rounds: number; postgresDownMs: number; temporalDownMs: number; stepMs: number }>();

const WORKSPACE = 'ws-chaos';
const TOKEN = 'chaos-token';

/** The machine's PostgreSQL cluster, controlled with Debian's pg_ctlcluster. */
function postgresCluster(): { stop(): void; start(): void } {
  const versions = readdirSync('/etc/postgresql');
  if (versions.length === 0) throw new Error('no PostgreSQL cluster under /etc/postgresql: this script restarts the local server and needs pg_ctlcluster');
  const ctl = (action: string, ...extra: string[]) => execFileSync('pg_ctlcluster', ['--skip-systemctl-redirect', versions[0]!, 'main', action, ...extra], { stdio: 'ignore' });
  return { stop: () => ctl('stop', '-m', 'fast'), start: () => ctl('start') };
}

async function main(): Promise<number> {
  const workDir = mkdtempSync(path.join(os.tmpdir(), 'tps-chaos-'));
  const { cli, server } = await ownDevServerSettings({ dbFilename: path.join(workDir, 'temporal.sqlite') });
  let temporal: RunningTemporalDevServer = await startTemporalDevServer(cli, server);
  const databaseUrl = await createScratchDatabase('tps_chaos', process.env.DATABASE_URL);
  const sandboxRoot = createScratchSandboxRoot('tps-chaos-sandboxes-');
  const port = await findFreePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  // The repository the local tasks clone: a test repository under the roots (the service's own checkout is refused).
  const repository = await createTestRepo(path.join(workDir, 'repo'));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATABASE_URL: databaseUrl,
    TEMPORAL_ADDRESS: temporal.address,
    TEMPORAL_NAMESPACE: temporal.namespace,
    TEMPORAL_TASK_QUEUE: 'chaos',
    PORT: String(port),
    API_TOKENS: `${TOKEN}=${WORKSPACE}`,
    ENABLE_BENCHMARK_PROVIDERS: '1',
    SLOW_PROVIDER_DELAY_MS: String(opts.stepMs),
    SANDBOX_ROOT: sandboxRoot,
    REPOSITORY_ROOTS: workDir,
    LOG_LEVEL: 'warn',
  };
  const children: ChildProcess[] = (['worker', 'api'] as const).map((role) => {
    const log = openSync(path.join(workDir, `${role}.log`), 'a');
    return spawnService(role, { env, stdio: ['ignore', log, log], detached: true });
  });
  const prisma = createPrismaClient(databaseUrl);
  const local = new LocalProvider({
    sandboxRoot,
    logger: createLogger('chaos', 'warn'),
    confinement: loadConfig(env).confinement,
    repositoryPolicy: loadConfig(env).repositoryPolicy,
  }); // to inspect and stop the worker's sandboxes, confined as it confines them
  const postgres = postgresCluster();
  const client: Socket = io(baseUrl, { auth: { token: TOKEN }, transports: ['websocket'] });
  const received = new Map<string, number[]>();
  const snapshots = new Map<string, number>();
  client.on('task.event', (m: TaskEventMessage) => received.set(m.event.taskId, [...(received.get(m.event.taskId) ?? []), m.event.seq]));
  const faults: string[] = [];
  let ok = false;
  try {
    await waitForHealth(baseUrl, 120_000);
    await new Promise<void>((resolve) => client.once('connect', () => resolve()));
    await client.timeout(5_000).emitWithAck('subscribe', { workspaceId: WORKSPACE });

    const create = async (provider: 'slow' | 'local', n: number): Promise<string> => {
      const res = await fetch(`${baseUrl}/v1/tasks`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ workspaceId: WORKSPACE, repository, prompt: `Chaos task ${n}`, provider }),
      });
      if (res.status !== 201) throw new Error(`create answered ${res.status}: ${await res.text()}`);
      const { id } = (await res.json()) as { id: string };
      const ack = (await client.timeout(5_000).emitWithAck('subscribe', { taskId: id })) as { ok: boolean; task: { lastEventSeq: number } };
      snapshots.set(id, ack.task.lastEventSeq);
      return id;
    };
    const tasks: Array<{ id: string; provider: 'slow' | 'local' }> = [];
    const perRound = (total: number, round: number) => Math.floor((total * (round + 1)) / opts.rounds) - Math.floor((total * round) / opts.rounds);
    for (let round = 0; round < opts.rounds; round++) {
      for (let i = 0; i < perRound(opts.tasks, round); i++) tasks.push({ id: await create('slow', tasks.length + 1), provider: 'slow' });
      for (let i = 0; i < perRound(opts.localTasks, round); i++) tasks.push({ id: await create('local', tasks.length + 1), provider: 'local' });
      await sleep(opts.stepMs); // let the wave get into its steps
      let t = Date.now();
      postgres.stop();
      await sleep(opts.postgresDownMs);
      postgres.start();
      faults.push(`round ${round + 1}: PostgreSQL down ${Date.now() - t} ms`);
      await sleep(opts.stepMs);
      t = Date.now();
      await temporal.stop();
      await sleep(opts.temporalDownMs);
      temporal = await startTemporalDevServer(cli, server);
      faults.push(`round ${round + 1}: Temporal down ${Date.now() - t} ms`);
    }

    // Every task settles (created-but-unstarted ones are started by the worker's sweep within ~1 min).
    const settleStart = Date.now();
    for (const deadline = Date.now() + 5 * 60_000; Date.now() < deadline; await sleep(1_000)) {
      const open = await prisma.task.count({ where: { id: { in: tasks.map((t) => t.id) }, status: { notIn: ['running', 'error'] } } }).catch(() => -1);
      if (open === 0) break;
    }
    const settledAfter = Date.now() - settleStart;
    await sleep(2_000); // the last pushed events on their way

    const temporalClient = new Client({ connection: await Connection.connect({ address: temporal.address }), namespace: temporal.namespace });
    const rows: string[] = [];
    let failures = 0;
    for (const { id, provider } of tasks) {
      const task = await prisma.task.findUniqueOrThrow({ where: { id } });
      const seqs = (await prisma.taskEvent.findMany({ where: { taskId: id }, orderBy: { seq: 'asc' }, select: { seq: true } })).map((e) => e.seq);
      const dense = seqs.every((s, i) => s === i + 1) && seqs.length === task.lastEventSeq;
      const snapshot = snapshots.get(id) ?? 0;
      const got = received.get(id) ?? [];
      // Each pushed event once, in order (strictly increasing), and every event after the subscribe
      // snapshot among them (the workspace subscription may also have pushed earlier ones).
      const inOrderOnce = got.every((s, i) => i === 0 || s > got[i - 1]!);
      const clientOk = inOrderOnce && JSON.stringify(got.filter((s) => s > snapshot)) === JSON.stringify(seqs.filter((s) => s > snapshot)) && got.every((s) => seqs.includes(s));
      const sandboxes = await prisma.sandbox.findMany({ where: { taskId: id } });
      const runs: string[] = [];
      for await (const run of temporalClient.workflow.list({ query: `WorkflowId = "${task.workflowId}"` })) runs.push(run.status.name);
      let agents = '-';
      let sessions = '-';
      let localOk = true;
      if (provider === 'local' && sandboxes[0]) {
        const live = local.agentProcesses(sandboxes[0].id);
        const agent = JSON.parse(readFileSync(path.join(local.paths(sandboxes[0].id).host, 'agent.json'), 'utf8')) as { baseUrl: string; token: string };
        const servers = await listAcpServers({ baseUrl: agent.baseUrl, token: agent.token, timeoutMs: 2_000 });
        agents = String(live.length);
        sessions = String(servers.length);
        localOk = live.length === 1 && servers.length === 1;
      }
      const checks = task.status === 'running' && dense && clientOk && sandboxes.length === 1 && runs.length === 1 && runs[0] === 'COMPLETED' && localOk;
      if (!checks) failures++;
      rows.push(
        `| ${id.slice(0, 8)} | ${provider} | ${task.status} | ${seqs.length} | ${got.length} (after snapshot ${snapshot}) | ${clientOk ? 'yes' : 'NO'} | ${sandboxes.length} | ${agents} / ${sessions} | ${runs.join(',')} | ${checks ? 'ok' : 'FAILED'} |`,
      );
    }
    await temporalClient.connection.close();
    ok = failures === 0;
    process.stdout.write(
      [
        `Faults: ${faults.join('; ')}.`,
        `All tasks settled ${settledAfter} ms after the last fault. Tasks failing a check: ${failures} of ${tasks.length}.`,
        '',
        '| task | provider | status | events in Postgres | pushed to the client | all after the snapshot pushed, in order, once | sandboxes | agent processes / sessions | runs | checks |',
        '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
        ...rows,
      ].join('\n') + '\n',
    );
  } finally {
    client.close();
    for (const child of children) {
      try {
        process.kill(-child.pid!, 'SIGTERM');
      } catch {
        // already gone
      }
    }
    await sleep(3_000);
    await local.stopAll();
    await prisma.$disconnect();
    await temporal.stop();
    await dropDatabase(databaseUrl).catch(() => undefined);
    process.stdout.write(`Logs of the worker and the API: ${workDir}\n`);
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
