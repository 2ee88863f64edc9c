/**
 * Socket.IO contract for clients (frontend, demo):
 *
 *   client -> server  `subscribe`   { taskId } | { workspaceId }, with an ack callback
 *   server -> client  ack           { ok: true, task: TaskRecord }  for a task (its current record, read
 *                                   AFTER joining the room, so no event falls between the record and
 *                                   the first pushed event; drop pushed events with seq <= task.lastEventSeq)
 *                                   { ok: true }                     for a workspace
 *                                   { ok: false, error: { code, message, field? } }  on bad input / unknown task
 *   client -> server  `unsubscribe` same payloads
 *   server -> client  `task.event`  TaskEventMessage { task, event } in per-task sequence order
 *
 * Rooms: `task:<taskId>` and `workspace:<workspaceId>`.
 */
import type { Server as HttpServer } from 'node:http';
import { Server, type Socket } from 'socket.io';
import { z } from 'zod';
import type { PrismaClient } from '../generated/prisma/client';
import { taskRoom, toTaskRecord, workspaceRoom } from '../domain/records';
import type { Logger } from '../logger';

const subscription = z.union([
  z.object({ taskId: z.string().uuid().transform((id) => id.toLowerCase()) }).strict(),
  z.object({ workspaceId: z.string().min(1).max(100) }).strict(),
]);

type Ack = (response: unknown) => void;

export function createSocketServer(httpServer: HttpServer, deps: { prisma: PrismaClient; logger: Logger }): Server {
  const io = new Server(httpServer, { serveClient: false });
  io.on('connection', (socket: Socket) => {
    socket.on('subscribe', async (...args: unknown[]) => {
      // The ack callback is the last argument, also when the client sent no payload at all.
      const ack = typeof args[args.length - 1] === 'function' ? (args.pop() as Ack) : undefined;
      const raw = args[0];
      const reply: Ack = ack ?? (() => undefined);
      const parsed = subscription.safeParse(raw);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        return reply({ ok: false, error: { code: 'invalid_subscription', message: 'expected { taskId: uuid } or { workspaceId }', field: issue?.path.join('.') || undefined } });
      }
      try {
        if ('taskId' in parsed.data) {
          const room = taskRoom(parsed.data.taskId);
          await socket.join(room);
          const task = await deps.prisma.task.findUnique({ where: { id: parsed.data.taskId } });
          if (!task) {
            await socket.leave(room);
            return reply({ ok: false, error: { code: 'task_not_found', message: 'no such task', field: 'taskId' } });
          }
          return reply({ ok: true, task: toTaskRecord(task) });
        }
        await socket.join(workspaceRoom(parsed.data.workspaceId));
        return reply({ ok: true });
      } catch (err) {
        deps.logger.error({ err }, 'subscribe failed');
        return reply({ ok: false, error: { code: 'internal', message: 'subscribe failed' } });
      }
    });
    socket.on('unsubscribe', async (...args: unknown[]) => {
      const ack = typeof args[args.length - 1] === 'function' ? (args.pop() as Ack) : undefined;
      const raw = args[0];
      const parsed = subscription.safeParse(raw);
      if (parsed.success) {
        await socket.leave('taskId' in parsed.data ? taskRoom(parsed.data.taskId) : workspaceRoom(parsed.data.workspaceId));
      }
      if (typeof ack === 'function') ack({ ok: parsed.success });
    });
  });
  return io;
}
