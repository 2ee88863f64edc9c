/**
 * History events of a task: the one statement of every event type and its payload
 * (docs/PRODUCT.md#history-events). The code that appends events takes {@link NewTaskEvent}, so a
 * payload that does not fit its type does not compile; REST and Socket.IO send
 * {@link TaskEventRecord}, a union discriminated by `type`. The OpenAPI document mirrors it as a
 * `oneOf` with a discriminator (src/api/openapi/events.ts, checked against these types by `tsc`), the
 * typed client's types are generated from that document, and docs/REALTIME.md's event table is
 * generated from it too (scripts/generate-client-types.ts). Types only: workflow code imports it.
 */
import type { TaskEvent } from '../generated/prisma/client';
import type { ModelUsageTotals, SessionRecord, TaskRecord, TranscriptEntryRecord } from './records';
import type { SandboxState, SandboxStateReason } from './sandboxLifecycle';
import type { ProvisionStep, TaskStatus } from './status';

/** What the kill or archive of a task did (`task.kill`, `task.archive`). */
export interface TaskReleasedPayload {
  /** The provisioning run was still going and was cancelled. */
  provisioningCancelled: boolean;
  /** Tabs closed. */
  tabsClosed: number;
  /** Sandboxes destroyed. */
  sandboxesDestroyed: number;
}

/** A tab as it is after the change (`session.created`, `session.updated`, `session.closed`). */
export interface TabPayload {
  session: SessionRecord;
}

/** Event type → payload. Adding an event type starts here. */
export interface TaskEventPayloads {
  /** The task was created (always seq 1), with what it was created with. */
  'task.created': { workspaceId: string; repository: string; agent: string; provider: string; branchName: string | null };
  /** Step `init_ensure_name` chose the task's title and branch. */
  'task.named': { title: string; branchName: string };
  /**
   * A provisioning step started or completed. `message` is the step's status message. A completed
   * `init_create_sandbox` names its `sandboxId`; a completed `init_ensure_agent` its sandbox-agent's
   * `endpoint` (an address on the sandbox's host).
   */
  'task.step': { step: ProvisionStep; status: 'started' | 'completed'; message: string; sandboxId?: string; endpoint?: string };
  /** Provisioning is done: the task is `running`, with its sandbox and first agent session. */
  'task.initialized': { provider: string; sandboxId: string; sessionId: string; agent: string };
  /**
   * Provisioning failed for good: the task is in `error`. `step` is the step that failed (the status
   * the task had), `type` the failure's type (src/domain/failures.ts), `detail` one sentence. When the
   * sandbox's host was lost, `sandboxId` and `hostId` name them. `logTail`: the last lines the failed
   * step wrote to the task's provisioning log (src/domain/taskLogs.ts), added when the event is written.
   */
  'task.error': { step: TaskStatus; type: string; detail: string; sandboxId?: string; hostId?: string; logTail?: string[] };
  /** Provisioning of a task in `error` was started again. */
  'task.retry': { previousStatusMessage: string };
  /** The task was killed and cleaned up: it is `killed`. */
  'task.kill': TaskReleasedPayload;
  /** The task was archived (agent stopped, sandbox released, record and history kept): it is `archived`. */
  'task.archive': TaskReleasedPayload;
  /** A tab was opened. */
  'session.created': TabPayload;
  /** A tab changed (status, unread, error, usage). */
  'session.updated': TabPayload;
  /** A tab was closed. */
  'session.closed': TabPayload;
  /** A transcript entry was added to tab `sessionId` (one per chunk of a reply). */
  'session.transcript': { sessionId: string; entry: TranscriptEntryRecord };
  /** The task's sandbox changed lifecycle state (docs/PRODUCT.md#sandbox-lifecycle). */
  'sandbox.state': { sandboxId: string; state: SandboxState; previous: SandboxState; reason: SandboxStateReason; message: string };
  /**
   * A model response's token usage was recorded by the egress proxy (docs/PRODUCT.md#agents).
   * `sessionId` is the tab whose turn it was, or null; the task record (and the tab's) carry the totals.
   */
  'task.usage': { sessionId: string | null; provider: string; model: string | null } & ModelUsageTotals;
}

/** A history event type. */
export type TaskEventType = keyof TaskEventPayloads;

/** An event to append: its type and the payload of that type. */
export type NewTaskEvent = { [K in TaskEventType]: { type: K; payload: TaskEventPayloads[K] } }[TaskEventType];

/** One history event as REST and Socket.IO send it; `seq` is dense per task from 1, `createdAt` ISO-8601. */
export type TaskEventRecord = { [K in TaskEventType]: { taskId: string; seq: number; type: K; payload: TaskEventPayloads[K]; createdAt: string } }[TaskEventType];

/** Payload of every `task.event` Socket.IO message: the task as it is after the event, and the event. */
export interface TaskEventMessage {
  task: TaskRecord;
  event: TaskEventRecord;
}

/**
 * A stored event as clients see it. Rows are written only through src/db/taskEvents.ts, whose input
 * is a {@link NewTaskEvent}, so the stored type and payload agree; this is where the JSON column is
 * read back as the union.
 */
export function toTaskEventRecord(e: TaskEvent): TaskEventRecord {
  return { taskId: e.taskId, seq: e.seq, type: e.type, payload: e.payload, createdAt: e.createdAt.toISOString() } as TaskEventRecord;
}
