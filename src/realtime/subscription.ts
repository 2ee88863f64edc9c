/**
 * The payload of a Socket.IO `subscribe` or `unsubscribe` message (docs/REALTIME.md#client--server):
 * a task (with `afterSeq` to have every later event replayed first) or a workspace. Strict: an unknown
 * field is refused. src/realtime/socketServer.ts parses every payload with it, and the OpenAPI document
 * lists it as the `SubscribeRequest` component, from which the client's type is generated.
 */
import { z } from 'zod';

export const subscribeRequest = z
  .union([
    z
      .object({
        taskId: z
          .string()
          .uuid()
          .transform((id) => id.toLowerCase())
          .meta({ description: 'A task of the token’s workspace (a UUID in any letter case).' }),
        afterSeq: z.number().int().min(0).optional().meta({ description: 'The last seq seen: every later event is replayed, oldest first, before the ack.' }),
      })
      .strict(),
    z.object({ workspaceId: z.string().min(1).max(100).meta({ description: 'The token’s workspace: every `task.event` of its tasks.' }) }).strict(),
  ])
  .meta({ id: 'SubscribeRequest', unusedIO: 'input', description: 'Payload of a Socket.IO `subscribe` or `unsubscribe` message (docs/REALTIME.md).' });

/** A parsed subscribe payload (task ids lower-cased). */
export type Subscription = z.output<typeof subscribeRequest>;

/** Codes of a failed `subscribe` ack (docs/REALTIME.md#client--server); a domain error with another code acks `internal`. */
export const SUBSCRIBE_ERROR_CODES = ['invalid_subscription', 'task_not_found', 'workspace_forbidden', 'database_unavailable', 'internal'] as const;
export type SubscribeErrorCode = (typeof SUBSCRIBE_ERROR_CODES)[number];

/** `code` when it is one a subscribe ack may carry, else `internal`. */
export const subscribeErrorCode = (code: string): SubscribeErrorCode => ((SUBSCRIBE_ERROR_CODES as readonly string[]).includes(code) ? (code as SubscribeErrorCode) : 'internal');
