/**
 * Realtime across a database outage: the API (its relay's LISTEN connection and its Prisma client)
 * reaches Postgres through a fault-injecting proxy that the test cuts and restores, while events are
 * written straight to Postgres. Whatever the outage's length, once Postgres answers again the relay
 * LISTENs again by itself and every subscribed client gets every event of its tasks exactly once, in
 * order: the missed ones from Postgres, then the live ones.
 */
import { randomUUID } from 'node:crypto';
import pino from 'pino';
import type { Client } from '@temporalio/client';
import { createPrismaClient, type PrismaClient } from '../../src/db/prisma';
import { appendTaskEvent, insertTaskWithCreatedEvent } from '../../src/db/taskEvents';
import { pgNotifier } from '../../src/db/notifier';
import { createTemporalClient } from '../../src/temporal/client';
import { TaskEventClient } from '../../src/dev/stack/socketClient';
import { readStack } from '../../src/dev/stack/stackFile';
import { startTcpProxy, viaProxy, type TcpProxy } from '../support/tcpProxy';
import { startTestApi } from '../../src/dev/stack/testApi';

const stack = readStack();

/** Log lines of one API, as pino writes them. */
type LogLine = { level: number; msg: string; [k: string]: unknown };
const WARN = 40;
const INFO = 30;
/** The outage line of the API's one LISTEN connection (task events and provisioning logs: src/realtime/realtimeRelays.ts). */
const DOWN_MSG = /^realtime LISTEN connection is down/;
const BACK_MSG = /LISTEN is back/;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until `pred` holds (checked every 50 ms); fails after `timeoutMs` with `what`. */
async function until(pred: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
const seqsOf = (c: TaskEventClient, taskId: string) => c.eventsOf(taskId).map((m) => m.event.seq);

describe('realtime across a database outage', () => {
  const direct: PrismaClient = createPrismaClient(stack.databaseUrl);
  const target = new URL(stack.databaseUrl);
  let temporal: Client;
  const cleanups: Array<() => Promise<void> | void> = [];

  beforeAll(async () => {
    temporal = await createTemporalClient({ address: stack.temporalAddress, namespace: stack.namespace });
  });
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  afterAll(async () => {
    await temporal?.connection.close();
    await direct.$disconnect();
  });

  /**
   * Starts a proxy to the run's Postgres and an API behind it. `relayDirect`: only the API's Prisma
   * client goes through the proxy, the relay LISTENs directly. Resolves once the API listens.
   */
  async function proxiedApi(opts: { relayDirect?: boolean; proxy?: TcpProxy } = {}) {
    const proxy = opts.proxy ?? (await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) }));
    const proxiedUrl = viaProxy(stack.databaseUrl, proxy);
    const prisma = createPrismaClient(proxiedUrl);
    const logs: LogLine[] = [];
    const logger = pino({ name: 'api-behind-proxy', level: 'debug' }, { write: (line: string) => void logs.push(JSON.parse(line) as LogLine) });
    cleanups.push(() => proxy.close());
    cleanups.push(() => prisma.$disconnect());
    const { api, baseUrl } = await startTestApi({
      stack,
      prisma,
      temporal,
      taskQueue: `test-${randomUUID()}`,
      logger,
      databaseUrl: opts.relayDirect ? stack.databaseUrl : proxiedUrl,
    });
    cleanups.push(() => api.close());
    return { proxy, api, baseUrl, logs };
  }

  function client(baseUrl: string, workspaceId: string): TaskEventClient {
    const c = new TaskEventClient(baseUrl, workspaceId);
    cleanups.push(() => c.close());
    return c;
  }

  /** A task with its `task.created` event (seq 1), written straight to Postgres. */
  async function createTask(workspaceId: string): Promise<string> {
    const id = randomUUID();
    await insertTaskWithCreatedEvent(direct, {
      id,
      workspaceId,
      repository: '/nowhere',
      prompt: 'outage',
      requestedBranch: null,
      providerId: 'local',
      agentType: 'claude',
      statusMessage: 'queued',
      workflowId: `provision-task-${id}`,
    });
    return id;
  }

  /** Appends `count` events to `taskId` straight to Postgres, one transaction each; returns their seqs. */
  async function append(taskId: string, count: number): Promise<number[]> {
    const seqs: number[] = [];
    for (let i = 0; i < count; i++) {
      const { seq } = await direct.$transaction((tx) =>
        appendTaskEvent(tx, pgNotifier, {
          taskId,
          type: 'task.step',
          payload: { step: 'init_ensure_name', status: 'started', message: `event ${i}` },
          dedupeKey: `test:${randomUUID()}`,
        }),
      );
      seqs.push(seq);
    }
    return seqs;
  }

  /**
   * A task followed by one socket in its workspace room (subscribed before the task existed: it has
   * seqs 1..3) and one in its task room (subscribed after seq 1: it has 2..3), all received live.
   */
  async function followedTask(baseUrl: string, workspaceId: string) {
    const byWorkspace = client(baseUrl, workspaceId);
    expect(await byWorkspace.subscribe({ workspaceId })).toEqual({ ok: true });
    const taskId = await createTask(workspaceId);
    await byWorkspace.waitFor((m) => m.event.taskId === taskId && m.event.seq === 1);
    const byTask = client(baseUrl, workspaceId);
    const ack = await byTask.subscribe({ taskId });
    expect(ack).toEqual(expect.objectContaining({ ok: true, task: expect.objectContaining({ lastEventSeq: 1 }) }));
    expect(await append(taskId, 2)).toEqual([2, 3]);
    for (const c of [byTask, byWorkspace]) await c.waitFor((m) => m.event.taskId === taskId && m.event.seq === 3);
    /** Asserts that both sockets have every event of the task up to `last`, each once, in order. */
    const expectAllUpTo = (last: number) => {
      expect(seqsOf(byWorkspace, taskId)).toEqual(range(1, last));
      expect(seqsOf(byTask, taskId)).toEqual(range(2, last));
    };
    return { taskId, clients: [byTask, byWorkspace] as const, byTask, byWorkspace, expectAllUpTo };
  }

  it('after a short outage, delivers exactly the missed events in order, then keeps relaying live', async () => {
    const { proxy, api, baseUrl, logs } = await proxiedApi();
    const workspaceId = `ws-outage-short-${randomUUID().slice(0, 8)}`;
    const { taskId, clients, expectAllUpTo } = await followedTask(baseUrl, workspaceId);

    await proxy.cut();
    await until(() => !api.relay.listening, 'the relay to notice the outage');
    expect(api.relay.downSince).toBeInstanceOf(Date);
    expect(api.relay.lastError).toBeInstanceOf(Error);
    expect(await append(taskId, 4)).toEqual([4, 5, 6, 7]);
    await sleep(1500);
    expect(api.relay.listening).toBe(false);
    await proxy.restore();

    for (const c of clients) await c.waitFor((m) => m.event.taskId === taskId && m.event.seq === 7);
    expect(api.relay.listening).toBe(true);
    expect(api.relay.downSince).toBeNull();
    expect(await append(taskId, 2)).toEqual([8, 9]);
    for (const c of clients) await c.waitFor((m) => m.event.taskId === taskId && m.event.seq === 9);
    expectAllUpTo(9);
    await until(() => logs.some((l) => BACK_MSG.test(l.msg)), 'the recovery log line');
    expect(logs.filter((l) => l.level === WARN && DOWN_MSG.test(l.msg))).toHaveLength(1);
    expect(logs.filter((l) => l.level === INFO && BACK_MSG.test(l.msg))).toEqual([expect.objectContaining({ caughtUpEvents: 4, caughtUpMessages: 8 })]);
  });

  it('after an outage spanning many reconnect attempts, delivers what was missed and what comes after, each once', async () => {
    const { proxy, api, baseUrl, logs } = await proxiedApi();
    const workspaceId = `ws-outage-long-${randomUUID().slice(0, 8)}`;
    const { taskId, clients, byTask, byWorkspace, expectAllUpTo } = await followedTask(baseUrl, workspaceId);
    // A second task of the workspace, created during the outage: only the workspace socket follows it.
    await proxy.cut();
    await until(() => !api.relay.listening, 'the relay to notice the outage');
    expect(await append(taskId, 3)).toEqual([4, 5, 6]);
    await sleep(4000);
    const second = await createTask(workspaceId);
    expect(await append(second, 1)).toEqual([2]);
    await sleep(5000); // about 9 s in all: far beyond pg-listen's default 3 s retry timeout
    expect(await append(taskId, 1)).toEqual([7]);
    expect(api.relay.listening).toBe(false);
    await proxy.restore();

    for (const c of clients) await c.waitFor((m) => m.event.taskId === taskId && m.event.seq === 7);
    await byWorkspace.waitFor((m) => m.event.taskId === second && m.event.seq === 2);
    expect(api.relay.listening).toBe(true);
    expect(await append(taskId, 2)).toEqual([8, 9]);
    expect(await append(second, 1)).toEqual([3]);
    for (const c of clients) await c.waitFor((m) => m.event.taskId === taskId && m.event.seq === 9);
    await byWorkspace.waitFor((m) => m.event.taskId === second && m.event.seq === 3);

    expectAllUpTo(9);
    expect(seqsOf(byWorkspace, second)).toEqual([1, 2, 3]);
    expect(seqsOf(byTask, second)).toEqual([]);

    const reconnectAttempts = logs.filter((l) => /LISTEN reconnect attempt/.test(l.msg)).length;
    expect(reconnectAttempts).toBeGreaterThanOrEqual(4);
    await until(() => logs.some((l) => BACK_MSG.test(l.msg)), 'the recovery log line');
    expect(logs.filter((l) => l.level === WARN && DOWN_MSG.test(l.msg))).toHaveLength(1);
    // seqs 4..7 of the first task (both sockets) and 1..2 of the second (workspace socket only)
    expect(logs.filter((l) => l.level === INFO && BACK_MSG.test(l.msg))).toEqual([expect.objectContaining({ caughtUpEvents: 6, caughtUpMessages: 10 })]);
  });

  it('when only reading an event fails (LISTEN stays up), catches up instead of dropping it', async () => {
    const { proxy, api, baseUrl, logs } = await proxiedApi({ relayDirect: true });
    const workspaceId = `ws-outage-read-${randomUUID().slice(0, 8)}`;
    const { taskId, clients, expectAllUpTo } = await followedTask(baseUrl, workspaceId);

    await proxy.cut();
    expect(await append(taskId, 3)).toEqual([4, 5, 6]);
    await until(() => logs.some((l) => /relaying a task event failed/.test(l.msg)), 'the relay to give up reading the event');
    expect(api.relay.listening).toBe(true);
    await sleep(1000);
    await proxy.restore();

    for (const c of clients) await c.waitFor((m) => m.event.taskId === taskId && m.event.seq === 6);
    expect(await append(taskId, 1)).toEqual([7]);
    for (const c of clients) await c.waitFor((m) => m.event.taskId === taskId && m.event.seq === 7);
    expectAllUpTo(7);
  });

  it('starts while Postgres is unreachable and is ready once it answers', async () => {
    const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
    await proxy.cut();
    let started = false;
    const starting = proxiedApi({ proxy }).then((r) => {
      started = true;
      return r;
    });
    await sleep(2000);
    expect(started).toBe(false);
    await proxy.restore();
    const { api, baseUrl, logs } = await starting;
    expect(api.relay.listening).toBe(true);

    const workspaceId = `ws-outage-start-${randomUUID().slice(0, 8)}`;
    const { expectAllUpTo } = await followedTask(baseUrl, workspaceId);
    expectAllUpTo(3);
    expect(logs.filter((l) => l.level === WARN && DOWN_MSG.test(l.msg))).toHaveLength(1);
  });
});
