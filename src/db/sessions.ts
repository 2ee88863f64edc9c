/**
 * Writes to workbench tabs, each with its task history event in the same transaction (so the task's
 * room sees every change in sequence order): the tab row patch, and transcript appends with a dense
 * per-tab index.
 */
import type { Prisma } from '../generated/prisma/client';
import { toSessionRecord, toTranscriptEntryRecord, type TaskEventType } from '../domain/records';
import type { TaskEventNotifier } from '../realtime/notifier';
import { appendTaskEvent } from './taskEvents';

/**
 * Applies `patch` to tab `sessionId` and records a `type` event carrying the tab as it now is.
 * With `dedupeKey` already used, nothing changes (a retried activity).
 */
export async function updateSession(
  tx: Prisma.TransactionClient,
  notifier: TaskEventNotifier,
  input: { sessionId: string; patch: Prisma.WorkbenchSessionUpdateInput; type: Extract<TaskEventType, `session.${string}`>; dedupeKey: string },
): Promise<void> {
  const current = await tx.workbenchSession.findUniqueOrThrow({ where: { id: input.sessionId }, select: { taskId: true } });
  const done = await tx.taskEvent.findUnique({ where: { taskId_dedupeKey: { taskId: current.taskId, dedupeKey: input.dedupeKey } }, select: { seq: true } });
  if (done) return;
  const session = await tx.workbenchSession.update({ where: { id: input.sessionId }, data: input.patch });
  await appendTaskEvent(tx, notifier, { taskId: session.taskId, type: input.type, payload: { session: toSessionRecord(session) }, dedupeKey: input.dedupeKey });
}

/**
 * Appends one transcript entry to tab `sessionId` with the next index, and a `session.transcript`
 * event. @returns the entry's index.
 */
export async function appendTranscriptEntry(
  tx: Prisma.TransactionClient,
  notifier: TaskEventNotifier,
  input: { sessionId: string; role: 'user' | 'agent'; text: string; replyTo?: number; delivery?: 'pending' },
): Promise<number> {
  const session = await tx.workbenchSession.update({ where: { id: input.sessionId }, data: { lastEntryIndex: { increment: 1 } } });
  const entry = await tx.transcriptEntry.create({
    data: { sessionId: input.sessionId, index: session.lastEntryIndex, role: input.role, text: input.text, replyTo: input.replyTo ?? null, delivery: input.delivery ?? null },
  });
  await appendTaskEvent(tx, notifier, {
    taskId: session.taskId,
    type: 'session.transcript',
    payload: { sessionId: input.sessionId, entry: toTranscriptEntryRecord(entry) },
    dedupeKey: `transcript:${input.sessionId}:${entry.index}`,
  });
  return entry.index;
}
