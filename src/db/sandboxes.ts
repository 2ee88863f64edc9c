/**
 * Sandbox lifecycle writes (docs/PRODUCT.md#sandbox-lifecycle): a state change of the sandbox row, the
 * task's `sandboxState` and a `sandbox.state` history event, in one transaction, so the task's room
 * sees every change in sequence order.
 */
import { randomUUID } from 'node:crypto';
import type { Prisma } from '../generated/prisma/client';
import { SANDBOX_STATE_MESSAGES, type SandboxState, type SandboxStateReason } from '../domain/sandboxLifecycle';
import type { TaskEventNotifier } from './notifier';
import { appendTaskEvent } from './taskEvents';

export interface SandboxStateChange {
  sandboxId: string;
  /** Only from one of these states; otherwise nothing changes. */
  from: readonly SandboxState[];
  to: SandboxState;
  reason: SandboxStateReason;
}

/**
 * Moves sandbox `sandboxId` from one of `from` to `to`, under the row's lock; mirrors it into the
 * task's `sandboxState` when it is the task's active sandbox, and appends `sandbox.state`
 * `{ sandboxId, state, previous, reason, message }`. The `from` check under the lock is what makes a
 * change happen once (a retried activity finds the state changed), so each event gets a key of its own.
 * @returns the previous state when this call changed it, else null (not in `from`, or the row is gone).
 */
export async function changeSandboxState(tx: Prisma.TransactionClient, notifier: TaskEventNotifier, change: SandboxStateChange): Promise<SandboxState | null> {
  const [row] = await tx.$queryRaw<Array<{ state: SandboxState; task_id: string; active: boolean }>>`
    SELECT s.state::text AS state, s.task_id::text AS task_id, t.active_sandbox_id IS NOT DISTINCT FROM s.id AS active
      FROM sandboxes s JOIN tasks t ON t.id = s.task_id
     WHERE s.id = ${change.sandboxId}::uuid FOR UPDATE OF s`;
  if (!row || !change.from.includes(row.state)) return null;
  await tx.sandbox.update({ where: { id: change.sandboxId }, data: { state: change.to } });
  await appendTaskEvent(tx, notifier, {
    taskId: row.task_id,
    type: 'sandbox.state',
    payload: { sandboxId: change.sandboxId, state: change.to, previous: row.state, reason: change.reason, message: SANDBOX_STATE_MESSAGES[change.to] },
    dedupeKey: `sandbox:${change.sandboxId}:${change.to}:${randomUUID()}`,
    patch: row.active ? { sandboxState: change.to } : {},
  });
  return row.state;
}
