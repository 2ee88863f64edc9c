/**
 * Model usage records (written for the egress proxy, src/egress): one `model_usage` row per model
 * response, the task's and the tab's totals, and a `task.usage` history event, in one transaction.
 */
import { randomUUID } from 'node:crypto';
import type { PrismaClient } from '../generated/prisma/client';
import type { TaskEventNotifier } from './notifier';
import { appendTaskEvent } from './taskEvents';

export interface ModelUsageInput {
  taskId: string;
  sandboxId: string;
  provider: string;
  model: string | null;
  inputTokens: number;
  outputTokens: number;
}

/**
 * Records one response's usage. The tab it is counted for is the one tab of the sandbox with a turn
 * in progress (status `running`); with none or several (a tab can only be told by its turn, since all
 * tabs of a sandbox share its agent's token) it counts for the task alone.
 * @returns the tab it was counted for, or null.
 */
export async function recordModelUsage(prisma: PrismaClient, notifier: TaskEventNotifier, input: ModelUsageInput): Promise<{ sessionId: string | null }> {
  return prisma.$transaction(async (tx) => {
    const running = await tx.workbenchSession.findMany({
      where: { taskId: input.taskId, sandboxId: input.sandboxId, status: 'running', closed: false },
      select: { id: true },
      take: 2,
    });
    const sessionId = running.length === 1 ? running[0]!.id : null;
    await tx.modelUsage.create({
      data: { taskId: input.taskId, sessionId, provider: input.provider, model: input.model, inputTokens: input.inputTokens, outputTokens: input.outputTokens },
    });
    if (sessionId) {
      await tx.workbenchSession.update({ where: { id: sessionId }, data: { inputTokens: { increment: input.inputTokens }, outputTokens: { increment: input.outputTokens } } });
    }
    await appendTaskEvent(tx, notifier, {
      taskId: input.taskId,
      type: 'task.usage',
      payload: { sessionId, provider: input.provider, model: input.model, inputTokens: input.inputTokens, outputTokens: input.outputTokens },
      dedupeKey: `usage:${randomUUID()}`,
      patch: { inputTokens: { increment: input.inputTokens }, outputTokens: { increment: input.outputTokens } },
    });
    return { sessionId };
  });
}
