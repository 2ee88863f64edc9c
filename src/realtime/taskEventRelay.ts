/**
 * API-side relay: LISTENs on Postgres for task event notices (see ./notifier.ts), reads each event and
 * the task as it stands from Postgres, and emits `task.event` to the task's and the workspace's
 * Socket.IO rooms. Every API process runs one, so several API processes can serve clients of the same
 * tasks without a Socket.IO adapter.
 *
 * Notices are handled one at a time in arrival order (Postgres delivers them in commit order), so a
 * client sees a task's events in sequence order.
 */
import { Client } from 'pg';
import type { Server } from 'socket.io';
import type { PrismaClient } from '../generated/prisma/client';
import { taskRoom, toTaskEventRecord, toTaskRecord, workspaceRoom, type TaskEventMessage } from '../domain/records';
import type { Logger } from '../logger';
import { deliver } from './delivery';
import { TASK_EVENTS_CHANNEL, type TaskEventNotice } from './notifier';

export interface TaskEventRelay {
  /** Resolves once LISTEN is active. */
  ready: Promise<void>;
  close(): Promise<void>;
}

export function startTaskEventRelay(deps: {
  databaseUrl: string;
  prisma: PrismaClient;
  io: Server;
  logger: Logger;
}): TaskEventRelay {
  const { prisma, io, logger } = deps;
  let client: Client | undefined;
  let closed = false;
  let chain: Promise<void> = Promise.resolve();

  const relay = async (notice: TaskEventNotice) => {
    const [task, event] = await Promise.all([
      prisma.task.findUnique({ where: { id: notice.taskId } }),
      prisma.taskEvent.findUnique({ where: { taskId_seq: { taskId: notice.taskId, seq: notice.seq } } }),
    ]);
    if (!task || !event) return;
    const message: TaskEventMessage = { task: toTaskRecord(task), event: toTaskEventRecord(event) };
    // Per socket rather than a room broadcast, so a socket replaying missed events gets each event once.
    for (const socket of await io.in([taskRoom(task.id), workspaceRoom(task.workspaceId)]).fetchSockets()) deliver(socket, message);
  };

  const connect = async (): Promise<void> => {
    const c = new Client({ connectionString: deps.databaseUrl });
    c.on('notification', (msg) => {
      if (msg.channel !== TASK_EVENTS_CHANNEL || !msg.payload) return;
      const notice = JSON.parse(msg.payload) as TaskEventNotice;
      chain = chain.then(() => relay(notice)).catch((err) => logger.error({ err, notice }, 'relaying task event failed'));
    });
    c.on('error', (err) => {
      logger.error({ err }, 'task event listener lost its connection; reconnecting');
      c.end().catch(() => undefined);
      if (!closed) setTimeout(() => void connect().catch(() => undefined), 1000);
    });
    await c.connect();
    await c.query(`LISTEN ${TASK_EVENTS_CHANNEL}`);
    client = c;
  };

  return {
    ready: connect(),
    async close() {
      closed = true;
      await client?.end().catch(() => undefined);
      await chain;
    },
  };
}
