/**
 * The Socket.IO server: handshake authentication and `subscribe` / `unsubscribe` (docs/REALTIME.md
 * describes the protocol; ./contract.ts types both ends with the typed client's event maps).
 *
 * Authentication: the handshake carries the bearer token as `auth: { token }` (or an
 * `Authorization: Bearer` header); without a known token the connection is refused with the error
 * message `unauthorized`. A socket may only subscribe to its token's workspace and its tasks: another
 * workspace's task acks `task_not_found`, another workspace `workspace_forbidden`. A task subscription
 * is authorized before the socket joins the task's room, so a refused socket never receives its events.
 * A task's snapshot is read after joining its room, so no event falls between the record and the first
 * pushed event; with `afterSeq`, the missed events are replayed first (./delivery.ts).
 */
import type { Server as HttpServer } from 'node:http';
import { Server } from 'socket.io';
import type { PrismaClient, Task } from '../generated/prisma/client';
import { taskRoom, toTaskRecord, workspaceRoom } from '../domain/records';
import { toTaskEventRecord } from '../domain/events';
import { catchUp } from './delivery';
import type { RealtimeServer, RealtimeSocket, SubscribeAck, UnsubscribeAck } from './contract';
import { subscribeErrorCode, subscribeRequest } from './subscription';
import type { Logger } from '../logger';
import { bearerToken, type TokenResolver } from '../auth/tokens';
import { asDomainError, type DomainError } from '../services/errors';
import { findTaskInWorkspace, listTaskEvents } from '../services/taskReads';

/** Events replayed per read of a catch-up. */
const CATCH_UP_PAGE = 500;

/**
 * A failed subscribe's ack from the use case's DomainError (the mapping REST uses too, src/api/errors.ts
 * for its statuses): code and message unchanged, the field as the subscribe payload names it, the
 * retry delay of an unavailable dependency.
 */
function ackErrorOf(err: DomainError): SubscribeAck {
  return { ok: false, error: { code: subscribeErrorCode(err.code), message: err.message, field: err.field, retryAfterSeconds: err.retryAfterSeconds } };
}

/** Dependencies of the Socket.IO server. */
interface SocketServerDeps {
  prisma: PrismaClient;
  logger: Logger;
  resolveToken: TokenResolver;
}

/** Attaches the Socket.IO server to `httpServer`: handshake authentication, then `subscribe` / `unsubscribe` per socket. */
export function createSocketServer(httpServer: HttpServer, deps: SocketServerDeps): RealtimeServer {
  const io: RealtimeServer = new Server(httpServer, { serveClient: false });
  io.use((socket, next) => {
    const presented = typeof socket.handshake.auth?.token === 'string' ? socket.handshake.auth.token : bearerToken(socket.handshake.headers.authorization);
    const workspaceId = presented ? deps.resolveToken(presented) : null;
    if (!workspaceId) return next(new Error('unauthorized'));
    socket.data.workspaceId = workspaceId;
    next();
  });
  io.on('connection', (socket) => {
    // Listeners take raw arguments: a client may send anything, or no payload before its ack callback.
    socket.on('subscribe', async (...args: unknown[]) => {
      const { raw, reply } = payloadAndAck<SubscribeAck>(args);
      reply(await subscribe(deps, socket, raw));
    });
    socket.on('unsubscribe', async (...args: unknown[]) => {
      const { raw, reply } = payloadAndAck<UnsubscribeAck>(args);
      const parsed = subscribeRequest.safeParse(raw);
      if (parsed.success) await socket.leave('taskId' in parsed.data ? taskRoom(parsed.data.taskId) : workspaceRoom(parsed.data.workspaceId));
      reply({ ok: parsed.success });
    });
  });
  return io;
}

/** socket.io's arguments as the payload and the ack callback: the ack is the last argument, also when no payload was sent. */
function payloadAndAck<A>(args: unknown[]): { raw: unknown; reply: (ack: A) => void } {
  const ack = typeof args[args.length - 1] === 'function' ? (args.pop() as (ack: A) => void) : undefined;
  return { raw: args[0], reply: ack ?? (() => undefined) };
}

/** Handles one `subscribe`: parses it, subscribes the socket, and answers with the ack (never throws). */
async function subscribe(deps: SocketServerDeps, socket: RealtimeSocket, raw: unknown): Promise<SubscribeAck> {
  const parsed = subscribeRequest.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { ok: false, error: { code: 'invalid_subscription', message: 'expected { taskId: uuid } or { workspaceId }', field: issue?.path.join('.') || undefined } };
  }
  try {
    if ('taskId' in parsed.data) return await subscribeTask(deps, socket, parsed.data);
    if (parsed.data.workspaceId !== socket.data.workspaceId) {
      return { ok: false, error: { code: 'workspace_forbidden', message: 'this token is bound to another workspace', field: 'workspaceId' } };
    }
    await socket.join(workspaceRoom(parsed.data.workspaceId));
    return { ok: true };
  } catch (err) {
    const domain = asDomainError(err);
    if (domain) {
      if (domain.kind === 'unavailable') deps.logger.warn({ err }, `subscribe failed: ${domain.code}`);
      return ackErrorOf(domain);
    }
    deps.logger.error({ err }, 'subscribe failed');
    return { ok: false, error: { code: 'internal', message: 'subscribe failed' } };
  }
}

/**
 * Subscribes the socket to one task of its workspace, through the same reads as REST
 * (src/services/taskReads.ts): authorized before joining (a task's workspace never changes), so another
 * workspace's socket never enters the room; then the snapshot, and with `afterSeq` the replay first.
 * @throws DomainError `task_not_found`, or what asDomainError maps (an unreachable database).
 */
async function subscribeTask(deps: SocketServerDeps, socket: RealtimeSocket, sub: { taskId: string; afterSeq?: number }): Promise<SubscribeAck> {
  const room = taskRoom(sub.taskId);
  const ref = { workspaceId: socket.data.workspaceId, taskId: sub.taskId };
  await findTaskInWorkspace(deps.prisma, ref);
  if (sub.afterSeq === undefined) {
    // Joined before the read, so no event falls between the record and the first pushed event.
    await socket.join(room);
    return { ok: true, task: toTaskRecord(await findTaskInWorkspace(deps.prisma, ref)) };
  }
  let snapshot: Task | null = null;
  const replayed = await catchUp(socket, sub.taskId, sub.afterSeq, async (after) => {
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
  return { ok: true, task: toTaskRecord(current), replayed };
}
