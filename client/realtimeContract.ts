/**
 * The Socket.IO contract, typed for socket.io's generics (`Server<ClientToServerEvents,
 * ServerToClientEvents>`, `Socket<ServerToClientEvents, ClientToServerEvents>`): the server
 * (src/realtime/socketServer.ts and the relay) and this client both use these two maps, so a message
 * one end sends and the other does not expect does not compile. The shapes are the OpenAPI document's
 * Socket.IO components (src/api/openapi/realtime.ts), generated into ./schema.d.ts; the protocol is
 * described in docs/REALTIME.md.
 */
import type { components } from './schema';

type Schemas = components['schemas'];

/** Payload of `subscribe` and `unsubscribe`: a task (optionally resuming after `afterSeq`) or a workspace. */
export type SubscribeRequest = Schemas['SubscribeRequest'];
/** Ack of `subscribe`: the task's snapshot, `{ ok: true }` for a workspace, or an error. */
export type SubscribeAck = Schemas['SubscribeAck'];
/** Ack of `unsubscribe`. */
export type UnsubscribeAck = Schemas['UnsubscribeAck'];
/** A failed subscribe's error (docs/REALTIME.md lists the codes). */
export type RealtimeError = Schemas['RealtimeError'];
/** Payload of a `task.event` message: the task as the relay read it (maybe newer than the event), and the event. */
export type TaskEventMessage = Schemas['TaskEventMessage'];
/** Payload of a `task.log` message: new lines of the task's provisioning log. */
export type TaskLogMessage = Schemas['TaskLogMessage'];

/** Messages the server sends. */
export interface ServerToClientEvents {
  'task.event': (message: TaskEventMessage) => void;
  'task.log': (message: TaskLogMessage) => void;
}

/** Messages a client sends; each takes an ack callback. */
export interface ClientToServerEvents {
  subscribe: (payload: SubscribeRequest, ack: (ack: SubscribeAck) => void) => void;
  unsubscribe: (payload: SubscribeRequest, ack: (ack: UnsubscribeAck) => void) => void;
}
