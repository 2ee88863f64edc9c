/** Asking a tab in `error` for a new attempt: its run opens the agent session again. */
import type { WorkbenchSession } from '../generated/prisma/client';
import { signalUnlessEnded } from '../temporal/client';
import { retrySessionSignal } from '../workflows/workbenchSession.contract';
import type { ServiceDeps } from './deps';
import { DomainError } from './errors';

/**
 * Signals `found`'s run to try again.
 * @returns `found` unchanged (the new attempt shows in its events).
 * @throws DomainError conflict `session_not_in_error` unless the tab is open and in `error`.
 */
export async function retryTab(deps: Pick<ServiceDeps, 'temporal'>, found: WorkbenchSession): Promise<WorkbenchSession> {
  if (found.closed || found.status !== 'error') throw new DomainError('conflict', 'session_not_in_error', `the session is ${found.closed ? 'closed' : found.status}`);
  await signalUnlessEnded(deps.temporal, found.workflowId, (h) => h.signal(retrySessionSignal));
  return found;
}
