/**
 * Socket.IO contract for clients (frontend, demo):
 *
 *   client -> server  `subscribe`   { taskId, afterSeq? } | { workspaceId }, with an ack callback
 *   server -> client  ack           { ok: true, task: TaskRecord }  for a task (its current record, read
 *                                   AFTER joining the room, so no event falls between the record and
 *                                   the first pushed event; drop pushed events with seq <= task.lastEventSeq)
 *                                   With `afterSeq` (the last seq the client saw, e.g. after a reconnect)
 *                                   every later event is first replayed from Postgres as `task.event`,
 *                                   in order, each exactly once with the live ones; the ack then also
 *                                   carries `replayed` (how many were sent). Replayed messages carry
 *                                   the task as it is now.
 *                                   { ok: true }                     for a workspace
 *                                   { ok: false, error: { code, message, field? } }  on bad input / unknown task;
 *                                   code `database_unavailable` (with `retryAfterSeconds`) while Postgres is down
 *   client -> server  `unsubscribe` same payloads
 *   server -> client  `task.event`  TaskEventMessage { task, event } in per-task sequence order
 *
 * Rooms: `task:<taskId>` and `workspace:<workspaceId>`.
 *
 * Authentication: the handshake carries the bearer token as `auth: { token }` (or an
 * `Authorization: Bearer` header); without a known token the connection is refused with the error
 * message `unauthorized`. A socket may only subscribe to its token's workspace and its tasks: another
 * workspace's task acks `task_not_found`, another workspace `workspace_forbidden`. A task subscription
 * is authorized before the socket joins the task's room, so a refused socket never receives its events.
 */
import type { Server as HttpServer } from 'node:http';
import { Server, type Socket } from 'socket.io';
import { z } from 'zod';
import type { PrismaClient, Task } from '../generated/prisma/client';
import { taskRoom, toTaskEventRecord, toTaskRecord, workspaceRoom } from '../domain/records';
import { catchUp } from './delivery';
import type { Logger } from '../logger';
import { bearerToken, type TokenResolver } from '../auth/tokens';
import { asDomainError, type DomainError } from '../services/errors';
import { findTaskInWorkspace, listTaskEvents } from '../services/taskReads';

const subscription = z.union([
  z
    .object({
      taskId: z
        .string()
        .uuid()
        .transform((id) => id.toLowerCase()),
      afterSeq: z.number().int().min(0).optional(),
    })
    .strict(),
  z.object({ workspaceId: z.string().min(1).max(100) }).strict(),
]);

type Ack = (response: unknown) => void;

/** Events replayed per read of a catch-up. */
const CATCH_UP_PAGE = 500;

/**
 * A failed subscribe's ack from the use case's DomainError (the mapping REST uses too, src/api/errors.ts
 * for its statuses): code and message unchanged, the field as the subscribe payload names it, the
 * retry delay of an unavailable dependency.
 */
function ackErrorOf(err: DomainError): { ok: false; error: { code: string; message: string; field?: string; retryAfterSeconds?: number } } {
  return { ok: false, error: { code: err.code, message: err.message, field: err.field, retryAfterSeconds: err.retryAfterSeconds } };
}

export function createSocketServer(httpServer: HttpServer, deps: { prisma: PrismaClient; logger: Logger; resolveToken: TokenResolver }): Server {
  const io = new Server(httpServer, { serveClient: false });
  io.use((socket, next) => {
    const presented = typeof socket.handshake.auth?.token === 'string' ? socket.handshake.auth.token : bearerToken(socket.handshake.headers.authorization);
    const workspaceId = presented ? deps.resolveToken(presented) : null;
    if (!workspaceId) return next(new Error('unauthorized'));
    socket.data.workspaceId = workspaceId;
    next();
  });
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
          const { taskId, afterSeq } = parsed.data;
          const room = taskRoom(taskId);
          // The same reads as REST (src/services/taskReads.ts). Authorized before joining (a task's
          // workspace never changes): another workspace's socket never enters the room.
          const ref = { workspaceId: socket.data.workspaceId as string, taskId };
          await findTaskInWorkspace(deps.prisma, ref);
          if (afterSeq === undefined) {
            // Joined before the read, so no event falls between the record and the first pushed event.
            await socket.join(room);
            return reply({ ok: true, task: toTaskRecord(await findTaskInWorkspace(deps.prisma, ref)) });
          }
          let snapshot: Task | null = null;
          const replayed = await catchUp(socket, taskId, afterSeq, async (after) => {
            await socket.join(room); // joined before the first read: live events meanwhile are held back, not lost
            // The record first, then the events: a task's events commit with its row, so the events read
            // cover the record's lastEventSeq and the ack (the client's snapshot) never claims an event
            // it was not sent. Events committed after the record come live, through the room.
            const current = await findTaskInWorkspace(deps.prisma, ref);
            const { items } = await listTaskEvents(deps.prisma, current, { after, limit: CATCH_UP_PAGE });
            snapshot = current;
            return items.map((e) => ({ task: toTaskRecord(current), event: toTaskEventRecord(e) }));
          });
          const current = snapshot ?? (await findTaskInWorkspace(deps.prisma, ref));
          return reply({ ok: true, task: toTaskRecord(current), replayed });
        }
        if (parsed.data.workspaceId !== socket.data.workspaceId) {
          return reply({ ok: false, error: { code: 'workspace_forbidden', message: 'this token is bound to another workspace', field: 'workspaceId' } });
        }
        await socket.join(workspaceRoom(parsed.data.workspaceId));
        return reply({ ok: true });
      } catch (err) {
        const domain = asDomainError(err);
        if (domain) {
          if (domain.kind === 'unavailable') deps.logger.warn({ err }, `subscribe failed: ${domain.code}`);
          return reply(ackErrorOf(domain));
        }
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
