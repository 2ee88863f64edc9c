/**
 * Records the workflow histories that test/replay/replay.test.ts replays.
 *
 *   npm run record-histories
 *
 * Brings up the same real stack as the test suite (Temporal dev server, fresh Postgres database,
 * worker with the real local provider, API), drives each scenario below through the REST API, waits
 * for its run to close and writes the run's history, in Temporal's JSON history format, to
 * test/fixtures/histories/<scenario>.json. Re-record after an intentional, versioned workflow change;
 * never to make a failing replay pass.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { ensureTemporalCli, loadTemporalDevSettings } from '../src/dev/temporalDevServer';
import { ProviderError, type SandboxProvider } from '../src/providers/types';
import type { LocalProvider } from '../src/providers/local/localProvider';
import { createTestRepo } from '../test/support/gitRepo';
import globalSetup from '../test/support/globalSetup';
import globalTeardown from '../test/support/globalTeardown';
import { postJson, startServices } from '../test/support/services';

const OUT_DIR = path.resolve(__dirname, '../test/fixtures/histories');

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

async function main(): Promise<void> {
  const cli = await ensureTemporalCli(loadTemporalDevSettings());
  await globalSetup();
  try {
    const scenarios: Array<{ name: string; wrap?: (l: LocalProvider) => SandboxProvider; body: (repo: string, root: string) => Record<string, unknown> }> = [
      { name: 'running', body: (repo) => ({ workspaceId: 'ws-replay', repository: repo, prompt: 'Add a health endpoint' }) },
      { name: 'running-after-agent-retry', wrap: flakyAgentOnce, body: (repo) => ({ workspaceId: 'ws-replay', repository: repo, prompt: 'Fix flaky agent start' }) },
      { name: 'error-repository-not-found', body: (_repo, root) => ({ workspaceId: 'ws-replay', repository: path.join(root, 'missing'), prompt: 'Update docs' }) },
      { name: 'error-branch-taken', body: (repo) => ({ workspaceId: 'ws-replay', repository: repo, prompt: 'Work on main', branchName: 'main' }) },
    ];
    for (const scenario of scenarios) {
      const services = await startServices({ wrapProvider: scenario.wrap });
      try {
        const repo = await createTestRepo(path.join(services.sandboxRoot, 'repo'));
        const created = await postJson(`${services.baseUrl}/v1/tasks`, scenario.body(repo, services.sandboxRoot));
        if (created.status !== 201) throw new Error(`${scenario.name}: create answered ${created.status} ${JSON.stringify(created.body)}`);
        const handle = services.temporal.workflow.getHandle(created.body.workflowId);
        await handle.result().catch(() => undefined);
        // The Temporal CLI writes the standard JSON history format (as the Web UI's download does).
        const json = execFileSync(cli, ['workflow', 'show', '--workflow-id', handle.workflowId, '--output', 'json', '--address', services.stack.temporalAddress, '--namespace', services.stack.namespace], { encoding: 'utf8' });
        const file = path.join(OUT_DIR, `${scenario.name}.json`);
        writeFileSync(file, json);
        process.stdout.write(`recorded ${scenario.name}: ${(JSON.parse(json) as { events: unknown[] }).events.length} events -> ${path.relative(process.cwd(), file)}\n`);
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
