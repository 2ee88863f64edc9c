/**
 * Running the service's own processes (API, worker) as children: used by the start command, the
 * benchmark and the tests and scripts that kill or drain a real process.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import path from 'node:path';
import { REPO_ROOT } from './temporalDevServer';

const ENTRY_POINTS = { api: 'src/api/main.ts', worker: 'src/worker/main.ts' } as const;

/**
 * Starts the API or the worker (TypeScript through tsx) with `options` (env, stdio, detached, ...).
 * tsx runs the service in a child of its own: signal the process group (`detached: true`) to reach both.
 * @param nodeArgs flags for node itself (e.g. `--cpu-prof`); then node runs the entry point with tsx as its loader, in one process.
 */
export function spawnService(role: keyof typeof ENTRY_POINTS, options: SpawnOptions, nodeArgs?: string[]): ChildProcess {
  const entry = path.join(REPO_ROOT, ENTRY_POINTS[role]);
  // With node flags (e.g. --cpu-prof, which NODE_OPTIONS refuses): node itself, with tsx as its loader.
  if (nodeArgs) return spawn(process.execPath, [...nodeArgs, '--import', 'tsx', entry], options);
  return spawn(path.join(REPO_ROOT, 'node_modules', '.bin', 'tsx'), [entry], options);
}

/**
 * Resolves once `GET <baseUrl>/healthz` answers 200.
 * @throws after `timeoutMs` (default 60 s).
 */
export async function waitForHealth(baseUrl: string, timeoutMs = 60_000): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; ; await new Promise((r) => setTimeout(r, 100))) {
    if (
      await fetch(`${baseUrl}/healthz`)
        .then((r) => r.ok)
        .catch(() => false)
    )
      return;
    if (Date.now() > deadline) throw new Error(`${baseUrl} did not become healthy within ${timeoutMs} ms`);
  }
}
