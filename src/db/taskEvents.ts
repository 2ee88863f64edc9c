/**
 * The one way a task's state changes: in one transaction, patch the task row, append a history event
 * with the next per-task sequence number, and queue a notification that Postgres delivers on commit.
 * Used by the API (task.created) and by the workflow's mirror activity (every transition).
 */
import type { Prisma } from '../generated/prisma/client';
import type { TaskEventType } from '../domain/records';
import type { TaskEventNotifier } from '../realtime/notifier';

export interface AppendTaskEventInput {
  taskId: string;
  type: TaskEventType;
  payload: Record<string, unknown>;
  /**
   * Deterministic key of the transition (e.g. `step:init_create_sandbox:started`). A second call with
   * the same key (a retried or replayed activity) changes nothing and returns the first event's seq.
   */
  dedupeKey: string;
  /** Task columns to update together with the event. */
  patch?: Prisma.TaskUpdateInput;
}

/**
 * Appends one history event (and applies `patch`) inside the caller's transaction.
 * @returns the event's sequence number and whether this call wrote it.
 * @throws Prisma's P2025 when the task does not exist.
 */
export async function appendTaskEvent(
  tx: Prisma.TransactionClient,
  notifier: TaskEventNotifier,
  input: AppendTaskEventInput,
): Promise<{ seq: number; created: boolean }> {
  const existing = await tx.taskEvent.findUnique({
    where: { taskId_dedupeKey: { taskId: input.taskId, dedupeKey: input.dedupeKey } },
    select: { seq: true },
  });
  if (existing) return { seq: existing.seq, created: false };
  // The update takes the row lock, so concurrent appends to one task get consecutive numbers.
  const task = await tx.task.update({
    where: { id: input.taskId },
    data: { ...input.patch, lastEventSeq: { increment: 1 } },
    select: { lastEventSeq: true, workspaceId: true },
  });
  await tx.taskEvent.create({
    data: {
      taskId: input.taskId,
      seq: task.lastEventSeq,
      type: input.type,
      payload: input.payload as Prisma.InputJsonValue,
      dedupeKey: input.dedupeKey,
    },
  });
  await notifier.notifyInTransaction(tx, { taskId: input.taskId, workspaceId: task.workspaceId, seq: task.lastEventSeq });
  return { seq: task.lastEventSeq, created: true };
}
