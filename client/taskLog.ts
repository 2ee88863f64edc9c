/**
 * A task's provisioning log, live: the lines `GET /v1/tasks/:id/logs` has (every page), then every
 * `task.log` message of the task's room, kept by `seq` (a line arrives once however often it is
 * sent). A message that starts past the next expected seq, and every reconnect, reads what is
 * missing from REST again, so a dropped message or an outage leaves no hole (lines the server no
 * longer keeps are simply not there). The socket must be subscribed to the task (watchTask does that).
 */
import type { RealtimeSocket } from './realtime';
import type { TaskLogMessage } from './realtimeContract';
import type { TaskServiceClient } from './rest';
import type { components } from './schema';

/** One line of a task's provisioning log. */
export type TaskLogLine = components['schemas']['TaskLogLine'];
type TaskLogPage = components['schemas']['TaskLogPage'];

/**
 * Follows `taskId`'s log.
 * @param onChange called with all lines held, by seq, after each change.
 * @returns the function that stops following.
 */
export function followTaskLog(opts: { socket: RealtimeSocket; rest: TaskServiceClient; taskId: string; onChange: (lines: TaskLogLine[]) => void }): () => void {
  const { socket, rest, taskId } = opts;
  const bySeq = new Map<number, TaskLogLine>();
  let lastSeq = 0;
  /** The smallest `after` still to read from REST; null when nothing is owed. */
  let owed: number | null = null;
  let reading = false;
  let closed = false;

  const changed = () => {
    if (!closed) opts.onChange([...bySeq.values()].sort((a, b) => a.seq - b.seq));
  };
  const add = (lines: readonly TaskLogLine[]) => {
    for (const line of lines) bySeq.set(line.seq, line);
    lastSeq = Math.max(lastSeq, ...lines.map((l) => l.seq));
  };
  /** Reads every page after `after` (one reader at a time; what is asked meanwhile is read next). */
  const readFrom = (after: number) => {
    owed = owed === null ? after : Math.min(owed, after);
    if (!reading) void drain();
  };
  const drain = async () => {
    reading = true;
    try {
      while (owed !== null && !closed) {
        let after: number | null = owed;
        owed = null;
        while (after !== null && !closed) {
          const page: TaskLogPage | undefined = (await rest.GET('/v1/tasks/{id}/logs', { params: { path: { id: taskId }, query: { after } } })).data;
          if (!page) return; // an error answer: the next message or reconnect reads again
          add(page.items);
          changed();
          after = page.nextCursor;
        }
      }
    } catch {
      // unreachable now: the next message or reconnect reads again
    } finally {
      reading = false;
    }
  };

  const onLog = (message: TaskLogMessage) => {
    if (message.taskId !== taskId || message.lines.length === 0) return;
    const before = lastSeq;
    const gap = message.lines[0]!.seq > before + 1;
    add(message.lines);
    changed();
    if (gap) readFrom(before);
  };
  const onConnect = () => readFrom(lastSeq);
  socket.on('task.log', onLog);
  socket.on('connect', onConnect);
  readFrom(0);
  return () => {
    closed = true;
    socket.off('task.log', onLog);
    socket.off('connect', onConnect);
  };
}
