/** Closing a tab, whatever its status (a soft delete): its run then ends the agent session. */
import type { WorkbenchSession } from '../generated/prisma/client';
import { updateSession } from '../db/sessions';
import { signalUnlessEnded } from '../temporal/client';
import { closeSessionSignal } from '../workflows/workbenchSession.contract';
import type { ServiceDeps } from './deps';

/**
 * Marks `found` closed with a `session.closed` event (once) and signals its run to end the agent
 * session, including one still being created. Closing a closed tab changes nothing.
 * @returns the tab as it now is (closed).
 */
export async function closeTab(deps: Pick<ServiceDeps, 'prisma' | 'notifier' | 'temporal'>, found: WorkbenchSession): Promise<WorkbenchSession> {
  if (!found.closed) {
    await deps.prisma.$transaction((tx) =>
      updateSession(tx, deps.notifier, { sessionId: found.id, type: 'session.closed', patch: { closed: true, closedAt: new Date() }, dedupeKey: `session:${found.id}:closed` }),
    );
  }
  await signalUnlessEnded(deps.temporal, found.workflowId, (h) => h.signal(closeSessionSignal));
  return deps.prisma.workbenchSession.findUniqueOrThrow({ where: { id: found.id } });
}
