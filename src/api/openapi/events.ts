/**
 * History events in the OpenAPI document: `TaskEventRecord` is a `oneOf` of one schema per event type
 * (`TaskStepEvent`, `SessionTranscriptEvent`, …) with a discriminator on `type`, each with its
 * payload's schema. They mirror the union of src/domain/events.ts, which the appenders use;
 * {@link EVENT_SCHEMAS_MATCH_DOMAIN} stops the type check when the two differ, so the generated client
 * types (client/schema.d.ts) and docs/REALTIME.md's event table (both written by
 * scripts/generate-client-types.ts) follow the domain. The descriptions here are the ones clients read.
 */
import { z } from 'zod';
import type { TaskEventPayloads, TaskEventRecord, TaskEventType } from '../../domain/events';
import { SANDBOX_STATE_REASONS } from '../../domain/sandboxLifecycle';
import { modelUsageTotals, provisionStep, sandboxState, sessionRecord, taskStatus, transcriptEntryRecord } from './responses';

const releasedPayload = z
  .object({
    provisioningCancelled: z.boolean().meta({ description: 'The provisioning run was still going and was cancelled.' }),
    tabsClosed: z.number().int().min(0),
    sandboxesDestroyed: z.number().int().min(0),
  })
  .meta({ id: 'TaskReleasedPayload', description: 'What a kill or an archive did.' });

const tabPayload = z.object({ session: sessionRecord }).meta({ id: 'TabPayload', description: 'The whole tab as it is after the change.' });

/** Payload schema and meaning of each event type: the same keys as TaskEventPayloads. */
const EVENTS = {
  'task.created': {
    description: 'The task was created (always seq 1), with what it was created with.',
    payload: z.object({ workspaceId: z.string(), repository: z.string(), agent: z.string(), provider: z.string(), branchName: z.string().nullable() }),
  },
  'task.named': {
    description: 'Step `init_ensure_name` chose the task’s title and branch.',
    payload: z.object({ title: z.string(), branchName: z.string() }),
  },
  'task.step': {
    description: 'A provisioning step started or completed.',
    payload: z.object({
      step: provisionStep,
      status: z.enum(['started', 'completed']),
      message: z.string().meta({ description: 'The step’s status message.' }),
      sandboxId: z.string().optional().meta({ description: 'On `init_create_sandbox` completed: the sandbox made.' }),
      endpoint: z.string().optional().meta({ description: 'On `init_ensure_agent` completed: the sandbox-agent’s address on its sandbox host.' }),
    }),
  },
  'task.initialized': {
    description: 'Provisioning is done: the task is `running`, with its sandbox and first agent session.',
    payload: z.object({ provider: z.string(), sandboxId: z.string(), sessionId: z.string(), agent: z.string() }),
  },
  'task.error': {
    description: 'Provisioning failed for good: the task is in `error`.',
    payload: z.object({
      step: taskStatus.meta({ description: 'The step that failed (the status the task had).' }),
      type: z.string().meta({ description: 'The failure’s type, e.g. `StartToCloseTimeout`, `RepositoryNotFound`, `SandboxHostLost`.' }),
      detail: z.string().meta({ description: 'One sentence.' }),
      sandboxId: z.string().optional().meta({ description: 'With `SandboxHostLost`: the sandbox lost with its host.' }),
      hostId: z.string().optional().meta({ description: 'With `SandboxHostLost`: the lost sandbox host.' }),
      logTail: z.array(z.string()).optional().meta({
        description: 'The last lines (at most 20, oldest first) the failed step wrote to the task’s provisioning log, when it wrote any: why it failed, without a shell.',
      }),
    }),
  },
  'task.retry': {
    description: 'Provisioning of a task in `error` was started again.',
    payload: z.object({ previousStatusMessage: z.string() }),
  },
  'task.kill': { description: 'The task was killed and cleaned up: it is `killed`.', payload: releasedPayload },
  'task.archive': { description: 'The task was archived (agent stopped, sandbox released, record and history kept): it is `archived`.', payload: releasedPayload },
  'session.created': { description: 'A tab was opened.', payload: tabPayload },
  'session.updated': { description: 'A tab changed (status, unread, error, usage).', payload: tabPayload },
  'session.closed': { description: 'A tab was closed.', payload: tabPayload },
  'session.transcript': {
    description: 'A transcript entry was added to a tab (one per chunk of a reply).',
    payload: z.object({ sessionId: z.string().meta({ description: 'The tab.' }), entry: transcriptEntryRecord }),
  },
  'sandbox.state': {
    description: 'The task’s sandbox changed lifecycle state (docs/PRODUCT.md#sandbox-lifecycle); the task record’s `sandboxState` follows its active sandbox.',
    payload: z.object({
      sandboxId: z.string(),
      state: sandboxState,
      previous: sandboxState,
      reason: z.enum(SANDBOX_STATE_REASONS).meta({
        description:
          '`idle` (no turn for SANDBOX_IDLE_STOP_MINUTES), `requested` (POST …/stop or …/resume), `agent_exited`, `use` (a tab needed the agent), `files_gone`, `host_lost`.',
      }),
      message: z.string().meta({ description: 'One sentence for the page.' }),
    }),
  },
  'task.usage': {
    description: 'A model response’s token usage was recorded by the egress proxy; the task record and the tab carry the totals.',
    payload: z.object({
      sessionId: z.string().nullable().meta({ description: 'The tab whose turn it was, or null.' }),
      provider: z.string(),
      model: z.string().nullable().meta({ description: 'As the model API named it; null when it named none.' }),
      inputTokens: modelUsageTotals.shape.inputTokens,
      outputTokens: modelUsageTotals.shape.outputTokens,
    }),
  },
} satisfies Record<TaskEventType, { description: string; payload: z.ZodType }>;

/** `task.step` → `TaskStep` (the prefix of its component names). */
export const eventComponentPrefix = (type: string) =>
  type
    .split('.')
    .map((w) => w[0]!.toUpperCase() + w.slice(1))
    .join('');

/** The event schema of one type: the common fields, `type` as a constant, and its payload. */
function eventSchema<K extends TaskEventType>(type: K) {
  const { description, payload } = EVENTS[type];
  const named: (typeof EVENTS)[K]['payload'] = payload.meta()?.id ? payload : payload.meta({ id: `${eventComponentPrefix(type)}Payload` });
  return z
    .object({
      taskId: z.uuid(),
      seq: z.number().int().min(1).meta({ description: 'Dense per task from 1.' }),
      type: z.literal(type),
      payload: named,
      createdAt: z.iso.datetime(),
    })
    .meta({ id: `${eventComponentPrefix(type)}Event`, description: `\`${type}\`: ${description}` });
}

const eventSchemas = [
  eventSchema('task.created'),
  eventSchema('task.named'),
  eventSchema('task.step'),
  eventSchema('task.initialized'),
  eventSchema('task.error'),
  eventSchema('task.retry'),
  eventSchema('task.kill'),
  eventSchema('task.archive'),
  eventSchema('session.created'),
  eventSchema('session.updated'),
  eventSchema('session.closed'),
  eventSchema('session.transcript'),
  eventSchema('sandbox.state'),
  eventSchema('task.usage'),
] as const;

/** One history event of a task: a `oneOf` by `type`. */
export const taskEventRecord = z
  .discriminatedUnion('type', eventSchemas)
  .meta({ id: 'TaskEventRecord', description: 'One history event of a task (append-only); `type` says which, and the payload’s shape follows it.' });

/** A page of history events (GET /v1/tasks/{id}/events). */
export const taskEventPage = z
  .object({ items: z.array(taskEventRecord), nextCursor: z.number().int().nullable().meta({ description: 'Pass as `after` for the next page; null on the last.' }) })
  .meta({ id: 'TaskEventPage', description: 'A page of history events, oldest first.' });

/** `true` when A and B are the same type (each extends the other), else `false`: for the schema-to-domain checks. */
export type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;

/** Type-level proof that each event schema's output is exactly the domain's event of that type. */
export type EventSchemasMatchDomain = [
  Same<z.output<typeof taskEventRecord>, TaskEventRecord>,
  Same<{ [K in TaskEventType]: z.output<(typeof EVENTS)[K]['payload']> }, TaskEventPayloads>,
  Same<(typeof eventSchemas)[number]['shape']['type']['value'], TaskEventType>,
] extends true[]
  ? true
  : never;

/** `true`; does not compile when {@link EventSchemasMatchDomain} is not. */
export const EVENT_SCHEMAS_MATCH_DOMAIN: EventSchemasMatchDomain = true;
