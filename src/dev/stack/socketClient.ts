/** A real Socket.IO client that follows tasks and records what it receives. */
import { io, type Socket } from 'socket.io-client';
import type { ClientToServerEvents, RealtimeError, ServerToClientEvents, SubscribeRequest, TaskEventMessage, TaskLogMessage } from '../../../client/realtimeContract';
import type { TaskRecord } from '../../../client/types';
import { tokenFor } from './auth';

/** Every field any `SubscribeAck` variant has, each optional but `ok`. */
export type FlatSubscribeAck = { ok: boolean; task?: TaskRecord; replayed?: number; error?: RealtimeError };

export class TaskEventClient {
  readonly socket: Socket<ServerToClientEvents, ClientToServerEvents>;
  readonly messages: TaskEventMessage[] = [];
  /** Every `task.log` message, in arrival order. */
  readonly logs: TaskLogMessage[] = [];
  private waiters: Array<() => void> = [];

  /** Connects with the test token of `workspaceId` (./auth.ts). */
  constructor(baseUrl: string, workspaceId: string) {
    this.socket = io(baseUrl, { transports: ['websocket'], reconnection: false, auth: { token: tokenFor(workspaceId) } });
    this.socket.on('task.event', (m) => {
      this.messages.push(m);
      this.waiters.forEach((w) => w());
    });
    this.socket.on('task.log', (m) => this.logs.push(m));
  }

  /** Sends `subscribe` and resolves with its ack (rejects after 5 s without one), its variants flattened for assertions. */
  async subscribe(payload: SubscribeRequest): Promise<FlatSubscribeAck> {
    return this.socket.timeout(5000).emitWithAck('subscribe', payload);
  }

  eventsOf(taskId: string): TaskEventMessage[] {
    return this.messages.filter((m) => m.event.taskId === taskId);
  }

  /** Resolves with the first message matching `pred` (already received or future). */
  async waitFor(pred: (m: TaskEventMessage) => boolean, timeoutMs = 60_000): Promise<TaskEventMessage> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.messages.find(pred);
      if (found) return found;
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(`no matching task.event within ${timeoutMs} ms; got: ${this.messages.map((m) => `${m.event.seq}:${m.event.type}:${m.task.status}`).join(', ')}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
      this.waiters = [];
    }
  }

  close(): void {
    this.socket.close();
  }
}
