/**
 * The one way a task's state changes: in one transaction, patch the task row, append a history event
 * with the next per-task sequence number, and queue a notification that Postgres delivers on commit.
 * Used by the workflow's mirror activity (every transition), the tab writes and the retry route; a
 * task's first event (task.created) is written with the task itself by insertTaskWithCreatedEvent below.
 */
import { Prisma, type Task } from '../generated/prisma/client';
import type { NewTaskEvent, TaskEventPayloads } from '../domain/events';
import { TASK_EVENTS_CHANNEL, type TaskEventNotifier } from './notifier';

/** One event to append (its type and that type's payload, src/domain/events.ts) and where. */
export type AppendTaskEventInput = NewTaskEvent & {
  taskId: string;
  /**
   * Deterministic key of the transition (e.g. `step:init_create_sandbox:started`). A second call with
   * the same key (a retried or replayed activity) changes nothing and returns the first event's seq.
   */
  dedupeKey: string;
  /** Task columns to update together with the event. */
  patch?: Prisma.TaskUpdateInput;
};

/**
 * Appends one history event (and applies `patch`) inside the caller's transaction.
 * @returns the event's sequence number and whether this call wrote it.
 * @throws Prisma's P2025 when the task does not exist.
 */
export async function appendTaskEvent(tx: Prisma.TransactionClient, notifier: TaskEventNotifier, input: AppendTaskEventInput): Promise<{ seq: number; created: boolean }> {
  const existing = await tx.taskEvent.findUnique({
    where: { taskId_dedupeKey: { taskId: input.taskId, dedupeKey: input.dedupeKey } },
    select: { seq: true },
  });
  if (existing) return { seq: existing.seq, created: false };
  // The update takes the row lock, so concurrent appends to one task get consecutive numbers.
  const task = await tx.task.update({
    where: { id: input.taskId },
    data: { ...input.patch, lastEventSeq: { increment: 1 } },
    select: { lastEventSeq: true, workspaceId: true },
  });
  await tx.taskEvent.create({
    data: {
      taskId: input.taskId,
      seq: task.lastEventSeq,
      type: input.type,
      payload: input.payload as Prisma.InputJsonValue,
      dedupeKey: input.dedupeKey,
    },
  });
  await notifier.notifyInTransaction(tx, { taskId: input.taskId, workspaceId: task.workspaceId, seq: task.lastEventSeq });
  return { seq: task.lastEventSeq, created: true };
}

/** A new task's columns, as createTask knows them. */
export interface NewTask {
  id: string;
  workspaceId: string;
  repository: string;
  prompt: string;
  requestedBranch: string | null;
  providerId: string;
  agentType: string;
  statusMessage: string;
  workflowId: string;
}

/**
 * Inserts a task in `init_enqueue_provision` together with its first history event (`task.created`,
 * seq 1, dedupe key `created`, its payload taken from the task) and the event's notification, in ONE SQL statement (two inserts in a CTE plus
 * `pg_notify`): one round trip to Postgres instead of the eight of task.create + appendTaskEvent +
 * a read-back. A new task has no earlier event, so the sequence number is known (1) and no lock or
 * dedupe lookup is needed. Outside a transaction the statement commits on its own; inside one
 * (`client` = a transaction client) it commits with it. The notification is delivered on commit, as
 * with appendTaskEvent.
 * @returns the task row as Prisma returns it.
 * @throws Prisma's P2010 (raw query failed) wrapping a unique violation if `id`/`workflowId` exist.
 */
export async function insertTaskWithCreatedEvent(client: Prisma.TransactionClient, task: NewTask): Promise<Task> {
  const created: TaskEventPayloads['task.created'] = {
    workspaceId: task.workspaceId,
    repository: task.repository,
    agent: task.agentType,
    provider: task.providerId,
    branchName: task.requestedBranch,
  };
  const notice = Prisma.sql`json_build_object('taskId', t.id, 'workspaceId', t.workspace_id, 'seq', 1)::text`;
  const rows = await client.$queryRaw<Array<{ createdAt: Date; updatedAt: Date }>>`
    WITH t AS (
      INSERT INTO tasks (id, workspace_id, repository, prompt, requested_branch, provider_id, agent_type, status, status_message, workflow_id, last_event_seq)
      VALUES (${task.id}::uuid, ${task.workspaceId}, ${task.repository}, ${task.prompt}, ${task.requestedBranch}, ${task.providerId}, ${task.agentType},
              'init_enqueue_provision'::"TaskStatus", ${task.statusMessage}, ${task.workflowId}, 1)
      RETURNING id, workspace_id, created_at, updated_at
    ), e AS (
      INSERT INTO task_events (task_id, seq, type, payload, dedupe_key)
      SELECT id, 1, 'task.created', ${JSON.stringify(created)}::jsonb, 'created' FROM t
      RETURNING seq
    )
    SELECT t.created_at AS "createdAt", t.updated_at AS "updatedAt", pg_notify(${TASK_EVENTS_CHANNEL}, ${notice})::text IS NOT NULL AS "notified"
    FROM t, e`; // pg_notify returns void, which Prisma cannot read: hence the boolean
  const row = rows[0]!;
  return {
    ...task,
    title: null,
    branchName: null,
    status: 'init_enqueue_provision',
    activeSandboxId: null,
    activeSessionId: null,
    inputTokens: 0,
    outputTokens: 0,
    sandboxState: null,
    stepTimings: {},
    stepProgress: null,
    lastEventSeq: 1,
    lastLogSeq: 0,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}
