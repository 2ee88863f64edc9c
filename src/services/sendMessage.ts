/**
 * Sending a user message to a tab's agent: the message is stored in the transcript first, then the
 * tab's run is told to send it; the reply streams into the transcript as the agent answers.
 */
import type { TranscriptEntry, WorkbenchSession } from '../generated/prisma/client';
import { appendTranscriptEntry } from '../db/sessions';
import { signalUnlessEnded } from '../temporal/client';
import { sendMessageSignal } from '../workflows/workbenchSession.contract';
import type { ServiceDeps } from './deps';
import { DomainError } from './errors';

/**
 * Appends `text` to `found`'s transcript as a pending user message (under the tab's row lock, so the
 * status check and the append are one decision) and signals the tab's run to send it.
 * @returns the stored transcript entry.
 * @throws DomainError conflict `session_not_ready` when the tab is pending, in error or closed:
 *   nothing is stored then.
 */
export async function sendMessage(deps: Pick<ServiceDeps, 'prisma' | 'notifier' | 'temporal'>, found: WorkbenchSession, text: string): Promise<TranscriptEntry> {
  const entry = await deps.prisma.$transaction(async (tx) => {
    const [row] = await tx.$queryRaw<Array<{ status: string; closed: boolean }>>`SELECT status::text AS status, closed FROM workbench_sessions WHERE id = ${found.id} FOR UPDATE`;
    if (!row || row.closed || (row.status !== 'ready' && row.status !== 'running')) {
      throw new DomainError('conflict', 'session_not_ready', `the session is ${row?.closed ? 'closed' : row?.status}; messages can be sent once it is ready`);
    }
    return appendTranscriptEntry(tx, deps.notifier, { sessionId: found.id, role: 'user', text, delivery: 'pending' });
  });
  await signalUnlessEnded(deps.temporal, found.workflowId, (h) => h.signal(sendMessageSignal, { entryIndex: entry.index }));
  return entry;
}
