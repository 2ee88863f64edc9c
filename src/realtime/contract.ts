/**
 * The server's end of the Socket.IO contract: socket.io's `Server` and `Socket` typed with the two
 * event maps the typed client uses too (client/realtimeContract.ts, generated shapes of the OpenAPI
 * document's Socket.IO components), so what the server emits and acks is checked by `tsc` against what
 * clients are told they receive. docs/REALTIME.md describes the protocol.
 */
import type { Server, Socket } from 'socket.io';
import type { ClientToServerEvents, ServerToClientEvents } from '../../client/realtimeContract';
import type { TaskEventMessage } from '../domain/events';

export type { ClientToServerEvents, ServerToClientEvents, SubscribeAck, UnsubscribeAck } from '../../client/realtimeContract';

/** What the server keeps on each socket (`socket.data`). */
export interface SocketData {
  /** The workspace of the handshake's token. */
  workspaceId: string;
  /** Per-task delivery state (./delivery.ts). */
  delivery?: {
    /** Highest seq delivered, per task. */
    seen: Record<string, number>;
    /** Live messages held back while a task's missed events are replayed. */
    catchingUp: Record<string, TaskEventMessage[]>;
  };
}

/** The Socket.IO server (no server-to-server events). */
export type RealtimeServer = Server<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;
/** One client's socket on the server. */
export type RealtimeSocket = Socket<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;
