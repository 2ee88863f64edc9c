/**
 * The `task_logs` table (src/domain/taskLogs.ts): appending a batch of lines with the task's next
 * sequence numbers, bounding the task's log, and reading it back.
 */
import { Prisma, type PrismaClient, type TaskLog } from '../generated/prisma/client';
import type { ProvisionStep } from '../domain/status';
import type { TaskLogSource } from '../domain/taskLogs';
import { TASK_LOGS_CHANNEL } from './notifier';

/** One line to append (already cleaned: src/taskLogs/redaction.ts). */
export interface NewTaskLogLine {
  step: ProvisionStep;
  attempt: number;
  source: TaskLogSource;
  line: string;
}

/**
 * Appends `lines` to `taskId`'s log in ONE statement: takes the task's next `lines.length` sequence
 * numbers (`tasks.last_log_seq`, under the row lock, so concurrent writers of one task never collide),
 * inserts the lines, deletes the task's lines older than the newest `keep`, and queues a
 * `task_logs` notice ({@link TASK_LOGS_CHANNEL}: `{taskId, fromSeq, toSeq}`) that Postgres delivers on
 * commit. The task row's `updated_at` is left alone.
 * @returns the sequence numbers given, or null when the task does not exist (nothing is written).
 * @throws Prisma's errors when Postgres fails (nothing is written then).
 */
export async function appendTaskLogLines(
  client: Pick<PrismaClient, '$queryRaw'>,
  taskId: string,
  lines: readonly NewTaskLogLine[],
  keep: number,
): Promise<{ fromSeq: number; toSeq: number } | null> {
  if (lines.length === 0) return null;
  const n = lines.length;
  const rows = JSON.stringify(lines.map((l, i) => ({ ...l, ord: i + 1 })));
  const notice = Prisma.sql`json_build_object('taskId', t.id, 'fromSeq', t.last_log_seq - ${n} + 1, 'toSeq', t.last_log_seq)::text`;
  const result = await client.$queryRaw<Array<{ toSeq: number }>>`
    WITH t AS (
      UPDATE tasks SET last_log_seq = last_log_seq + ${n} WHERE id = ${taskId}::uuid RETURNING id, last_log_seq
    ), ins AS (
      INSERT INTO task_logs (task_id, seq, step, attempt, source, line)
      SELECT t.id, t.last_log_seq - ${n} + x.ord, x.step, x.attempt, x.source, x.line
      FROM t, jsonb_to_recordset(${rows}::jsonb) AS x(ord int, step text, attempt int, source text, line text)
    ), del AS (
      DELETE FROM task_logs d USING t WHERE d.task_id = t.id AND d.seq <= t.last_log_seq - ${keep}
    )
    SELECT t.last_log_seq AS "toSeq", pg_notify(${TASK_LOGS_CHANNEL}, ${notice})::text IS NOT NULL AS "notified" FROM t`;
  const row = result[0];
  return row ? { fromSeq: row.toSeq - n + 1, toSeq: row.toSeq } : null;
}

/** Lines `fromSeq`..`toSeq` of a task (those still kept), oldest first: what one notice announced. */
export function readTaskLogLines(prisma: PrismaClient, taskId: string, fromSeq: number, toSeq: number): Promise<TaskLog[]> {
  return prisma.taskLog.findMany({ where: { taskId, seq: { gte: fromSeq, lte: toSeq } }, orderBy: { seq: 'asc' } });
}

/** Lines of the tasks `taskIds` written at or after `since` (database clock), by task and seq: what a LISTEN outage may have hidden. */
export function taskLogLinesSince(prisma: PrismaClient, taskIds: readonly string[], since: Date): Promise<TaskLog[]> {
  return prisma.taskLog.findMany({ where: { taskId: { in: [...taskIds] }, createdAt: { gte: since } }, orderBy: [{ taskId: 'asc' }, { seq: 'asc' }] });
}

/** The last `count` lines `step` wrote in `taskId`'s log, oldest first: what a failed step leaves with its `task.error` event. */
export async function lastLinesOfStep(client: Pick<PrismaClient, 'taskLog'>, taskId: string, step: ProvisionStep, count: number): Promise<TaskLog[]> {
  const rows = await client.taskLog.findMany({ where: { taskId, step }, orderBy: { seq: 'desc' }, take: count });
  return rows.reverse();
}
