/**
 * Missed events: a client that reconnects with the last sequence number it saw receives every event it
 * missed, in order, exactly once, from Postgres — also while new events keep arriving live.
 */
import path from 'node:path';
import { Gate, gatedProvider } from '../../src/dev/stack/gate';
import { createTestRepo } from '../../src/dev/stack/gitRepo';
import { TaskEventClient } from '../../src/dev/stack/socketClient';
import { postJson, startServices, type TestServices } from '../../src/dev/stack/services';
import { runOf } from '../../src/dev/stack/runs';

describe('catching up on missed events', () => {
  let services: TestServices;
  let repo: string;
  const gates: { createSandbox?: Gate; ensureAgent?: Gate } = {};

  beforeAll(async () => {
    services = await startServices({ wrapProvider: (local) => gatedProvider(local, gates) });
    repo = await createTestRepo(path.join(services.repoRoot, 'repo'));
  });
  afterAll(async () => {
    gates.createSandbox?.open();
    gates.ensureAgent?.open();
    await services?.stop();
  });

  it('replays what a reconnecting client missed, then continues live, each event once and in order', async () => {
    gates.createSandbox = new Gate();
    gates.ensureAgent = new Gate();
    const created = await postJson(`${services.baseUrl}/v1/tasks`, { workspaceId: 'ws-catchup', repository: repo, prompt: 'Catch up' });
    await gates.createSandbox.entered;

    // First connection: replay from the start, then it drops.
    const first = new TaskEventClient(services.baseUrl, 'ws-catchup');
    const ack1 = await first.subscribe({ taskId: created.body.id, afterSeq: 0 });
    const seen1 = first.eventsOf(created.body.id).map((m) => m.event.seq);
    expect(seen1).toEqual(Array.from({ length: ack1.task!.lastEventSeq }, (_, i) => i + 1));
    expect(ack1.replayed).toBe(seen1.length);
    first.close();

    // While disconnected, provisioning moves on (sandbox step completes, agent step starts).
    gates.createSandbox.open();
    await gates.ensureAgent.entered;

    // Reconnect with the last seq seen while the rest of provisioning runs concurrently.
    const second = new TaskEventClient(services.baseUrl, 'ws-catchup');
    try {
      gates.ensureAgent.open();
      const ack2 = await second.subscribe({ taskId: created.body.id, afterSeq: seen1[seen1.length - 1] });
      expect(ack2.ok).toBe(true);
      const last = await second.waitFor((m) => m.event.taskId === created.body.id && m.task.status === 'running');
      await (await runOf(services.temporal, created.body.workflowId)).result();
      const total = (await services.prisma.task.findUniqueOrThrow({ where: { id: created.body.id } })).lastEventSeq;
      const seen2 = second.eventsOf(created.body.id).map((m) => m.event.seq);
      expect(seen2).toEqual(Array.from({ length: total - seen1.length }, (_, i) => seen1.length + i + 1));
      expect(last.event.seq).toBe(total);
      expect([...seen1, ...seen2]).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    } finally {
      second.close();
    }
  });

  it('replays from the afterSeq a subscribe names even when the socket had those events through its workspace room', async () => {
    // A page that lists the workspace and then opens one task on the same socket: the task view
    // holds nothing yet, whatever the list's subscription brought before.
    gates.createSandbox = new Gate();
    const client = new TaskEventClient(services.baseUrl, 'ws-catchup-list');
    try {
      expect(await client.subscribe({ workspaceId: 'ws-catchup-list' })).toEqual({ ok: true });
      const created = await postJson(`${services.baseUrl}/v1/tasks`, { workspaceId: 'ws-catchup-list', repository: repo, prompt: 'List, then open' });
      await gates.createSandbox.entered;
      await client.waitFor((m) => m.event.taskId === created.body.id && m.event.type === 'task.named');
      const pushed = client.eventsOf(created.body.id).length;
      expect(pushed).toBeGreaterThan(0);

      const ack = await client.subscribe({ taskId: created.body.id, afterSeq: 0 });
      expect(ack.ok).toBe(true);
      expect(ack.replayed).toBe(ack.task!.lastEventSeq);
      const replayed = client
        .eventsOf(created.body.id)
        .slice(pushed)
        .map((m) => m.event.seq);
      expect(replayed).toEqual(Array.from({ length: ack.task!.lastEventSeq }, (_, i) => i + 1));
    } finally {
      gates.createSandbox.open();
      client.close();
    }
  });

  it('rejects a negative or fractional afterSeq', async () => {
    const client = new TaskEventClient(services.baseUrl, 'ws-catchup');
    try {
      const id = (await services.prisma.task.findFirstOrThrow({ where: { workspaceId: 'ws-catchup' } })).id;
      for (const afterSeq of [-1, 1.5, '3']) {
        expect(await client.subscribe({ taskId: id, afterSeq } as never)).toEqual({ ok: false, error: expect.objectContaining({ code: 'invalid_subscription' }) });
      }
    } finally {
      client.close();
    }
  });
});
