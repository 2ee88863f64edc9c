/**
 * Response shapes of the REST API as zod schemas, for the OpenAPI document (./document.ts) only (each
 * `meta.id` names its component in the document): the
 * routes build their answers with src/domain/records.ts (toTaskRecord, toSessionRecord,
 * toTranscriptEntryRecord), src/api/readiness.ts and src/api/errors.ts, and nothing
 * parses them with these schemas at run time. Each schema mirrors its builder field by field;
 * {@link RESPONSE_SCHEMAS_MATCH_RECORDS} stops the type check when one drifts from the TypeScript type
 * it mirrors, and test/api/openapi.test.ts validates real answers against the document.
 */
import { z } from 'zod';
import type { SessionRecord, StepTiming, TaskRecord, TranscriptEntryRecord } from '../../domain/records';
import { PROVISION_STEPS, TASK_STATUSES } from '../../domain/status';
import { SANDBOX_STATES } from '../../domain/sandboxLifecycle';
import type { ProvisioningProgress, provisioningState } from '../../services/provisioningProgress';
import type { ReadinessReport } from '../readiness';

/** ISO-8601 UTC time as `Date.prototype.toISOString` prints it. */
const isoTime = () => z.iso.datetime();

export const taskStatus = z.enum(TASK_STATUSES).meta({
  id: 'TaskStatus',
  description:
    'Task status: `init_enqueue_provision` → `init_ensure_name` → `init_create_sandbox` → `init_ensure_agent` → `init_create_session` → `running`; `error` on a failure no retry fixes; `killed` after a kill; `archived` after an archive (hidden from the default list); `idle` is reserved.',
});

export const provisionStep = z.enum(PROVISION_STEPS).meta({ id: 'ProvisionStep', description: 'A provisioning step, in the order provisionTask runs them.' });

/** Model tokens (ModelUsageTotals in src/domain/records.ts). */
export const modelUsageTotals = z.object({ inputTokens: z.number().int().min(0), outputTokens: z.number().int().min(0) }).meta({
  id: 'ModelUsage',
  description: 'Model tokens as the model APIs reported them, recorded by the egress proxy (docs/SECURITY.md#egress); changes arrive as `task.usage` events.',
});

/** Sandbox lifecycle states (src/domain/sandboxLifecycle.ts). */
export const sandboxState = z.enum(SANDBOX_STATES).meta({
  id: 'SandboxState',
  description:
    'Sandbox lifecycle (docs/PRODUCT.md#sandbox-lifecycle): `creating` until its sandbox-agent is healthy; `ready` while it runs; `stopping` → `stopped` when it sleeps (idle for SANDBOX_IDLE_STOP_MINUTES, or POST …/stop): processes ended, files kept; `resuming` → `ready` when it wakes (a message, opening or retrying a tab, or POST …/resume); `lost` when its files are gone; `destroyed` after a kill or archive; `error` only on rows older than the lifecycle.',
});

/** Stored statuses of a workbench tab (Prisma enum WorkbenchSessionStatus). */
export const SESSION_STATUSES = ['pending_provision', 'pending_session_create', 'ready', 'running', 'error'] as const satisfies readonly SessionRecord['status'][];

export const stepTiming = z
  .object({
    startedAt: isoTime(),
    endedAt: isoTime().optional(),
    attempt: z.number().int(),
  })
  .meta({ id: 'StepTiming', description: 'Timing of one provisioning step as mirrored from the workflow.' });

export const taskRecord = z
  .object({
    id: z.uuid(),
    workspaceId: z.string(),
    repository: z.string(),
    prompt: z.string(),
    title: z.string().nullable().meta({ description: 'Set by `init_ensure_name` (the first line of the prompt); null before.' }),
    branchName: z.string().nullable(),
    provider: z.string(),
    agent: z.string(),
    status: taskStatus,
    statusMessage: z.string().meta({ description: 'One sentence; on `error` it names the failed step.' }),
    activeSandboxId: z.string().nullable(),
    activeSessionId: z.string().nullable(),
    sandboxState: sandboxState.nullable().meta({ description: 'State of the active sandbox; null before it exists. Changes arrive as `sandbox.state` events.' }),
    workflowId: z.string().meta({ description: '`provision-task-<id>`: the provisioning run in Temporal.' }),
    lastEventSeq: z.number().int().meta({ description: 'Sequence number of the newest history event: a client that has seen it has seen everything.' }),
    stepTimings: z.record(z.string(), stepTiming),
    usage: modelUsageTotals,
    createdAt: isoTime(),
    updatedAt: isoTime(),
    realtime: z
      .object({
        subscribe: z.object({ event: z.literal('subscribe'), payload: z.object({ taskId: z.uuid() }) }),
        room: z.string(),
        event: z.literal('task.event'),
      })
      .meta({ description: 'How a client follows this task over Socket.IO (docs/REALTIME.md).' }),
  })
  .meta({ id: 'TaskRecord', description: 'A task as clients see it (toTaskRecord in src/domain/records.ts).' });

export const provisioningProgress = z
  .object({
    currentStep: z.string().nullable(),
    subStep: z.string().nullable(),
    attempt: z.number().int().nullable(),
    lastProgressAt: isoTime(),
    timesOutAt: isoTime().nullable().meta({ description: 'When the current attempt reaches its start-to-close timeout.' }),
  })
  .meta({ id: 'ProvisioningProgress', description: 'Summary of the current provisioning step; every field but `lastProgressAt` is null while the task is still queued.' });

export const taskDetail = taskRecord
  .extend({
    temporalUiUrl: z.string().meta({ description: 'Link to the provisioning run in the Temporal Web UI.' }),
    provisioning: provisioningProgress.nullable().optional().meta({ description: 'Only while the task is provisioning (`init_*`); null when the run cannot be asked within 2 s.' }),
  })
  .meta({ id: 'TaskDetail', description: 'A task record; while the task provisions, with its live `provisioning` summary.' });

export const sessionRecord = z
  .object({
    id: z.string().meta({ description: '`session-<uuid>`' }),
    taskId: z.uuid(),
    name: z.string(),
    agent: z.string(),
    model: z.string().nullable(),
    status: z.enum(SESSION_STATUSES),
    statusLabel: z.string().meta({ description: 'What the UI shows: "Preparing environment", "Creating session", "Ready", "Agent working", "Error" or "Closed".' }),
    composerEnabled: z.boolean().meta({ description: 'True only when a message may be sent (status `ready`, not closed).' }),
    errorMessage: z.string().nullable(),
    sandboxSessionId: z.string().nullable(),
    unread: z.boolean(),
    draft: z.string(),
    closed: z.boolean(),
    thinkingSince: isoTime().nullable(),
    lastEntryIndex: z.number().int(),
    usage: modelUsageTotals,
    createdAt: isoTime(),
    updatedAt: isoTime(),
  })
  .meta({ id: 'SessionRecord', description: 'A workbench tab (toSessionRecord in src/domain/records.ts).' });

export const transcriptEntryRecord = z
  .object({
    index: z.number().int().min(1),
    role: z.enum(['user', 'agent', 'system']).meta({ description: '`system`: a notice of the service, e.g. that the agent session restarted after the sandbox woke.' }),
    text: z.string(),
    replyTo: z.number().int().nullable(),
    delivery: z.string().nullable().meta({ description: 'For a user message: pending → sending → sent.' }),
    createdAt: isoTime(),
  })
  .meta({ id: 'TranscriptEntryRecord', description: 'One transcript entry of a tab.' });

export const createdTask = taskRecord
  .extend({
    temporalUiUrl: z.string().meta({ description: 'Link to the provisioning run in the Temporal Web UI.' }),
    firstSession: sessionRecord.optional().meta({ description: 'With `openSession: true`: the first tab, opened in the same transaction.' }),
  })
  .meta({ id: 'CreatedTask', description: 'The created task (status `init_enqueue_provision`).' });

export const taskPage = z
  .object({ items: z.array(taskRecord), nextCursor: z.string().nullable().meta({ description: 'Pass as `cursor` for the next page; null on the last.' }) })
  .meta({ id: 'TaskPage', description: 'A page of tasks, newest first.' });

export const sessionList = z.object({ items: z.array(sessionRecord) }).meta({ id: 'SessionList', description: 'Open tabs in creation order.' });

export const sessionDetail = z
  .object({
    session: sessionRecord,
    transcript: z.object({
      items: z.array(transcriptEntryRecord),
      nextCursor: z.number().int().nullable().meta({ description: 'Pass as `after` for the next page; null on the last.' }),
    }),
  })
  .meta({ id: 'SessionDetail', description: 'A tab with a page of its transcript (entries with index > after, oldest first).' });

export const messageAccepted = z.object({ entry: transcriptEntryRecord }).meta({ id: 'MessageAccepted', description: 'The message, stored as a transcript entry.' });

export const sandboxRecord = z
  .object({
    id: z.uuid(),
    provider: z.string(),
    providerSandboxId: z.string().nullable(),
    hostId: z.string().nullable().meta({ description: 'The sandbox host it lives on (SANDBOX_HOST_ID; docs/DEPLOYMENT.md#sandbox-hosts); null until placed.' }),
    directory: z.string().nullable().meta({ description: 'Its directory on its host.' }),
    agentEndpoint: z.string().nullable().meta({ description: 'Base URL of the sandbox-agent server, once started.' }),
    state: sandboxState,
    sessionId: z.string().nullable(),
    createdAt: isoTime(),
    updatedAt: isoTime(),
  })
  .meta({ id: 'SandboxRecord', description: 'The task’s active sandbox; provider secrets (agent token, process ids) are never included.' });

const outageWait = z.object({
  dependency: z.string(),
  since: isoTime(),
  hits: z.number().int(),
  attemptsSpent: z.number().int(),
});

export const stepState = z
  .object({
    startedAt: isoTime(),
    endedAt: isoTime().optional(),
    attempt: z.number().int(),
    attemptStartedAt: isoTime().optional(),
    startToCloseTimeoutMs: z.number().int(),
    subStep: z.string().optional(),
    lastProgressMessage: z.string().optional(),
    lastProgressAt: isoTime().optional(),
    waitingFor: outageWait.optional().meta({ description: 'Set while the step waits out a database outage; its attempts are not spent meanwhile.' }),
  })
  .meta({ id: 'StepState', description: 'Live state of one provisioning step.' });

export const provisionState = z
  .object({
    taskId: z.uuid(),
    status: taskStatus,
    statusMessage: z.string(),
    currentStep: provisionStep.nullable(),
    steps: z.partialRecord(provisionStep, stepState),
    lastProgressAt: isoTime(),
    error: z.object({ step: provisionStep, type: z.string(), message: z.string() }).optional(),
  })
  .meta({ id: 'ProvisionState', description: 'The provisioning run’s `provisionState` query.' });

export const dependencyCheck = z
  .object({
    ok: z.boolean(),
    latencyMs: z.number().int(),
    error: z.string().optional().meta({ description: 'One sentence, when down.' }),
  })
  .meta({ id: 'DependencyCheck', description: 'One dependency’s state: the latency of the check, the error when down.' });

export const readinessReport = z
  .object({
    status: z.enum(['ready', 'unavailable']),
    checks: z.object({ database: dependencyCheck, temporal: dependencyCheck, realtime: dependencyCheck }),
  })
  .meta({ id: 'ReadinessReport', description: '`ready` when every check is ok, else `unavailable`.' });

export const identity = z
  .object({ workspaceId: z.string().meta({ description: 'The workspace the bearer token is bound to.' }) })
  .meta({ id: 'Identity', description: 'Who the bearer token speaks for.' });

export const health = z
  .object({
    status: z.literal('ok'),
    provisionStartsPending: z.number().int().min(0).meta({ description: 'Created tasks whose provisionTask run this API process has not started yet.' }),
  })
  .meta({ id: 'Health', description: 'Liveness; never looks at dependencies.' });

/**
 * Every stable error code of the REST API with its HTTP status and meaning. Per operation, the
 * document lists the codes that operation can answer (./document.ts).
 */
export const ERROR_CODES = {
  validation_failed: { status: 400, meaning: 'a parameter, header or body field breaks the schema; `field` and `issues` name it' },
  malformed_json: { status: 400, meaning: 'the body is not valid JSON' },
  unknown_provider: { status: 400, meaning: '`provider` is not one the worker serves' },
  repository_not_allowed: { status: 400, meaning: "the repository is not allowed: outside the configured roots, inside the service's own data, or an unsupported transport" },
  invalid_cursor: { status: 400, meaning: 'the cursor is not one this API issued' },
  unauthorized: { status: 401, meaning: 'no bearer token, or an unknown one' },
  workspace_forbidden: { status: 403, meaning: 'the workspace is not the token’s own' },
  task_not_found: { status: 404, meaning: 'no such task in the token’s workspace' },
  session_not_found: { status: 404, meaning: 'no such tab on that task in the token’s workspace' },
  sandbox_not_found: { status: 404, meaning: 'the task has no sandbox yet' },
  route_not_found: { status: 404, meaning: 'no route for this method and path' },
  task_not_in_error: { status: 409, meaning: 'only a task in `error` can be retried' },
  task_not_running: { status: 409, meaning: 'only a running task’s sandbox can be stopped or resumed' },
  sandbox_not_stoppable: { status: 409, meaning: 'the sandbox is waking or lost; only a ready sandbox can be stopped' },
  sandbox_lost: { status: 409, meaning: 'the sandbox’s files are gone; it cannot be resumed' },
  task_closed: { status: 409, meaning: 'the task is killed or archived' },
  session_not_ready: { status: 409, meaning: 'the tab is pending, in error or closed; nothing was stored' },
  session_not_in_error: { status: 409, meaning: 'only an open tab in `error` can be retried' },
  payload_too_large: { status: 413, meaning: 'the body is larger than 256 kB' },
  unsupported_media_type: { status: 415, meaning: 'the body’s charset or encoding is not supported' },
  idempotency_key_reused: { status: 422, meaning: 'this Idempotency-Key was used with a different request body' },
  internal: { status: 500, meaning: 'an unexpected error (details in the log)' },
  database_unavailable: { status: 503, meaning: 'Postgres is not answering; retry after `Retry-After` seconds' },
  workflow_unavailable: { status: 503, meaning: 'Temporal is not answering; retry after `Retry-After` seconds' },
  workflow_start_failed: { status: 503, meaning: 'the workflow run could not be started; retry after `Retry-After` seconds' },
  credentials_unavailable: { status: 503, meaning: 'the service has no credentials encryption key (CREDENTIALS_ENCRYPTION_KEY), so model keys cannot be stored' },
  workbench_not_built: { status: 503, meaning: 'the workbench page has not been built (`npm run build:web`)' },
} as const satisfies Record<string, { status: number; meaning: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** The error body (src/api/errors.ts) with `code` limited to `codes`. */
export function errorBodyOf(codes: readonly [ErrorCode, ...ErrorCode[]]) {
  return z.object({
    error: z.object({
      code: z.enum(codes).meta({ description: 'Stable snake_case code to match on.' }),
      message: z.string().meta({ description: 'One sentence for humans.' }),
      field: z.string().optional().meta({ description: 'Path of the bad input, e.g. `body.prompt`, `query.cursor`, `header.idempotency-key`, `params.id`.' }),
      issues: z
        .array(z.object({ field: z.string(), code: z.string(), message: z.string() }))
        .optional()
        .meta({ description: 'Every schema issue (validation_failed only).' }),
    }),
  });
}

/** The error body with any stable code (the `ErrorBody` component). */
export const errorBody = errorBodyOf(Object.keys(ERROR_CODES) as [ErrorCode, ...ErrorCode[]]).meta({
  description: `Every error answer. Stable codes:\n\n| code | status | meaning |\n| --- | --- | --- |\n${Object.entries(ERROR_CODES)
    .map(([code, { status, meaning }]) => `| \`${code}\` | ${status} | ${meaning} |`)
    .join('\n')}`,
});

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;

/**
 * Type-level proof that each schema's output is exactly the type the API builds (true), so a field
 * added to or changed in src/domain/records.ts, the provisioning query or the readiness report without
 * the schema here fails `tsc`.
 */
export type ResponseSchemasMatchRecords = [
  Same<z.output<typeof taskRecord>, TaskRecord>,
  Same<z.output<typeof stepTiming>, StepTiming>,
  Same<z.output<typeof sessionRecord>, SessionRecord>,
  Same<z.output<typeof transcriptEntryRecord>, TranscriptEntryRecord>,
  Same<z.output<typeof provisioningProgress>, ProvisioningProgress>,
  Same<z.output<typeof provisionState>, Awaited<ReturnType<typeof provisioningState>>>,
  Same<z.output<typeof readinessReport>, ReadinessReport>,
  Same<(typeof SESSION_STATUSES)[number], SessionRecord['status']>,
] extends true[]
  ? true
  : never;

/** `true`; does not compile when {@link ResponseSchemasMatchRecords} is not. */
export const RESPONSE_SCHEMAS_MATCH_RECORDS: ResponseSchemasMatchRecords = true;
