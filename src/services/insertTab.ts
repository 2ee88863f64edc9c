/**
 * Inserting a workbench tab row for a task, with the ids only this layer knows how to make: the tab
 * id `session-<uuid>`, its run's workflow id, and the agent session key the task's first tab shares.
 */
import { randomUUID } from 'node:crypto';
import type { Prisma, Task, WorkbenchSession } from '../generated/prisma/client';
import { insertSession } from '../db/sessions';
import { INITIAL_SESSION_KEY } from '../providers/types';
import type { TaskEventNotifier } from '../db/notifier';
import { workbenchWorkflowId } from '../workflows/workbenchSession.contract';

/**
 * Opens a tab on `task` in `tx` (row, `session.created` event, and `firstMessage` as its first
 * transcript entry when given); see insertSession in ../db/sessions.ts.
 * @returns the tab row as committed with `tx`.
 */
export function insertTab(
  tx: Prisma.TransactionClient,
  notifier: TaskEventNotifier,
  input: { task: Task; agent: string; model?: string | null; firstMessage?: string },
): Promise<WorkbenchSession> {
  const id = `session-${randomUUID()}`;
  return insertSession(tx, notifier, { ...input, id, workflowId: workbenchWorkflowId(id), initialSessionKey: INITIAL_SESSION_KEY });
}
