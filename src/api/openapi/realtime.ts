/**
 * The Socket.IO contract's messages as OpenAPI components (docs/REALTIME.md describes the protocol;
 * these are its shapes): `SubscribeRequest` (src/realtime/subscription.ts), `SubscribeAck`,
 * `UnsubscribeAck`, `RealtimeError`, `TaskEventMessage` and `TaskLogMessage` (./taskLogs.ts). They are in no path: the document lists
 * them so the client's types are generated from them, and client/realtimeContract.ts types both ends
 * of the connection (socket.io's `ServerToClientEvents` / `ClientToServerEvents`) with them.
 */
import { z } from 'zod';
import { SUBSCRIBE_ERROR_CODES, subscribeRequest } from '../../realtime/subscription';
import { taskEventRecord } from './events';
import { taskLogMessage } from './taskLogs';
import { taskRecord } from './responses';

export const realtimeError = z
  .object({
    code: z.enum(SUBSCRIBE_ERROR_CODES).meta({ description: 'Stable snake_case code to match on.' }),
    message: z.string().meta({ description: 'One sentence for humans.' }),
    field: z.string().optional().meta({ description: 'The payload key at fault.' }),
    retryAfterSeconds: z.number().int().optional().meta({ description: 'With `database_unavailable`: subscribe again after this many seconds.' }),
  })
  .meta({ id: 'RealtimeError', description: 'Why a `subscribe` failed.' });

export const subscribeAck = z
  .union([
    z.object({
      ok: z.literal(true),
      task: taskRecord.meta({ description: 'The current record, read after the socket joined the task’s room: the snapshot.' }),
      replayed: z.number().int().min(0).optional().meta({ description: 'With `afterSeq`: how many events were replayed before this ack.' }),
    }),
    z.object({ ok: z.literal(true) }),
    z.object({ ok: z.literal(false), error: realtimeError }),
  ])
  .meta({ id: 'SubscribeAck', description: 'Ack of `subscribe`: with `task` for a task, without for a workspace, or an error.' });

export const unsubscribeAck = z.object({ ok: z.boolean().meta({ description: 'False: the payload was not a subscription.' }) }).meta({ id: 'UnsubscribeAck' });

export const taskEventMessage = z
  .object({
    task: taskRecord.meta({ description: 'The task as the relay read it: it may be newer than the event (replayed messages carry the task as it is now).' }),
    event: taskEventRecord,
  })
  .meta({ id: 'TaskEventMessage', description: 'Payload of every `task.event` message.' });

const json = (schema: z.ZodType, description: string) => ({ description, content: { 'application/json': { schema } } });

/**
 * What this module adds to the document's components: what the server sends as `responses` (so they
 * are rendered as answers are), what the client sends as a schema rendered as input. Each message's
 * schema is a named schema component (its `meta.id`).
 */
export const REALTIME_COMPONENTS = {
  schemas: { SubscribeRequest: subscribeRequest },
  responses: {
    SubscribeAck: json(subscribeAck, 'Socket.IO: the ack of `subscribe`.'),
    UnsubscribeAck: json(unsubscribeAck, 'Socket.IO: the ack of `unsubscribe`.'),
    TaskEventMessage: json(taskEventMessage, 'Socket.IO: a `task.event` message.'),
    TaskLogMessage: json(taskLogMessage, 'Socket.IO: a `task.log` message, sent to the task’s room only.'),
  },
};
