/**
 * Reading tasks within a workspace: one task, a page of a workspace's tasks, a page of a task's
 * history, and its active sandbox. A task of another workspace is reported exactly like a missing one,
 * so its existence does not leak.
 */
import { z } from 'zod';
import type { Prisma, PrismaClient, Sandbox, Task, TaskEvent, TaskLog } from '../generated/prisma/client';
import { DomainError } from './errors';

/**
 * Task `taskId` if it belongs to `workspaceId`.
 * @throws DomainError not_found `task_not_found` (field `taskId`), also for another workspace's task.
 */
export async function findTaskInWorkspace(prisma: PrismaClient, ref: { workspaceId: string; taskId: string }): Promise<Task> {
  const task = await prisma.task.findFirst({ where: { id: ref.taskId, workspaceId: ref.workspaceId } });
  if (!task) throw new DomainError('not_found', 'task_not_found', `no task ${ref.taskId}`, { field: 'taskId' });
  return task;
}

/** Opaque page cursor: base64url of `<createdAt ISO>|<id>` of the last task of the previous page. */
const encodeCursor = (t: { createdAt: Date; id: string }) => Buffer.from(`${t.createdAt.toISOString()}|${t.id}`).toString('base64url');
const cursorShape = z.tuple([z.iso.datetime(), z.string().uuid()]);

/** @throws DomainError invalid `invalid_cursor` (field `cursor`) for a cursor this service did not issue. */
function decodeCursor(cursor: string): { createdAt: Date; id: string } {
  const parsed = cursorShape.safeParse(Buffer.from(cursor, 'base64url').toString().split('|'));
  const createdAt = parsed.success ? new Date(parsed.data[0]) : undefined;
  // Postgres timestamps cover years 4713 BC .. 294276 AD; JavaScript dates a wider range.
  if (!parsed.success || !createdAt || createdAt.getUTCFullYear() < 1 || createdAt.getUTCFullYear() > 9999) {
    throw new DomainError('invalid', 'invalid_cursor', 'cursor is not one this API issued', { field: 'cursor' });
  }
  return { createdAt, id: parsed.data[1] };
}

/**
 * A page of `workspaceId`'s tasks, newest first (by creation time, then id). Archived tasks are left
 * out unless `include` is `archived`.
 * @param page `limit` tasks at most; `cursor` from the previous page's `nextCursor`.
 * @returns the rows and the cursor of the next page (null on the last page).
 * @throws DomainError invalid `invalid_cursor` (field `cursor`).
 */
export async function listTasks(
  prisma: PrismaClient,
  page: { workspaceId: string; limit: number; cursor?: string; include?: 'archived' },
): Promise<{ items: Task[]; nextCursor: string | null }> {
  const after = page.cursor ? decodeCursor(page.cursor) : undefined;
  const where: Prisma.TaskWhereInput = { workspaceId: page.workspaceId };
  if (page.include !== 'archived') where.status = { not: 'archived' };
  if (after) where.OR = [{ createdAt: { lt: after.createdAt } }, { createdAt: after.createdAt, id: { lt: after.id } }];
  const rows = await prisma.task.findMany({ where, orderBy: [{ createdAt: 'desc' }, { id: 'desc' }], take: page.limit + 1 });
  const items = rows.slice(0, page.limit);
  return { items, nextCursor: rows.length > page.limit ? encodeCursor(items[items.length - 1]!) : null };
}

/**
 * A page of `task`'s history, oldest first: events with seq > `after`, at most `limit`.
 * @returns the events and the seq to pass as `after` for the next page (null when none is left).
 */
export async function listTaskEvents(prisma: PrismaClient, task: Task, page: { after: number; limit: number }): Promise<{ items: TaskEvent[]; nextCursor: number | null }> {
  const rows = await prisma.taskEvent.findMany({ where: { taskId: task.id, seq: { gt: page.after } }, orderBy: { seq: 'asc' }, take: page.limit });
  const last = rows[rows.length - 1];
  return { items: rows, nextCursor: last && last.seq < task.lastEventSeq ? last.seq : null };
}

/**
 * A page of `task`'s provisioning log (src/domain/taskLogs.ts): lines with seq above `page.after`,
 * oldest first, at most `page.limit`; `nextCursor` is the last line's seq while newer lines exist.
 */
export async function listTaskLogs(prisma: PrismaClient, task: Task, page: { after: number; limit: number }): Promise<{ items: TaskLog[]; nextCursor: number | null }> {
  const rows = await prisma.taskLog.findMany({ where: { taskId: task.id, seq: { gt: page.after } }, orderBy: { seq: 'asc' }, take: page.limit });
  const last = rows[rows.length - 1];
  return { items: rows, nextCursor: last && last.seq < task.lastLogSeq ? last.seq : null };
}

/**
 * `task`'s active sandbox row.
 * @throws DomainError not_found `sandbox_not_found` while the task has none yet.
 */
export async function activeSandboxOf(prisma: PrismaClient, task: Task): Promise<Sandbox> {
  const sandbox = task.activeSandboxId ? await prisma.sandbox.findUnique({ where: { id: task.activeSandboxId } }) : null;
  if (!sandbox) throw new DomainError('not_found', 'sandbox_not_found', `task ${task.id} has no sandbox yet (status ${task.status})`);
  return sandbox;
}
