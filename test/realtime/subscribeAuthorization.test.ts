/**
 * A socket may follow only its own workspace's tasks: subscribing to another workspace's task acks
 * `task_not_found` and never puts the socket in that task's room, not even while the subscription is
 * being checked. The API's Prisma client holds workspace B's task read on a gate, and while it is held
 * an event of workspace A's task is relayed to A's task room: B must not receive it.
 */
import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import type { ApiServer } from '../../src/api/server';
import { pgNotifier } from '../../src/db/notifier';
import { createPrismaClient, type PrismaClient } from '../../src/db/prisma';
import { appendTaskEvent, insertTaskWithCreatedEvent } from '../../src/db/taskEvents';
import { createTemporalClient } from '../../src/temporal/client';
import { Gate } from '../../src/dev/stack/gate';
import { TaskEventClient } from '../../src/dev/stack/socketClient';
import { readStack } from '../../src/dev/stack/stackFile';
import { startTestApi } from '../../src/dev/stack/testApi';

const stack = readStack();
const WS_A = 'ws-subscribe-authz-a';
const WS_B = 'ws-subscribe-authz-b';

/** The `task.event` messages `c` received, as `<workspaceId>/<taskId>#<seq>`. */
const received = (c: TaskEventClient) => c.messages.map((m) => `${m.task.workspaceId}/${m.event.taskId}#${m.event.seq}`);

/**
 * `prisma` with `task.findFirst` held at `gate()` (when it returns one) for reads scoped to
 * workspace B; everything else goes straight to the real client.
 */
function holdingReadsOfB(prisma: PrismaClient, gate: () => Gate | undefined): PrismaClient {
  const bound = (target: object, prop: string | symbol) => {
    const value: unknown = Reflect.get(target, prop, target);
    return typeof value === 'function' ? value.bind(target) : value;
  };
  const task = new Proxy(prisma.task, {
    get: (target, prop) =>
      prop === 'findFirst'
        ? async (args: Parameters<PrismaClient['task']['findFirst']>[0]) => {
            const held = gate();
            if (held && args?.where?.workspaceId === WS_B) await held.pass();
            return target.findFirst(args);
          }
        : bound(target, prop),
  });
  return new Proxy(prisma, { get: (target, prop) => (prop === 'task' ? task : bound(target, prop)) });
}

describe('subscribing to another workspace’s task', () => {
  const prisma = createPrismaClient(stack.databaseUrl);
  let temporal: Client;
  let api: ApiServer;
  let baseUrl: string;
  let gate: Gate | undefined;
  const clients: TaskEventClient[] = [];

  beforeAll(async () => {
    temporal = await createTemporalClient({ address: stack.temporalAddress, namespace: stack.namespace });
    ({ api, baseUrl } = await startTestApi({
      stack,
      prisma: holdingReadsOfB(prisma, () => gate),
      temporal,
      taskQueue: `test-${randomUUID()}`,
    }));
  });
  afterEach(() => {
    gate?.open();
    gate = undefined;
    clients.splice(0).forEach((c) => c.close());
  });
  afterAll(async () => {
    await api?.close();
    await temporal?.connection.close();
    await prisma.$disconnect();
  });

  function client(workspaceId: string): TaskEventClient {
    const c = new TaskEventClient(baseUrl, workspaceId);
    clients.push(c);
    return c;
  }

  /** A task of workspace A with its `task.created` event (seq 1), written straight to Postgres. */
  async function taskOfA(): Promise<string> {
    const id = randomUUID();
    const task = {
      id,
      workspaceId: WS_A,
      repository: '/nowhere',
      prompt: 'authz',
      requestedBranch: null,
      providerId: 'local',
      agentType: 'claude',
      statusMessage: 'queued',
      workflowId: `provision-task-${id}`,
    };
    await insertTaskWithCreatedEvent(prisma, task);
    return id;
  }

  /** Appends one event to `taskId` as the service does (its notification is relayed on commit); returns its seq. */
  async function append(taskId: string): Promise<number> {
    const { seq } = await prisma.$transaction((tx) =>
      appendTaskEvent(tx, pgNotifier, { taskId, type: 'task.step', payload: { step: 'init_ensure_name', status: 'started', message: 'authz' }, dedupeKey: `test:${randomUUID()}` }),
    );
    return seq;
  }

  it.each<[string, { afterSeq?: number }]>([
    ['without afterSeq', {}],
    ['with afterSeq', { afterSeq: 0 }],
  ])('acks task_not_found and delivers none of its events, also while the subscription is being checked (%s)', async (_, extra) => {
    // A follows its workspace, and the task once its first event has been relayed (nothing older is in flight).
    const a = client(WS_A);
    const b = client(WS_B);
    expect(await a.subscribe({ workspaceId: WS_A })).toEqual({ ok: true });
    const taskId = await taskOfA();
    await a.waitFor((m) => m.event.taskId === taskId && m.event.seq === 1);
    expect(await a.subscribe({ taskId })).toEqual(expect.objectContaining({ ok: true }));

    // B's subscription is held inside its task read while an event of A's task is pushed to A's room.
    gate = new Gate();
    const bAck = b.socket.timeout(60_000).emitWithAck('subscribe', { taskId, ...extra });
    await gate.entered;
    expect(await append(taskId)).toBe(2);
    await a.waitFor((m) => m.event.taskId === taskId && m.event.seq === 2);
    gate.open();

    // The ack follows on B's connection whatever the server sent B before it.
    expect(await bAck).toEqual({ ok: false, error: { code: 'task_not_found', message: `no task ${taskId}`, field: 'taskId' } });
    expect(received(b)).toEqual([]);

    // B is not in the room afterwards either: a later event reaches A, and B's next ack comes without it.
    expect(await append(taskId)).toBe(3);
    await a.waitFor((m) => m.event.taskId === taskId && m.event.seq === 3);
    expect(await b.subscribe({ workspaceId: WS_B })).toEqual({ ok: true });
    expect(received(b)).toEqual([]);
    expect(a.eventsOf(taskId).map((m) => m.event.seq)).toEqual([1, 2, 3]);
  });
});
