/**
 * API-side relay of provisioning logs (src/domain/taskLogs.ts): LISTENs on `task_logs` (on the API's one
 * LISTEN connection, ./realtimeRelays.ts)
 * (../db/notifier.ts: each committed batch of lines announces `{taskId, fromSeq, toSeq}`), reads those
 * lines and emits one `task.log` message to the task's Socket.IO room. Notices are handled one at a
 * time in arrival order (Postgres delivers them in commit order), so a room gets a task's lines by seq.
 *
 * Logs are advisory and clients hold them by seq: a client that sees a gap in `seq`, or that
 * (re)subscribes, reads what it lacks with `GET /v1/tasks/:id/logs?after=` (the page does). The relay
 * still tries not to leave gaps: after a LISTEN outage it sends every room of a task the lines written
 * since the outage began (clients drop the seqs they have). A notice whose lines cannot be read after
 * a few retries is skipped and logged.
 */
import type { PrismaClient } from '../generated/prisma/client';
import { taskRoom } from '../domain/records';
import { toTaskLogRecord } from '../domain/taskLogs';
import { readTaskLogLines, taskLogLinesSince } from '../db/taskLogs';
import { TASK_LOGS_CHANNEL, type TaskLogNotice } from '../db/notifier';
import type { Logger } from '../logger';
import type { RealtimeServer } from './contract';
import { retryWithBackoff, RetryAbortedError } from './backoff';
import type { ChannelRelay } from './realtimeRelays';

/** Retries of reading one notice's lines before it is skipped. */
const NOTICE_READ_RETRIES = 4;
/** Margin before an outage's start from which lines are sent again, ms (a line's `created_at` is its transaction's start). */
const CATCH_UP_MARGIN_MS = 5_000;
const TASK_ROOM_PREFIX = taskRoom('');

/** The relay of `task_logs` notices, for the API's shared LISTEN connection (./realtimeRelays.ts): nothing runs until a notice or an outage reaches it. */
export function createTaskLogRelay(deps: { prisma: PrismaClient; io: RealtimeServer; logger: Logger }): ChannelRelay {
  const { prisma, io, logger } = deps;
  const abort = new AbortController();
  let chain: Promise<void> = Promise.resolve();
  const enqueue = (job: () => Promise<void>, what: string) => {
    chain = chain.then(job).catch((err) => {
      if (!(err instanceof RetryAbortedError)) logger.warn({ err }, `${what} failed; clients read the lines they lack from GET /v1/tasks/:id/logs`);
    });
  };
  const emit = (taskId: string, rows: Awaited<ReturnType<typeof readTaskLogLines>>) => {
    if (rows.length) io.to(taskRoom(taskId)).emit('task.log', { taskId, lines: rows.map(toTaskLogRecord) });
  };

  const relayNotice = async (payload: string) => {
    const notice = JSON.parse(payload) as TaskLogNotice;
    if (!io.of('/').adapter.rooms.has(taskRoom(notice.taskId))) return; // nobody watches this task here
    const rows = await retryWithBackoff(() => readTaskLogLines(prisma, notice.taskId, notice.fromSeq, notice.toSeq), { signal: abort.signal, retries: NOTICE_READ_RETRIES });
    emit(notice.taskId, rows);
  };

  const catchUp = async (since: Date) => {
    const taskIds = [...io.of('/').adapter.rooms.keys()].filter((room) => room.startsWith(TASK_ROOM_PREFIX)).map((room) => room.slice(TASK_ROOM_PREFIX.length));
    if (taskIds.length === 0) return;
    const rows = await retryWithBackoff(() => taskLogLinesSince(prisma, taskIds, since), { signal: abort.signal, retries: NOTICE_READ_RETRIES });
    for (const taskId of taskIds)
      emit(
        taskId,
        rows.filter((row) => row.taskId === taskId),
      );
  };

  return {
    channel: TASK_LOGS_CHANNEL,
    onNotification: (payload) => enqueue(() => relayNotice(payload), 'relaying provisioning log lines'),
    onDown: () => undefined, // lines written meanwhile are sent once LISTEN is back (onUp)
    onUp: ({ missedSince }) => enqueue(() => catchUp(new Date(missedSince.getTime() - CATCH_UP_MARGIN_MS)), 'catching up on provisioning log lines'),
    async close() {
      abort.abort();
      await chain;
    },
  };
}
