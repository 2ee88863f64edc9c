/** Saving a tab's draft message, so it survives reloads. */
import type { WorkbenchSession } from '../generated/prisma/client';
import type { ServiceDeps } from './deps';

/** Replaces `found`'s draft with `draft` (no history event). @returns the tab as it now is. */
export function saveDraft(deps: Pick<ServiceDeps, 'prisma'>, found: WorkbenchSession, draft: string): Promise<WorkbenchSession> {
  return deps.prisma.workbenchSession.update({ where: { id: found.id }, data: { draft } });
}
