/**
 * Records the workflow histories that test/replay/replay.test.ts replays.
 *
 *   npm run record-histories [-- <scenario> ...]     (default: every scenario)
 *
 * Brings up the same real stack as the test suite (Temporal dev server, fresh Postgres database,
 * worker with the real local provider, API), drives each scenario below through the REST API, waits
 * for its runs to close and writes each run's history, in Temporal's JSON history format, to
 * test/fixtures/histories/current/<scenario>[-<run>].json. Histories recorded by earlier versions of
 * the workflows stay in their own folders (e.g. before-tabs/) and are never re-recorded: they are what
 * proves that runs already in flight still replay. Re-record `current` after an intentional, versioned
 * workflow change; never to make a failing replay pass.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { ensureTemporalCli, loadTemporalDevSettings } from '../src/dev/temporalDevServer';
import { Prisma } from '../src/generated/prisma/client';
import { ProviderError, type SandboxProvider } from '../src/providers/types';
import type { LocalProvider } from '../src/providers/local/localProvider';
import { authedFetch } from '../src/dev/stack/auth';
import { createTestRepo } from '../src/dev/stack/gitRepo';
import { runOf } from '../src/dev/stack/runs';
import globalSetup from '../src/dev/stack/globalSetup';
import globalTeardown from '../src/dev/stack/globalTeardown';
import { startServices } from '../src/dev/stack/services';

const OUT_DIR = path.resolve(__dirname, '../test/fixtures/histories/current');

/** Test-only fault injection: the first `ensureAgent` call fails with a retryable error, later ones go through. */
function flakyAgentOnce(local: LocalProvider): SandboxProvider {
  let failed = false;
  return Object.assign(Object.create(local) as LocalProvider, {
    ensureAgent: async (...args: Parameters<LocalProvider['ensureAgent']>) => {
      if (!failed) {
        failed = true;
        throw new ProviderError('ProviderUnavailable', 'injected transient failure (recording)', true);
      }
      return local.ensureAgent(...args);
    },
  });
}

/** Test-only fault injection: the first session a tab (not provisioning) opens fails for good. */
function failFirstTabSession(local: LocalProvider): SandboxProvider {
  let failed = false;
  return Object.assign(Object.create(local) as LocalProvider, {
    createSession: async (...args: Parameters<LocalProvider['createSession']>) => {
      if (!failed && args[1].sessionKey !== 'initial') {
        failed = true;
        throw new ProviderError('SandboxBroken', 'injected session failure (recording)', false);
      }
      return local.createSession(...args);
    },
  });
}

/**
 * Test-only fault injection: the first two `createSandbox` calls fail as a database outage would
 * (connection refused), so the run waits the outage out (src/workflows/dependencyOutage.ts).
 */
function databaseOutageAtSandbox(local: LocalProvider): SandboxProvider {
  let failures = 0;
  return Object.assign(Object.create(local) as LocalProvider, {
    createSandbox: async (...args: Parameters<LocalProvider['createSandbox']>) => {
      if (failures < 2) {
        failures++;
        throw new Prisma.PrismaClientKnownRequestError("Can't reach database server at 127.0.0.1:5432 (injected outage, recording)", {
          code: 'P1001',
          clientVersion: Prisma.prismaVersion.client,
        });
      }
      return local.createSandbox(...args);
    },
  });
}

/** Holds the first agent turn of the `tab-continued-as-new` scenario until it lets it go. */
const heldTurn = (() => {
  let enter!: () => void;
  let release!: () => void;
  return {
    entered: new Promise<void>((r) => (enter = r)),
    released: new Promise<void>((r) => (release = r)),
    enter: () => enter(),
    release: () => release(),
  };
})();

/** Test-only: the first prompt waits until `heldTurn` is released, so a second message queues behind it. */
function holdFirstTurn(local: LocalProvider): SandboxProvider {
  let held = false;
  return Object.assign(Object.create(local) as LocalProvider, {
    prompt: async (...args: Parameters<LocalProvider['prompt']>) => {
      if (!held) {
        held = true;
        heldTurn.enter();
        await heldTurn.released;
      }
      return local.prompt(...args);
    },
  });
}

/**
 * Recording-only: every `workbenchSession` run started through `temporal` (the client the API and
 * the activities share) gets `continueAsNewAfterTurns: afterTurns`, so a short conversation continues
 * as new, as a long one does when Temporal suggests it.
 */
function forceContinueAsNew(temporal: Client, afterTurns: number): void {
  const workflow = temporal.workflow;
  const start = workflow.start.bind(workflow);
  const isTab = (type: unknown) => (typeof type === 'string' ? type : (type as { name?: string }).name) === 'workbenchSession';
  workflow.start = ((type: any, options: any) =>
    start(type, isTab(type) ? { ...options, args: [{ ...options.args[0], continueAsNewAfterTurns: afterTurns }] } : options)) as typeof workflow.start;
}

/** Run ids of `workflowId`'s chain from `firstRunId`, following each continue-as-new to the next run. */
async function runChain(temporal: Client, workflowId: string, firstRunId: string): Promise<string[]> {
  const runs = [firstRunId];
  for (;;) {
    const { events } = await temporal.workflow.getHandle(workflowId, runs[runs.length - 1]).fetchHistory();
    const next = events?.[events.length - 1]?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId;
    if (!next) return runs;
    runs.push(next);
  }
}

type Services = Awaited<ReturnType<typeof startServices>>;

/** A run to record: the latest run of a workflow id, or one run of it. */
type RecordedRun = string | { workflowId: string; runId: string };

interface Scenario {
  name: string;
  wrap?: (l: LocalProvider) => SandboxProvider;
  /** Idle stop of the scenario's sandboxes, ms (default 0: never). */
  idleStopMs?: number;
  /** Drives the scenario; returns the runs to record, by file-name suffix. */
  run(services: Services, repo: string): Promise<Record<string, RecordedRun>>;
}

const api = async (services: Services, method: string, p: string, body?: unknown): Promise<any> => {
  const res = await authedFetch(`${services.baseUrl}${p}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await res.json();
  if (res.status >= 400) throw new Error(`${method} ${p} answered ${res.status} ${JSON.stringify(json)}`);
  return json;
};
const createTask = (services: Services, body: Record<string, unknown>) => api(services, 'POST', '/v1/tasks', { workspaceId: 'ws-replay', ...body });
// The API starts a task's run just after answering: wait for the run to exist, then for its end.
const done = async (services: Services, workflowId: string) => (await runOf(services.temporal, workflowId)).result().catch(() => undefined);
async function waitForSandboxState(services: Services, taskId: string, state: string): Promise<void> {
  for (const deadline = Date.now() + 60_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 100))) {
    if ((await api(services, 'GET', `/v1/tasks/${taskId}`)).sandboxState === state) return;
  }
  throw new Error(`the sandbox of task ${taskId} did not reach ${state}`);
}
async function waitForTab(services: Services, taskId: string, tabId: string, pred: (s: any) => boolean): Promise<void> {
  for (const deadline = Date.now() + 60_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 100))) {
    if (pred((await api(services, 'GET', `/v1/tasks/${taskId}/sessions/${tabId}`)).session)) return;
  }
  throw new Error(`tab ${tabId} did not reach the expected state`);
}

const SCENARIOS: Scenario[] = [
  {
    name: 'running',
    async run(s, repo) {
      const t = await createTask(s, { repository: repo, prompt: 'Add a health endpoint' });
      await done(s, t.workflowId);
      return { '': t.workflowId };
    },
  },
  {
    name: 'running-after-agent-retry',
    wrap: flakyAgentOnce,
    async run(s, repo) {
      const t = await createTask(s, { repository: repo, prompt: 'Fix flaky agent start' });
      await done(s, t.workflowId);
      return { '': t.workflowId };
    },
  },
  {
    name: 'running-after-database-outage',
    wrap: databaseOutageAtSandbox,
    async run(s, repo) {
      const t = await createTask(s, { repository: repo, prompt: 'Outlast a database outage' });
      await done(s, t.workflowId);
      return { '': t.workflowId };
    },
  },
  {
    name: 'error-repository-not-found',
    async run(s) {
      const t = await createTask(s, { repository: path.join(s.repoRoot, 'missing'), prompt: 'Update docs' });
      await done(s, t.workflowId);
      return { '': t.workflowId };
    },
  },
  {
    name: 'error-branch-taken',
    async run(s, repo) {
      const t = await createTask(s, { repository: repo, prompt: 'Work on main', branchName: 'main' });
      await done(s, t.workflowId);
      return { '': t.workflowId };
    },
  },
  {
    // The first tab opened with the task; its prompt sent once ready; a second message; then closed.
    name: 'tab-first-prompt-message-close',
    async run(s, repo) {
      const t = await createTask(s, { repository: repo, prompt: 'Write the changelog', openSession: true });
      const tab = t.firstSession;
      await done(s, t.workflowId);
      await waitForTab(s, t.id, tab.id, (x) => x.unread && x.status === 'ready');
      await api(s, 'POST', `/v1/tasks/${t.id}/sessions/${tab.id}/read`);
      const { entry } = await api(s, 'POST', `/v1/tasks/${t.id}/sessions/${tab.id}/messages`, { text: 'And the README' });
      await waitForTab(s, t.id, tab.id, (x) => x.lastEntryIndex > entry.index && x.status === 'ready' && x.unread);
      await api(s, 'DELETE', `/v1/tasks/${t.id}/sessions/${tab.id}`);
      await done(s, `workbench-${tab.id}`);
      return { task: t.workflowId, tab: `workbench-${tab.id}` };
    },
  },
  {
    name: 'tab-closed-while-pending',
    async run(s, repo) {
      const t = await createTask(s, { repository: path.join(s.repoRoot, 'missing'), prompt: 'Never provisioned' });
      const tab = await api(s, 'POST', `/v1/tasks/${t.id}/sessions`, {});
      await api(s, 'DELETE', `/v1/tasks/${t.id}/sessions/${tab.id}`);
      await done(s, `workbench-${tab.id}`);
      await done(s, t.workflowId);
      void repo;
      return { '': `workbench-${tab.id}` };
    },
  },
  {
    name: 'task-killed-when-running',
    async run(s, repo) {
      const t = await createTask(s, { repository: repo, prompt: 'Kill when running' });
      await done(s, t.workflowId);
      await api(s, 'POST', `/v1/tasks/${t.id}/kill`, {});
      await done(s, `kill-task-${t.id}`);
      return { '': `kill-task-${t.id}` };
    },
  },
  {
    name: 'task-retried-after-error',
    async run(s) {
      const repo = path.join(s.repoRoot, 'late-repo');
      const t = await createTask(s, { repository: repo, prompt: 'Retry when the repository exists' });
      await done(s, t.workflowId);
      await createTestRepo(repo);
      await api(s, 'POST', `/v1/tasks/${t.id}/retry`, {});
      await done(s, t.workflowId);
      return { '': t.workflowId };
    },
  },
  {
    name: 'tab-error-then-retry',
    wrap: failFirstTabSession,
    async run(s, repo) {
      const t = await createTask(s, { repository: repo, prompt: 'Retry a tab' });
      await done(s, t.workflowId);
      const tab = await api(s, 'POST', `/v1/tasks/${t.id}/sessions`, { agent: 'codex' });
      await waitForTab(s, t.id, tab.id, (x) => x.status === 'error');
      await api(s, 'POST', `/v1/tasks/${t.id}/sessions/${tab.id}/retry`);
      await waitForTab(s, t.id, tab.id, (x) => x.status === 'ready');
      await api(s, 'DELETE', `/v1/tasks/${t.id}/sessions/${tab.id}`);
      await done(s, `workbench-${tab.id}`);
      return { '': `workbench-${tab.id}` };
    },
  },
  {
    // A tab whose runs continue as new after every turn (forced; Temporal suggests it only near its
    // history limits). The second message is sent while the first turn is held, so the first run
    // hands it to the second run queued; the second run sends it and continues as new again; the
    // third run is closed and ends the agent session. One file per run: -run1, -run2, -run3.
    name: 'tab-continued-as-new',
    wrap: holdFirstTurn,
    async run(s, repo) {
      forceContinueAsNew(s.temporal, 1);
      const t = await createTask(s, { repository: repo, prompt: 'Continue as new' });
      await done(s, t.workflowId);
      const tab = await api(s, 'POST', `/v1/tasks/${t.id}/sessions`, {});
      const workflowId = `workbench-${tab.id}`;
      await waitForTab(s, t.id, tab.id, (x) => x.status === 'ready');
      const { runId: firstRunId } = await (await runOf(s.temporal, workflowId)).describe();
      await api(s, 'POST', `/v1/tasks/${t.id}/sessions/${tab.id}/messages`, { text: 'First turn' });
      await heldTurn.entered;
      const { entry } = await api(s, 'POST', `/v1/tasks/${t.id}/sessions/${tab.id}/messages`, { text: 'Queued behind the first turn' });
      heldTurn.release();
      await waitForTab(s, t.id, tab.id, (x) => x.lastEntryIndex > entry.index && x.status === 'ready' && x.unread);
      // Closed only once the third run serves the tab (a close before would keep the second run).
      for (const deadline = Date.now() + 60_000; (await runChain(s.temporal, workflowId, firstRunId)).length < 3; await new Promise((r) => setTimeout(r, 100))) {
        if (Date.now() > deadline) throw new Error(`tab ${tab.id} did not continue as new twice: was continueAsNewAfterTurns applied?`);
      }
      await api(s, 'DELETE', `/v1/tasks/${t.id}/sessions/${tab.id}`);
      await done(s, workflowId);
      const runs = await runChain(s.temporal, workflowId, firstRunId);
      if (runs.length !== 3) throw new Error(`expected the tab to run 3 times (continued as new twice), got ${runs.length}`);
      return Object.fromEntries(runs.map((runId, i) => [`run${i + 1}`, { workflowId, runId }]));
    },
  },
  {
    // A running task's agent is SIGKILLed; the tab's next message finds it gone and has the sandbox's
    // lifecycle run wake it, then opens its session again and sends the message. Then a user's stop and
    // resume, and a kill, which ends the lifecycle run. Recorded: the tab's run and the lifecycle run.
    name: 'sandbox-woken-by-a-tab',
    async run(s, repo) {
      const t = await createTask(s, { repository: repo, prompt: 'Wake the sandbox', openSession: true });
      const tab = t.firstSession;
      await done(s, t.workflowId);
      await waitForTab(s, t.id, tab.id, (x) => x.unread && x.status === 'ready');
      const sandboxId = (await api(s, 'GET', `/v1/tasks/${t.id}`)).activeSandboxId as string;
      for (const pid of s.local.agentProcesses(sandboxId)) process.kill(pid, 'SIGKILL');
      const { entry } = await api(s, 'POST', `/v1/tasks/${t.id}/sessions/${tab.id}/messages`, { text: 'Still there?' });
      await waitForTab(s, t.id, tab.id, (x) => x.lastEntryIndex > entry.index + 1 && x.status === 'ready');
      await api(s, 'POST', `/v1/tasks/${t.id}/stop`, {});
      await waitForSandboxState(s, t.id, 'stopped');
      await api(s, 'POST', `/v1/tasks/${t.id}/resume`, {});
      await waitForSandboxState(s, t.id, 'ready');
      await api(s, 'POST', `/v1/tasks/${t.id}/kill`, {});
      await done(s, `kill-task-${t.id}`);
      await done(s, `workbench-${tab.id}`);
      await done(s, `sandbox-${sandboxId}`);
      return { tab: `workbench-${tab.id}`, lifecycle: `sandbox-${sandboxId}` };
    },
  },
  {
    // A running task's sandbox stops on the idle timer; then the task is archived, which ends the lifecycle run.
    name: 'sandbox-idle-stop',
    idleStopMs: 2_000,
    async run(s, repo) {
      const t = await createTask(s, { repository: repo, prompt: 'Sleep when idle' });
      await done(s, t.workflowId);
      await waitForSandboxState(s, t.id, 'stopped');
      const sandboxId = (await api(s, 'GET', `/v1/tasks/${t.id}`)).activeSandboxId as string;
      await api(s, 'POST', `/v1/tasks/${t.id}/archive`, {});
      await done(s, `archive-task-${t.id}`);
      await done(s, `sandbox-${sandboxId}`);
      return { '': `sandbox-${sandboxId}` };
    },
  },
  {
    // A warm pool's run (src/workflows/sandboxPool.ts): filled to 1, its member claimed by a task, refilled, turned off and drained.
    name: 'sandbox-pool',
    async run(s, repo) {
      const pool = await api(s, 'PUT', '/v1/workspaces/ws-replay/sandbox-pools', { repository: repo, size: 1 });
      const members = () => s.prisma.warmSandbox.findMany({ where: { poolId: pool.id } });
      const readyMember = async (not?: string) => {
        for (const deadline = Date.now() + 120_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 100))) {
          const ready = (await members()).find((m) => m.state === 'ready' && m.id !== not);
          if (ready) return ready.id;
        }
        throw new Error('the pool did not fill');
      };
      const first = await readyMember();
      const t = await createTask(s, { repository: repo, prompt: 'Claim a warm sandbox' });
      await done(s, t.workflowId);
      await readyMember(first);
      await api(s, 'PUT', '/v1/workspaces/ws-replay/sandbox-pools', { repository: repo, size: 0 });
      await done(s, `sandbox-pool-${pool.id}`);
      return { '': `sandbox-pool-${pool.id}` };
    },
  },
];

async function main(): Promise<void> {
  const wanted = process.argv.slice(2);
  const unknown = wanted.filter((w) => !SCENARIOS.some((s) => s.name === w));
  if (unknown.length) throw new Error(`unknown scenario(s): ${unknown.join(', ')}; known: ${SCENARIOS.map((s) => s.name).join(', ')}`);
  const cli = await ensureTemporalCli(loadTemporalDevSettings());
  mkdirSync(OUT_DIR, { recursive: true });
  await globalSetup();
  try {
    for (const scenario of SCENARIOS.filter((s) => !wanted.length || wanted.includes(s.name))) {
      const services = await startServices({ wrapProvider: scenario.wrap, idleStopMs: scenario.idleStopMs ?? 0 });
      try {
        const repo = await createTestRepo(path.join(services.repoRoot, 'repo'));
        const runs = await scenario.run(services, repo);
        for (const [suffix, recorded] of Object.entries(runs)) {
          const { workflowId, runId } = typeof recorded === 'string' ? { workflowId: recorded, runId: undefined } : recorded;
          const which = ['--workflow-id', workflowId, ...(runId ? ['--run-id', runId] : [])];
          const server = ['--address', services.stack.temporalAddress, '--namespace', services.stack.namespace];
          // The Temporal CLI writes the standard JSON history format (as the Web UI's download does).
          const json = execFileSync(cli, ['workflow', 'show', ...which, '--output', 'json', ...server], { encoding: 'utf8' });
          const file = path.join(OUT_DIR, `${scenario.name}${suffix ? `-${suffix}` : ''}.json`);
          writeFileSync(file, json);
          process.stdout.write(`recorded ${path.basename(file)}: ${(JSON.parse(json) as { events: unknown[] }).events.length} events\n`);
        }
      } finally {
        await services.stop();
      }
    }
  } finally {
    await globalTeardown();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
