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
import { ensureTemporalCli, loadTemporalDevSettings } from '../src/dev/temporalDevServer';
import { Prisma } from '../src/generated/prisma/client';
import { ProviderError, type SandboxProvider } from '../src/providers/types';
import type { LocalProvider } from '../src/providers/local/localProvider';
import { authedFetch } from '../test/support/auth';
import { createTestRepo } from '../test/support/gitRepo';
import { runOf } from '../test/support/runs';
import globalSetup from '../test/support/globalSetup';
import globalTeardown from '../test/support/globalTeardown';
import { startServices } from '../test/support/services';

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
        throw new Prisma.PrismaClientKnownRequestError("Can't reach database server at 127.0.0.1:5432 (injected outage, recording)", { code: 'P1001', clientVersion: Prisma.prismaVersion.client });
      }
      return local.createSandbox(...args);
    },
  });
}

type Services = Awaited<ReturnType<typeof startServices>>;

interface Scenario {
  name: string;
  wrap?: (l: LocalProvider) => SandboxProvider;
  /** Drives the scenario; returns the workflow ids to record, by file-name suffix. */
  run(services: Services, repo: string): Promise<Record<string, string>>;
}

const api = async (services: Services, method: string, p: string, body?: unknown): Promise<any> => {
  const res = await authedFetch(`${services.baseUrl}${p}`, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  const json = await res.json();
  if (res.status >= 400) throw new Error(`${method} ${p} answered ${res.status} ${JSON.stringify(json)}`);
  return json;
};
const createTask = (services: Services, body: Record<string, unknown>) => api(services, 'POST', '/v1/tasks', { workspaceId: 'ws-replay', ...body });
// The API starts a task's run just after answering: wait for the run to exist, then for its end.
const done = async (services: Services, workflowId: string) => (await runOf(services.temporal, workflowId)).result().catch(() => undefined);
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
      const t = await createTask(s, { repository: path.join(s.sandboxRoot, 'missing'), prompt: 'Update docs' });
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
      const t = await createTask(s, { repository: path.join(s.sandboxRoot, 'missing'), prompt: 'Never provisioned' });
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
      const repo = path.join(s.sandboxRoot, 'late-repo');
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
      const services = await startServices({ wrapProvider: scenario.wrap });
      try {
        const repo = await createTestRepo(path.join(services.sandboxRoot, 'repo'));
        const runs = await scenario.run(services, repo);
        for (const [suffix, workflowId] of Object.entries(runs)) {
          // The Temporal CLI writes the standard JSON history format (as the Web UI's download does).
          const json = execFileSync(cli, ['workflow', 'show', '--workflow-id', workflowId, '--output', 'json', '--address', services.stack.temporalAddress, '--namespace', services.stack.namespace], { encoding: 'utf8' });
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
  // eslint-disable-next-line no-console
  console.error(err);
  process.exit(1);
});
