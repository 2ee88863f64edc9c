/**
 * Catch-up for the relay (./taskEventRelay.ts) after it may have missed notices — its LISTEN
 * connection was down, or reading one notice's event failed: every socket subscribed right now gets,
 * from Postgres, the events of its tasks it has not had yet, per task in seq order, each once (the
 * per-socket state of ./delivery.ts drops whatever a socket already has).
 *
 * Which events a socket is owed:
 * - in `task:<id>`, having had events of that task: every event with a higher seq (exact);
 * - in `task:<id>` without any event of it yet, or in `workspace:<id>`: the events of that task / of
 *   that workspace's tasks created at or after `since`, the earliest instant whose notice may have been
 *   missed (the caller takes a safety margin, so the window may also hold events delivered already:
 *   those are dropped, never sent twice).
 *
 * Replayed messages carry the task as it is now, as replays on subscribe do.
 */
import type { RealtimeServer } from './contract';
import type { Prisma, PrismaClient } from '../generated/prisma/client';
import { taskRoom, toTaskRecord, workspaceRoom } from '../domain/records';
import { toTaskEventRecord, type TaskEventMessage } from '../domain/events';
import { deliver, seenSeq } from './delivery';

const TASK_ROOM_PREFIX = taskRoom('');
const WORKSPACE_ROOM_PREFIX = workspaceRoom('');

export interface CatchUpResult {
  /** Distinct events sent to at least one socket. */
  events: number;
  /** Messages sent, summed over sockets. */
  messages: number;
}

/**
 * Replays to the sockets subscribed now (on this process) what they are owed, as described above.
 * All owed events are read in one query (an outage's worth of events of the subscribed tasks).
 * @param since earliest instant (database clock, `task_events.created_at`) whose events may be missing.
 * @throws the Prisma error when reading fails; sockets may then have got part of their events, in
 *         order, and a repeated call sends the rest.
 */
export async function catchUpSubscribers(deps: { io: RealtimeServer; prisma: PrismaClient }, since: Date): Promise<CatchUpResult> {
  const subscribers = (await deps.io.fetchSockets()).map((socket) => {
    const tasks = new Set<string>();
    const workspaces = new Set<string>();
    for (const room of socket.rooms) {
      if (room.startsWith(TASK_ROOM_PREFIX)) tasks.add(room.slice(TASK_ROOM_PREFIX.length));
      else if (room.startsWith(WORKSPACE_ROOM_PREFIX)) workspaces.add(room.slice(WORKSPACE_ROOM_PREFIX.length));
    }
    // Snapshot before anything is sent: whether a task room is caught up by seq or by time.
    const seen = new Map([...tasks].map((taskId) => [taskId, seenSeq(socket, taskId)] as const));
    return { socket, tasks, workspaces, seen };
  });

  const lowestSeen = new Map<string, number>();
  const tasksByTime = new Set<string>();
  const workspaces = new Set<string>();
  for (const s of subscribers) {
    for (const [taskId, seq] of s.seen) {
      if (seq === undefined) tasksByTime.add(taskId);
      else lowestSeen.set(taskId, Math.min(lowestSeen.get(taskId) ?? seq, seq));
    }
    s.workspaces.forEach((w) => workspaces.add(w));
  }
  const owed: Prisma.TaskEventWhereInput[] = [...lowestSeen].map(([taskId, seq]) => ({ taskId, seq: { gt: seq } }));
  if (tasksByTime.size > 0) owed.push({ taskId: { in: [...tasksByTime] }, createdAt: { gte: since } });
  if (workspaces.size > 0) owed.push({ createdAt: { gte: since }, task: { workspaceId: { in: [...workspaces] } } });
  if (owed.length === 0) return { events: 0, messages: 0 };

  const rows = await deps.prisma.taskEvent.findMany({ where: { OR: owed }, orderBy: [{ taskId: 'asc' }, { seq: 'asc' }] });
  if (rows.length === 0) return { events: 0, messages: 0 };
  const rowsByTask = new Map<string, typeof rows>();
  for (const r of rows) {
    const list = rowsByTask.get(r.taskId);
    if (list) list.push(r);
    else rowsByTask.set(r.taskId, [r]);
  }
  const tasks = new Map((await deps.prisma.task.findMany({ where: { id: { in: [...rowsByTask.keys()] } } })).map((t) => [t.id, t]));

  let events = 0;
  let messages = 0;
  for (const [taskId, taskRows] of rowsByTask) {
    const task = tasks.get(taskId);
    if (!task) continue; // deleted meanwhile
    const record = toTaskRecord(task);
    const batch = taskRows.map((r) => ({ createdAt: r.createdAt, message: { task: record, event: toTaskEventRecord(r) } satisfies TaskEventMessage }));
    const sentEvents = new Set<number>();
    for (const s of subscribers) {
      const bySeq = s.tasks.has(taskId) && s.seen.get(taskId) !== undefined;
      if (!bySeq && !s.tasks.has(taskId) && !s.workspaces.has(task.workspaceId)) continue;
      for (const { createdAt, message } of batch) {
        if (!bySeq && createdAt < since) continue;
        if (deliver(s.socket, message)) {
          messages++;
          sentEvents.add(message.event.seq);
        }
      }
    }
    events += sentEvents.size;
  }
  return { events, messages };
}
