/**
 * Opening a workbench tab on a task. Nothing is provisioned and no agent session is opened here: the
 * tab row is committed as a placeholder and the tab's `workbenchSession` run does the rest.
 */
import type { Task, WorkbenchSession } from '../generated/prisma/client';
import { startUnlessRunning, startWorkbenchSession } from '../temporal/client';
import { isReleased } from '../domain/status';
import type { ServiceDeps } from './deps';
import { DomainError } from './errors';
import { createIdempotently } from './idempotency';
import { insertTab } from './insertTab';

/** A request to open a tab: its agent (default the task's) and model. */
export interface OpenTabInput {
  agent?: string;
  model?: string;
}

/**
 * Opens a tab on `task` (status `pending_provision` while the task has no ready sandbox, else
 * `pending_session_create`) and starts its run. With `idempotencyKey` (unique per task) a repeat
 * returns the first request's tab and opens nothing.
 * @returns the tab, and whether it is the first request's (`replayed`).
 * @throws DomainError conflict `task_closed` for a killed or archived task | mismatch
 *   `idempotency_key_reused` (field `idempotencyKey`) | unavailable `workflow_start_failed` when the
 *   run could not be started (the tab row is removed again).
 */
export async function openTab(deps: ServiceDeps, task: Task, input: OpenTabInput & { idempotencyKey?: string }): Promise<{ session: WorkbenchSession; replayed: boolean }> {
  if (isReleased(task.status)) throw new DomainError('conflict', 'task_closed', `task is ${task.status}`);
  const { idempotencyKey, ...request } = input;
  const outcome = await createIdempotently(deps.prisma, {
    scope: `sessions:${task.id}`,
    key: idempotencyKey,
    request,
    create: (tx) => insertTab(tx, deps.notifier, { task, agent: input.agent ?? task.agentType, model: input.model }),
    bindTo: (created) => ({ sessionId: created.id }),
    replay: (tx, first) => tx.workbenchSession.findUniqueOrThrow({ where: { id: first.sessionId! } }),
  });
  if (outcome.replayed) return { session: outcome.value, replayed: true };
  const session = outcome.value;
  try {
    await startUnlessRunning(() =>
      startWorkbenchSession(deps.temporal, { task, tabName: session.name, sessionId: session.id, workflowId: session.workflowId, taskQueue: deps.taskQueue }),
    );
  } catch (err) {
    deps.logger.error({ err, sessionId: session.id }, 'starting workbenchSession failed; removing the tab');
    await deps.prisma.workbenchSession.delete({ where: { id: session.id } }).catch(() => undefined);
    throw new DomainError('unavailable', 'workflow_start_failed', 'the tab could not be opened; try again');
  }
  return { session, replayed: false };
}
