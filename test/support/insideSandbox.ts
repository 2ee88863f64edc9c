/**
 * Running commands inside a real provisioned sandbox through its own sandbox-agent's process API
 * (`POST /v1/processes/run`): the same door an agent's tools use, so what a test does this way is what
 * untrusted code in the sandbox can do.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { SandboxDirs } from '../../src/confinement/sandboxConfinement';
import type { TestServices } from '../../src/dev/stack/services';
import { agentFetch, type AgentTarget } from '../../src/providers/local/agentHttp';

export interface Sandbox {
  taskId: string;
  sandboxId: string;
  root: string;
  /** Its host directories (src/providers/local/layout.ts). */
  dirs: SandboxDirs;
  /** How the host reaches its sandbox-agent (the host-only agent.json). */
  agent: AgentTarget;
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
  // The local provider of the host that holds it (a suite may run several: src/hosts).
  const dirs = (services.hosts.find((h) => h.id === row.hostId)?.local ?? services.local).paths(row.id);
  const agent = JSON.parse(readFileSync(path.join(dirs.host, 'agent.json'), 'utf8')) as AgentTarget;
  return { taskId, sandboxId: row.id, root: dirs.root, dirs, agent };
}

/** Runs `command args` inside the sandbox through its sandbox-agent's process API. */
export async function run(sandbox: Sandbox, command: string, args: string[]): Promise<RunResult> {
  const res = await agentFetch(sandbox.agent, `${sandbox.agent.baseUrl}/v1/processes/run`, 'application/json', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ command, args }),
  });
  expect(res.status).toBe(200);
  return (await res.json()) as RunResult;
}

/** Runs a shell script inside the sandbox. */
export const sh = (sandbox: Sandbox, script: string): Promise<RunResult> => run(sandbox, 'sh', ['-c', script]);
