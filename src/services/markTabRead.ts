/** Clearing a tab's unread mark (set when the agent finished a turn). */
import type { WorkbenchSession } from '../generated/prisma/client';
import { updateSession } from '../db/sessions';
import type { ServiceDeps } from './deps';

/**
 * Clears `found`'s unread mark with a `session.updated` event (once per transcript position); a tab
 * already read changes nothing.
 * @returns the tab as it now is.
 */
export async function markTabRead(deps: Pick<ServiceDeps, 'prisma' | 'notifier'>, found: WorkbenchSession): Promise<WorkbenchSession> {
  if (found.unread) {
    await deps.prisma.$transaction((tx) =>
      updateSession(tx, deps.notifier, { sessionId: found.id, type: 'session.updated', patch: { unread: false }, dedupeKey: `read:${found.id}:${found.lastEntryIndex}` }),
    );
  }
  return deps.prisma.workbenchSession.findUniqueOrThrow({ where: { id: found.id } });
}
