/**
 * Several API processes behind one address: one client moves from API 1 to API 2 in the middle of a
 * task (as a load balancer would send its reconnect elsewhere) and resumes with the documented
 * catch-up, `subscribe { taskId, afterSeq: <last seq seen> }` (docs/REALTIME.md#guarantees-and-what-a-client-does).
 * Across both connections it receives every event of the task once, in sequence order, none missing:
 * the ones API 1 pushed live, the ones it missed while moving (replayed by API 2 from Postgres while
 * provisioning goes on), and the live ones API 2 relays afterwards (provisioning to `running`, the
 * tab's first prompt and a second message answered).
 */
import path from 'node:path';
import type { ApiServer } from '../../src/api/server';
import { createPrismaClient } from '../../src/db/prisma';
import type { TaskEventMessage } from '../../src/domain/events';
import { Gate, gatedProvider } from '../../src/dev/stack/gate';
import { createTestRepo } from '../../src/dev/stack/gitRepo';
import { runOf } from '../../src/dev/stack/runs';
import { getJson, postJson, startServices, type TestServices } from '../../src/dev/stack/services';
import { TaskEventClient } from '../../src/dev/stack/socketClient';
import { readStack } from '../../src/dev/stack/stackFile';
import { startTestApi } from '../../src/dev/stack/testApi';
import { createLogger } from '../../src/logger';

const WORKSPACE = 'ws-two-apis';

const range = (from: number, to: number) => Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);
const seqsOf = (client: TaskEventClient, taskId: string) => client.eventsOf(taskId).map((m) => m.event.seq);
/** A `session.updated` of `tabId` that ends a turn (the reply is in: unread), later than `afterSeq`. */
const turnEnded = (taskId: string, tabId: string, afterSeq: number) => (m: TaskEventMessage) =>
  m.event.taskId === taskId &&
  m.event.seq > afterSeq &&
  m.event.type === 'session.updated' &&
  (m.event.payload as { session: { id: string; status: string; unread: boolean } }).session.id === tabId &&
  (m.event.payload as { session: { status: string } }).session.status === 'ready' &&
  (m.event.payload as { session: { unread: boolean } }).session.unread === true;

describe('one client moving between two API processes mid-task', () => {
  let services: TestServices;
  let second: ApiServer | undefined;
  let secondUrl: string;
  let repo: string;
  const prisma2 = createPrismaClient(readStack().databaseUrl);
  // Read at call time by gatedProvider; every gate is opened in afterAll so a failed test holds no run.
  const gates: { createSandbox?: Gate; ensureAgent?: Gate; createSession?: Gate } = {};
  const clients: TaskEventClient[] = [];

  beforeAll(async () => {
    services = await startServices({ wrapProvider: (local) => gatedProvider(local, gates) });
    ({ api: second, baseUrl: secondUrl } = await startTestApi({
      stack: services.stack,
      prisma: prisma2,
      temporal: services.temporal,
      taskQueue: services.taskQueue,
      providerIds: [services.local.id],
      logger: createLogger('test-api-2', process.env.TEST_LOG_LEVEL ?? 'silent'),
    }));
    repo = await createTestRepo(path.join(services.repoRoot, 'repo-two-apis'));
  });

  afterAll(async () => {
    for (const c of clients) c.close();
    gates.createSandbox?.open();
    gates.ensureAgent?.open();
    gates.createSession?.open();
    await second?.close();
    await prisma2.$disconnect();
    await services?.stop();
  });

  const connect = (baseUrl: string) => {
    const client = new TaskEventClient(baseUrl, WORKSPACE);
    clients.push(client);
    return client;
  };

  it('receives every event of the task once, in order, none missing, across the move from API 1 to API 2', async () => {
    expect(secondUrl).not.toBe(services.baseUrl);
    gates.createSandbox = new Gate();
    gates.ensureAgent = new Gate();
    gates.createSession = new Gate();

    // The task (with a tab whose first prompt is sent once it is ready) is created through API 1.
    const created = await postJson(`${services.baseUrl}/v1/tasks`, { workspaceId: WORKSPACE, repository: repo, prompt: 'Move between APIs', openSession: true });
    expect(created.status).toBe(201);
    const taskId: string = created.body.id;
    const tabId: string = created.body.firstSession.id;
    await gates.createSandbox.entered;

    // Connection 1, to API 1: the history so far, then live events while the sandbox step completes.
    const onFirst = connect(services.baseUrl);
    const ack1 = await onFirst.subscribe({ taskId, afterSeq: 0 });
    expect(ack1.ok).toBe(true);
    const heldAt = ack1.task!.lastEventSeq;
    expect(ack1.replayed).toBeGreaterThan(0); // the history so far, from seq 1
    gates.createSandbox.open();
    await onFirst.waitFor((m) => m.event.taskId === taskId && m.event.seq > heldAt); // pushed live by API 1

    // The client drops off API 1; only then does the agent step go on (its events are written while
    // the client is connected nowhere), up to the held session step.
    onFirst.close();
    const fromFirst = seqsOf(onFirst, taskId);
    expect(fromFirst).toEqual(range(1, fromFirst.length));
    const lastSeen = fromFirst[fromFirst.length - 1]!;
    gates.ensureAgent.open();
    await gates.createSession.entered;

    // Connection 2, to API 2, resuming from the last seq seen while the rest of the task runs concurrently.
    const onSecond = connect(secondUrl);
    gates.createSession.open();
    const ack2 = await onSecond.subscribe({ taskId, afterSeq: lastSeen });
    expect(ack2.ok).toBe(true);
    expect(ack2.replayed).toBeGreaterThan(0); // the move lost events that API 2 replayed from Postgres

    // The task finishes through API 2: running, the tab's first prompt answered, a second message answered.
    await onSecond.waitFor((m) => m.event.taskId === taskId && m.task.status === 'running');
    const firstTurn = await onSecond.waitFor(turnEnded(taskId, tabId, 0));
    await (await runOf(services.temporal, created.body.workflowId)).result();
    const sent = await postJson(`${secondUrl}/v1/tasks/${taskId}/sessions/${tabId}/messages`, { text: 'And once more' });
    expect(sent.status).toBe(202);
    await onSecond.waitFor(turnEnded(taskId, tabId, firstTurn.event.seq));

    // Every event the task has, as stored, reached the client.
    const history = await getJson(`${secondUrl}/v1/tasks/${taskId}/events?limit=500`);
    expect(history.status).toBe(200);
    const stored = history.body.items as Array<{ seq: number; type: string }>;
    expect(stored.map((e) => e.seq)).toEqual(range(1, stored.length));
    await onSecond.waitFor((m) => m.event.taskId === taskId && m.event.seq === stored.length);

    const fromSecond = seqsOf(onSecond, taskId);
    const received = [...onFirst.eventsOf(taskId), ...onSecond.eventsOf(taskId)];
    const all = received.map((m) => m.event.seq);
    expect(fromFirst.length).toBeGreaterThan(0);
    expect(fromSecond.length).toBeGreaterThan(0);
    expect(fromSecond[0]).toBe(lastSeen + 1); // API 2 continued exactly where API 1 left off
    expect(fromSecond.length).toBeGreaterThan(ack2.replayed!); // and relayed live events too, not only the replay
    expect(all).toEqual(range(1, all[all.length - 1]!)); // strictly increasing from 1: each once, in order, no gap
    expect(all.length).toBeGreaterThanOrEqual(stored.length);
    expect(received.slice(0, stored.length).map((m) => m.event.type)).toEqual(stored.map((e) => e.type));
    const { lastEventSeq } = await services.prisma.task.findUniqueOrThrow({ where: { id: taskId } });
    expect(all[all.length - 1]).toBeLessThanOrEqual(lastEventSeq);
  });
});
