/**
 * Checks shared by the fault tests: a task that survived a fault ended `running` with exactly one of
 * everything, and a Socket.IO client holds every event once, in order.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { listAcpServers } from '../../src/providers/local/acpClient';
import type { AgentTarget } from '../../src/providers/local/agentHttp';
import type { TestServices } from '../../src/dev/stack/services';
import type { TaskEventClient } from '../../src/dev/stack/socketClient';

/** Asserts `taskId` is `running` with exactly one sandbox row, one live sandbox-agent process (the recorded one) and one agent session. */
export async function expectOneOfEverything(services: TestServices, taskId: string): Promise<void> {
  const task = await services.prisma.task.findUniqueOrThrow({ where: { id: taskId } });
  expect(task.status).toBe('running');
  const sandboxes = await services.prisma.sandbox.findMany({ where: { taskId } });
  expect(sandboxes).toHaveLength(1);
  const details = sandboxes[0]!.details as { agentPid?: number };
  expect(services.local.agentProcesses(sandboxes[0]!.id)).toEqual([details.agentPid]);
  const agent = JSON.parse(readFileSync(path.join(services.local.paths(sandboxes[0]!.id).host, 'agent.json'), 'utf8')) as AgentTarget;
  expect(await listAcpServers({ ...agent, timeoutMs: 2_000 })).toHaveLength(1);
}

/**
 * Asserts the task's history is dense (1..N) and `client` received every event after `snapshotSeq`
 * (its subscribe ack's lastEventSeq; a client drops events at or below it) once, in order.
 */
export async function expectClientHasEveryEvent(services: TestServices, client: TaskEventClient, taskId: string, snapshotSeq: number): Promise<void> {
  const rows = (await services.prisma.taskEvent.findMany({ where: { taskId }, orderBy: { seq: 'asc' }, select: { seq: true } })).map((r) => r.seq);
  expect(rows).toEqual(rows.map((_, i) => i + 1));
  const seen = client
    .eventsOf(taskId)
    .map((m) => m.event.seq)
    .filter((seq) => seq > snapshotSeq);
  expect(seen).toEqual(rows.filter((seq) => seq > snapshotSeq));
}
