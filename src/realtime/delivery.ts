/**
 * Per-socket delivery of `task.event` messages: each socket gets each task event once, in sequence
 * order, whether it arrives live from the relay or is replayed from Postgres for a client that
 * reconnects with the last sequence number it saw.
 *
 * State per socket (socket.data): `seen[taskId]` = highest seq delivered; `catchingUp[taskId]` = live
 * messages held back while missed events are replayed. The relay handles notices one at a time in
 * commit order, so held-back messages are in order and, after the replay, only those newer than the
 * replay are sent.
 */
import type { TaskEventMessage } from '../domain/events';
import type { RealtimeSocket, SocketData } from './contract';

export const TASK_EVENT = 'task.event';

type DeliveryState = NonNullable<SocketData['delivery']>;

function state(socket: Pick<RealtimeSocket, 'data'>): DeliveryState {
  socket.data.delivery ??= { seen: {}, catchingUp: {} };
  return socket.data.delivery;
}

/**
 * Sends `message` unless the socket has it already; holds it back while the socket catches up on that task.
 * @returns true when it was emitted now (false: already delivered, or held back).
 */
export function deliver(socket: Pick<RealtimeSocket, 'data' | 'emit'>, message: TaskEventMessage): boolean {
  const s = state(socket);
  const { taskId, seq } = message.event;
  const held = s.catchingUp[taskId];
  if (held) {
    held.push(message);
    return false;
  }
  if (seq <= (s.seen[taskId] ?? 0)) return false;
  s.seen[taskId] = seq;
  socket.emit(TASK_EVENT, message);
  return true;
}

/**
 * The highest seq of `taskId` delivered to (or being replayed to) `socket`; undefined when the socket
 * has had no event of that task yet (e.g. it subscribed without `afterSeq` and nothing came since).
 */
export function seenSeq(socket: Pick<RealtimeSocket, 'data'>, taskId: string): number | undefined {
  return state(socket).seen[taskId];
}

/**
 * Replays to `socket` the events of `taskId` after `afterSeq`, read by `readMissed` (oldest first), then
 * the live messages that arrived meanwhile, each once. `afterSeq` is what the client says it holds and
 * is taken as it is, also when this socket was sent later events of the task before: those may have
 * gone to another view of the same client (its workspace list), not to the one subscribing now.
 * @returns how many events were sent.
 */
export async function catchUp(
  socket: Pick<RealtimeSocket, 'data' | 'emit'>,
  taskId: string,
  afterSeq: number,
  readMissed: (afterSeq: number) => Promise<TaskEventMessage[]>,
): Promise<number> {
  const s = state(socket);
  s.catchingUp[taskId] = [];
  s.seen[taskId] = afterSeq;
  let sent = 0;
  try {
    for (;;) {
      const page = await readMissed(s.seen[taskId]!);
      if (page.length === 0) break;
      for (const m of page) {
        if (m.event.seq <= s.seen[taskId]!) continue;
        s.seen[taskId] = m.event.seq;
        socket.emit(TASK_EVENT, m);
        sent++;
      }
    }
  } finally {
    const held = s.catchingUp[taskId] ?? [];
    delete s.catchingUp[taskId];
    for (const m of held) {
      const before = s.seen[taskId] ?? 0;
      deliver(socket, m);
      if ((s.seen[taskId] ?? 0) > before) sent++;
    }
  }
  return sent;
}
