/**
 * A user's stop and resume of a running task's sandbox (POST /v1/tasks/:id/stop and /resume;
 * docs/PRODUCT.md#sandbox-lifecycle). Both only hand a command to the sandbox's lifecycle run
 * (src/workflows/sandboxLifecycle.ts) and return: the state changes arrive as `sandbox.state` events.
 */
import type { Task } from '../generated/prisma/client';
import type { SandboxLifecycleCommand } from '../temporal/client';
import { signalSandboxLifecycle } from '../temporal/client';
import { isSandboxReady } from '../domain/status';
import type { ServiceDeps } from './deps';
import { DomainError } from './errors';

export interface SandboxControlDeps extends ServiceDeps {
  /** Idle stop (ms, 0 = never) of a lifecycle run this starts (SANDBOX_IDLE_STOP_MINUTES). */
  idleStopMs: number;
}

/**
 * Asks for the task's sandbox to be stopped (its processes end, its files stay; the next use wakes it).
 * A sandbox asleep already, or going to sleep, is left as it is.
 * @returns the task row (unchanged: the stop runs in the background).
 * @throws DomainError conflict `task_not_running` (the task is not `running`) | conflict
 *   `sandbox_not_stoppable` (it is waking, lost or gone) | unavailable `workflow_unavailable` (Temporal
 *   did not take the command).
 */
export async function stopTaskSandbox(deps: SandboxControlDeps, task: Task): Promise<Task> {
  const sandbox = await activeSandbox(deps, task);
  if (sandbox.state === 'stopped' || sandbox.state === 'stopping') return task;
  if (sandbox.state !== 'ready') throw new DomainError('conflict', 'sandbox_not_stoppable', `the sandbox is ${sandbox.state}; only a ready sandbox can be stopped`);
  await command(deps, task, sandbox.id, { kind: 'stop' });
  return task;
}

/**
 * Asks for the task's sandbox to be resumed (its sandbox-agent started again in the same files). A
 * sandbox that is ready or waking already is left as it is.
 * @returns the task row (unchanged: the resume runs in the background).
 * @throws DomainError conflict `task_not_running` | conflict `sandbox_lost` (its files are gone) |
 *   unavailable `workflow_unavailable`.
 */
export async function resumeTaskSandbox(deps: SandboxControlDeps, task: Task): Promise<Task> {
  const sandbox = await activeSandbox(deps, task);
  if (sandbox.state === 'resuming') return task;
  if (sandbox.state === 'lost') throw new DomainError('conflict', 'sandbox_lost', 'the sandbox cannot be resumed: its files are gone');
  await command(deps, task, sandbox.id, { kind: 'resume', reason: 'requested' });
  return task;
}

async function activeSandbox(deps: ServiceDeps, task: Task) {
  const notRunning = new DomainError('conflict', 'task_not_running', `the task is ${task.status}; only a running task's sandbox can be stopped or resumed`);
  if (!isSandboxReady(task.status) || !task.activeSandboxId) throw notRunning;
  const sandbox = await deps.prisma.sandbox.findUnique({ where: { id: task.activeSandboxId }, select: { id: true, state: true } });
  if (!sandbox || sandbox.state === 'destroyed') throw notRunning;
  return sandbox;
}

async function command(deps: SandboxControlDeps, task: Task, sandboxId: string, cmd: SandboxLifecycleCommand): Promise<void> {
  try {
    await signalSandboxLifecycle(
      deps.temporal,
      { taskQueue: deps.taskQueue, input: { taskId: task.id, sandboxId, idleStopMs: deps.idleStopMs }, workspaceId: task.workspaceId },
      cmd,
    );
  } catch (err) {
    deps.logger.error({ err, taskId: task.id, command: cmd.kind }, 'the sandbox lifecycle command was not accepted');
    throw new DomainError('unavailable', 'workflow_unavailable', 'the sandbox command could not be handed to Temporal; try again shortly', { retryAfterSeconds: 5 });
  }
}
