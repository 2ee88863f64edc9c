/**
 * Running commands inside a real provisioned sandbox through its own sandbox-agent's process API
 * (`POST /v1/processes/run`): the same door an agent's tools use, so what a test does this way is what
 * untrusted code in the sandbox can do.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { SandboxDirs } from '../../src/confinement/sandboxConfinement';
import type { TestServices } from '../../src/dev/stack/services';

export interface Sandbox {
  taskId: string;
  sandboxId: string;
  root: string;
  /** Its host directories (src/providers/local/layout.ts). */
  dirs: SandboxDirs;
  baseUrl: string;
  token: string;
}

export interface RunResult {
  exitCode: number | null;
  stdout: string;
  stderr: string;
}

/** The sandbox of `taskId`'s active sandbox row, with its agent's address and token from the host-only record. */
export async function sandboxOf(services: TestServices, taskId: string): Promise<Sandbox> {
  const task = await services.prisma.task.findUniqueOrThrow({ where: { id: taskId } });
  const row = await services.prisma.sandbox.findUniqueOrThrow({ where: { id: task.activeSandboxId! } });
  const dirs = services.local.paths(row.id);
  const agent = JSON.parse(readFileSync(path.join(dirs.host, 'agent.json'), 'utf8')) as { baseUrl: string; token: string };
  return { taskId, sandboxId: row.id, root: dirs.root, dirs, baseUrl: agent.baseUrl, token: agent.token };
}

/** Runs `command args` inside the sandbox through its sandbox-agent's process API. */
export async function run(sandbox: Sandbox, command: string, args: string[]): Promise<RunResult> {
  const res = await fetch(`${sandbox.baseUrl}/v1/processes/run`, {
    method: 'POST',
    headers: { authorization: `Bearer ${sandbox.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ command, args }),
  });
  expect(res.status).toBe(200);
  return (await res.json()) as RunResult;
}

/** Runs a shell script inside the sandbox. */
export const sh = (sandbox: Sandbox, script: string): Promise<RunResult> => run(sandbox, 'sh', ['-c', script]);
