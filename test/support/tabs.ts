/**
 * A tab's turn as a test drives it: a message sent through the REST API, and the agent's reply read
 * from the transcript once the turn is over.
 */
import { authedFetch } from '../../src/dev/stack/auth';
import type { TestServices } from '../../src/dev/stack/services';
import { until } from './polling';

/** POSTs `text` to tab `tabId` of task `taskId` (expects 202) and returns the message's transcript index. */
export async function sendMessage(services: Pick<TestServices, 'baseUrl'>, taskId: string, tabId: string, text: string): Promise<number> {
  const res = await authedFetch(`${services.baseUrl}/v1/tasks/${taskId}/sessions/${tabId}/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ text }),
  });
  expect(res.status).toBe(202);
  return ((await res.json()) as { entry: { index: number } }).entry.index;
}

/** The tab's agent reply to the user message at `index`, joined, once it was sent and the turn is over. */
export async function agentReply(services: Pick<TestServices, 'prisma'>, tabId: string, index: number): Promise<string> {
  await until(
    async () => ({
      tab: await services.prisma.workbenchSession.findUniqueOrThrow({ where: { id: tabId } }),
      message: await services.prisma.transcriptEntry.findUnique({ where: { sessionId_index: { sessionId: tabId, index } } }),
    }),
    ({ tab, message }) => message?.delivery === 'sent' && tab.status !== 'running',
  );
  const entries = await services.prisma.transcriptEntry.findMany({ where: { sessionId: tabId, replyTo: index, role: 'agent' }, orderBy: { index: 'asc' } });
  return entries.map((e) => e.text).join('');
}
