/**
 * Cross-process notification that a task has a new history event.
 *
 * Writers (API and worker processes) call `pg_notify` inside the transaction that appends the
 * event, so Postgres delivers the notification only if, and right after, that transaction commits:
 * no event is announced that was rolled back, and none committed goes unannounced to a listening
 * API. The payload is small ({taskId, workspaceId, seq}, far below NOTIFY's 8000-byte limit); the
 * relay reads the event itself from Postgres.
 */
import type { Prisma } from '../generated/prisma/client';

export const TASK_EVENTS_CHANNEL = 'task_events';

export interface TaskEventNotice {
  taskId: string;
  workspaceId: string;
  seq: number;
}

export interface TaskEventNotifier {
  /** Queues `notice` for delivery when `tx` commits. */
  notifyInTransaction(tx: Prisma.TransactionClient, notice: TaskEventNotice): Promise<void>;
}

/** Channel of provisioning log notices (src/db/taskLogs.ts): lines `fromSeq`..`toSeq` of a task were committed. */
export const TASK_LOGS_CHANNEL = 'task_logs';

/** A provisioning log notice: small, the relay reads the lines themselves (src/realtime/taskLogRelay.ts). */
export interface TaskLogNotice {
  taskId: string;
  fromSeq: number;
  toSeq: number;
}

/** The Postgres LISTEN/NOTIFY notifier used in production and in tests. */
export const pgNotifier: TaskEventNotifier = {
  async notifyInTransaction(tx, notice) {
    await tx.$executeRaw`SELECT pg_notify(${TASK_EVENTS_CHANNEL}, ${JSON.stringify(notice)})`;
  },
};
