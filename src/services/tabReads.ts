/**
 * Reading workbench tabs within a workspace: one tab, a task's open tabs, a page of a tab's transcript.
 * A tab of another workspace's task is reported exactly like a missing one.
 */
import type { PrismaClient, Task, TranscriptEntry, WorkbenchSession } from '../generated/prisma/client';
import { DomainError } from './errors';

/**
 * Tab `sessionId` of task `taskId`, if the task belongs to `workspaceId`.
 * @throws DomainError not_found `session_not_found` (field `sessionId`): no such tab on that task, the
 *   task does not exist, or it belongs to another workspace.
 */
export async function findTabInWorkspace(prisma: PrismaClient, ref: { workspaceId: string; taskId: string; sessionId: string }): Promise<WorkbenchSession> {
  const session = await prisma.workbenchSession.findFirst({ where: { id: ref.sessionId, taskId: ref.taskId, task: { workspaceId: ref.workspaceId } } });
  if (!session) throw new DomainError('not_found', 'session_not_found', `no session ${ref.sessionId} on task ${ref.taskId}`, { field: 'sessionId' });
  return session;
}

/** `task`'s open (not closed) tabs in creation order. */
export function listOpenTabs(prisma: PrismaClient, task: Task): Promise<WorkbenchSession[]> {
  return prisma.workbenchSession.findMany({ where: { taskId: task.id, closed: false }, orderBy: { ordinal: 'asc' } });
}

/**
 * A page of `session`'s transcript, oldest first: entries with index > `after`, at most `limit`.
 * @returns the entries and the index to pass as `after` for the next page (null when none is left).
 */
export async function tabTranscript(
  prisma: PrismaClient,
  session: WorkbenchSession,
  page: { after: number; limit: number },
): Promise<{ items: TranscriptEntry[]; nextCursor: number | null }> {
  const rows = await prisma.transcriptEntry.findMany({ where: { sessionId: session.id, index: { gt: page.after } }, orderBy: { index: 'asc' }, take: page.limit });
  const last = rows[rows.length - 1];
  return { items: rows, nextCursor: last && last.index < session.lastEntryIndex ? last.index : null };
}
