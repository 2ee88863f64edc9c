/**
 * Writes to workbench tabs, each with its task history event in the same transaction (so the task's
 * room sees every change in sequence order): the tab row patch, and transcript appends with a dense
 * per-tab index.
 */
import type { Prisma, Task, TranscriptEntry, WorkbenchSession } from '../generated/prisma/client';
import { toSessionRecord, toTranscriptEntryRecord } from '../domain/records';
import { isSandboxReady } from '../domain/status';
import type { TaskEventNotifier } from './notifier';
import { appendTaskEvent } from './taskEvents';

/**
 * Applies `patch` to tab `sessionId` and records a `type` event carrying the tab as it now is.
 * With `dedupeKey` already used, nothing changes (a retried activity).
 */
export async function updateSession(
  tx: Prisma.TransactionClient,
  notifier: TaskEventNotifier,
  input: { sessionId: string; patch: Prisma.WorkbenchSessionUpdateInput; type: 'session.updated' | 'session.closed'; dedupeKey: string },
): Promise<void> {
  const current = await tx.workbenchSession.findUniqueOrThrow({ where: { id: input.sessionId }, select: { taskId: true } });
  const done = await tx.taskEvent.findUnique({ where: { taskId_dedupeKey: { taskId: current.taskId, dedupeKey: input.dedupeKey } }, select: { seq: true } });
  if (done) return;
  const session = await tx.workbenchSession.update({ where: { id: input.sessionId }, data: input.patch });
  await appendTaskEvent(tx, notifier, { taskId: session.taskId, type: input.type, payload: { session: toSessionRecord(session) }, dedupeKey: input.dedupeKey });
}

/**
 * Appends one transcript entry to tab `sessionId` with the next index, and a `session.transcript`
 * event. @returns the entry.
 */
export async function appendTranscriptEntry(
  tx: Prisma.TransactionClient,
  notifier: TaskEventNotifier,
  input: { sessionId: string; role: 'user' | 'agent' | 'system'; text: string; replyTo?: number; delivery?: 'pending' },
): Promise<TranscriptEntry> {
  const session = await tx.workbenchSession.update({ where: { id: input.sessionId }, data: { lastEntryIndex: { increment: 1 } } });
  const entry = await tx.transcriptEntry.create({
    data: { sessionId: input.sessionId, index: session.lastEntryIndex, role: input.role, text: input.text, replyTo: input.replyTo ?? null, delivery: input.delivery ?? null },
  });
  await appendTaskEvent(tx, notifier, {
    taskId: session.taskId,
    type: 'session.transcript',
    payload: { sessionId: input.sessionId, entry: toTranscriptEntryRecord(entry) },
    dedupeKey: `transcript:${input.sessionId}:${entry.index}`,
  });
  return entry;
}

/**
 * The sandbox a new tab of `task` can open its session in now, or null while provisioning runs.
 * Tabs wait for the whole provisioning (not just the agent step) because the task's first tab shares
 * the session provisioning opens; provisionTask releases waiting tabs right after `running`.
 */
export function readySandboxOf(task: Task): string | null {
  return task.activeSandboxId && isSandboxReady(task.status) ? task.activeSandboxId : null;
}

/**
 * Opens a tab on `task` right away, as a placeholder row; its agent session is opened later by the
 * tab's run. The tab gets the caller's `id` (`session-<uuid>`) and `workflowId` (of its run), the next
 * "Session N", status `pending_session_create` when the sandbox is ready and `pending_provision`
 * otherwise, a `session.created` event, and `firstMessage` (if given) as the first transcript entry, to
 * be sent once the tab is ready. The task's first tab with the task's own agent and no model of its own shares the session
 * provisioning opened (its key is `initialSessionKey`), so no second session is made
 * (docs/PRODUCT.md#the-first-tab-shares-the-provisioned-agent-session); every other tab's session key is its id.
 * @returns the tab row (read back when a first message was added).
 */
export async function insertSession(
  tx: Prisma.TransactionClient,
  notifier: TaskEventNotifier,
  input: { task: Task; id: string; workflowId: string; initialSessionKey: string; agent: string; model?: string | null; firstMessage?: string },
): Promise<WorkbenchSession> {
  const { task, id } = input;
  await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext(${`tabs:${task.id}`}))`;
  const last = await tx.workbenchSession.aggregate({ where: { taskId: task.id }, _max: { ordinal: true } });
  const ordinal = (last._max.ordinal ?? 0) + 1;
  const sandboxId = readySandboxOf(task);
  const session = await tx.workbenchSession.create({
    data: {
      id,
      taskId: task.id,
      ordinal,
      name: `Session ${ordinal}`,
      agent: input.agent,
      model: input.model ?? null,
      status: sandboxId ? 'pending_session_create' : 'pending_provision',
      sandboxId,
      // A model of its own needs a session opened with it: such a tab gets its own.
      sessionKey: ordinal === 1 && input.agent === task.agentType && !input.model ? input.initialSessionKey : id,
      workflowId: input.workflowId,
    },
  });
  await appendTaskEvent(tx, notifier, { taskId: task.id, type: 'session.created', payload: { session: toSessionRecord(session) }, dedupeKey: `session:${id}:created` });
  if (input.firstMessage !== undefined) {
    await appendTranscriptEntry(tx, notifier, { sessionId: id, role: 'user', text: input.firstMessage, delivery: 'pending' });
    return tx.workbenchSession.findUniqueOrThrow({ where: { id } });
  }
  return session;
}
