/**
 * appendTaskEvent: dense per-task sequence numbers under concurrency, and exactly one event per
 * transition key however often a (retried) activity writes it.
 */
import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { createPrismaClient, type PrismaClient } from '../../src/db/prisma';
import { appendTaskEvent, insertTaskWithCreatedEvent, type NewTask } from '../../src/db/taskEvents';
import { TASK_EVENTS_CHANNEL, pgNotifier } from '../../src/db/notifier';
import { readStack } from '../../src/dev/stack/stackFile';

describe('appendTaskEvent', () => {
  const { databaseUrl } = readStack();
  let prisma: PrismaClient;
  const newTask = async () => {
    const id = randomUUID();
    await prisma.task.create({
      data: { id, workspaceId: 'ws-events', repository: '/repo', prompt: 'p', providerId: 'local', agentType: 'claude', statusMessage: 'provision queued', workflowId: `wf-${id}` },
    });
    return id;
  };

  beforeAll(() => {
    prisma = createPrismaClient(databaseUrl);
  });
  afterAll(async () => {
    await prisma.$disconnect();
  });

  it('gives concurrent appends to one task consecutive numbers from 1', async () => {
    const taskId = await newTask();
    const seqs = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        prisma.$transaction((tx) =>
          appendTaskEvent(tx, pgNotifier, { taskId, type: 'task.step', payload: { step: 'init_ensure_name', status: 'started', message: `event ${i}` }, dedupeKey: `k${i}` }),
        ),
      ),
    );
    expect(seqs.map((s) => s.seq).sort((a, b) => a - b)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    const task = await prisma.task.findUniqueOrThrow({ where: { id: taskId } });
    expect(task.lastEventSeq).toBe(12);
  });

  it('writes a transition once however often it is repeated, and applies its patch once', async () => {
    const taskId = await newTask();
    const write = () =>
      prisma.$transaction((tx) =>
        appendTaskEvent(tx, pgNotifier, {
          taskId,
          type: 'task.step',
          payload: { step: 'init_ensure_name', status: 'started', message: 'naming task' },
          dedupeKey: 'run1:init_ensure_name:started',
          patch: { status: 'init_ensure_name', statusMessage: 'naming task' },
        }),
      );
    expect(await write()).toEqual({ seq: 1, created: true });
    await prisma.task.update({ where: { id: taskId }, data: { statusMessage: 'moved on' } });
    expect(await write()).toEqual({ seq: 1, created: false });
    expect(await prisma.taskEvent.count({ where: { taskId } })).toBe(1);
    expect((await prisma.task.findUniqueOrThrow({ where: { id: taskId } })).statusMessage).toBe('moved on');
  });

  it('notifies on commit only, never for a rolled-back transaction', async () => {
    const taskId = await newTask();
    const listener = new Client({ connectionString: databaseUrl });
    await listener.connect();
    const notices: unknown[] = [];
    listener.on('notification', (n) => notices.push(JSON.parse(n.payload!)));
    await listener.query(`LISTEN ${TASK_EVENTS_CHANNEL}`);
    try {
      await expect(
        prisma.$transaction(async (tx) => {
          await appendTaskEvent(tx, pgNotifier, { taskId, type: 'task.retry', payload: { previousStatusMessage: 'doomed' }, dedupeKey: 'doomed' });
          throw new Error('roll back');
        }),
      ).rejects.toThrow('roll back');
      await prisma.$transaction((tx) => appendTaskEvent(tx, pgNotifier, { taskId, type: 'task.retry', payload: { previousStatusMessage: 'kept' }, dedupeKey: 'kept' }));
      await listener.query('SELECT 1'); // round trip: pending notifications have been delivered
      expect(notices).toEqual([{ taskId, workspaceId: 'ws-events', seq: 1 }]);
      expect(await prisma.taskEvent.findMany({ where: { taskId }, select: { seq: true, dedupeKey: true } })).toEqual([{ seq: 1, dedupeKey: 'kept' }]);
    } finally {
      await listener.end();
    }
  });

  describe("insertTaskWithCreatedEvent (createTask's one statement)", () => {
    const input = (): NewTask => {
      const id = randomUUID();
      return {
        id,
        workspaceId: 'ws-events',
        repository: '/repo',
        prompt: 'p',
        requestedBranch: 'feature/x',
        providerId: 'local',
        agentType: 'claude',
        statusMessage: 'provision queued',
        workflowId: `wf-${id}`,
      };
    };
    const listen = async () => {
      const listener = new Client({ connectionString: databaseUrl });
      await listener.connect();
      const notices: unknown[] = [];
      listener.on('notification', (n) => notices.push(JSON.parse(n.payload!)));
      await listener.query(`LISTEN ${TASK_EVENTS_CHANNEL}`);
      return { listener, notices };
    };

    it('writes the row, event seq 1 and its notice, and returns the row exactly as stored', async () => {
      const { listener, notices } = await listen();
      try {
        const task = input();
        const returned = await insertTaskWithCreatedEvent(prisma, task);
        await listener.query('SELECT 1');
        expect(returned).toEqual(await prisma.task.findUniqueOrThrow({ where: { id: task.id } }));
        expect(returned).toMatchObject({ status: 'init_enqueue_provision', lastEventSeq: 1, requestedBranch: 'feature/x' });
        expect(await prisma.taskEvent.findMany({ where: { taskId: task.id }, select: { seq: true, type: true, payload: true, dedupeKey: true } })).toEqual([
          {
            seq: 1,
            type: 'task.created',
            payload: { workspaceId: 'ws-events', repository: '/repo', agent: 'claude', provider: 'local', branchName: 'feature/x' },
            dedupeKey: 'created',
          },
        ]);
        expect(notices).toEqual([{ taskId: task.id, workspaceId: 'ws-events', seq: 1 }]);
        // A later event continues the sequence.
        expect(
          await prisma.$transaction((tx) =>
            appendTaskEvent(tx, pgNotifier, { taskId: task.id, type: 'task.retry', payload: { previousStatusMessage: 'next' }, dedupeKey: 'next' }),
          ),
        ).toEqual({
          seq: 2,
          created: true,
        });
      } finally {
        await listener.end();
      }
    });

    it('inside a transaction that rolls back, leaves no row, no event and no notice; a duplicate id fails whole', async () => {
      const { listener, notices } = await listen();
      try {
        const task = input();
        await expect(
          prisma.$transaction(async (tx) => {
            await insertTaskWithCreatedEvent(tx, task);
            throw new Error('roll back');
          }),
        ).rejects.toThrow('roll back');
        const kept = input();
        await insertTaskWithCreatedEvent(prisma, kept);
        await expect(insertTaskWithCreatedEvent(prisma, { ...input(), id: kept.id })).rejects.toThrow();
        await listener.query('SELECT 1');
        expect(await prisma.task.count({ where: { id: task.id } })).toBe(0);
        expect(await prisma.taskEvent.count({ where: { taskId: { in: [task.id, kept.id] } } })).toBe(1);
        expect(notices).toEqual([{ taskId: kept.id, workspaceId: 'ws-events', seq: 1 }]);
      } finally {
        await listener.end();
      }
    });
  });
});
