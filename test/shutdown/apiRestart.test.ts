/**
 * The API process dies (SIGKILL) while a task provisions; provisioning goes on without it; a new API
 * process starts; the client reconnects with the last sequence number it saw and catches up on every
 * event it missed, in order, exactly once.
 */
import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import { io, type Socket } from 'socket.io-client';
import type { TaskEventMessage } from '../../src/domain/events';
import { tokenFor } from '../../src/dev/stack/auth';
import { Gate, gatedProvider } from '../../src/dev/stack/gate';
import { apiProcessEnv } from '../../src/dev/stack/apiProcess';
import { createTestRepo } from '../../src/dev/stack/gitRepo';
import { startServices, type TestServices } from '../../src/dev/stack/services';
import { findFreePort } from '../../src/net/freePort';
import { spawnService, waitForHealth } from '../../src/dev/serviceProcess';
import { runOf } from '../../src/dev/stack/runs';

describe('API process death', () => {
  let services: TestServices;
  const gates: { createSandbox?: Gate } = {};
  let api: ChildProcess | undefined;

  beforeAll(async () => {
    services = await startServices({ wrapProvider: (local) => gatedProvider(local, gates) });
  });
  /** Kills the API's whole process group: tsx and the node process it runs. */
  const killApi = () => {
    if (api?.pid) {
      try {
        process.kill(-api.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  };

  afterAll(async () => {
    gates.createSandbox?.open();
    killApi();
    await services?.stop();
  });

  it('lets clients reconnect to a new API process and catch up on what they missed', async () => {
    const port = await findFreePort();
    const base = `http://127.0.0.1:${port}`;
    const startApi = async () => {
      const child = spawnService('api', {
        env: apiProcessEnv(services.stack, { port, taskQueue: services.taskQueue, workspaceId: 'ws-restart' }),
        stdio: 'ignore',
        detached: true,
      });
      await waitForHealth(base, 30_000);
      return child;
    };
    const follow = (afterSeq?: number) => {
      const seen: TaskEventMessage[] = [];
      const socket: Socket = io(base, { transports: ['websocket'], reconnection: false, auth: { token: tokenFor('ws-restart') } });
      socket.on('task.event', (m: TaskEventMessage) => seen.push(m));
      return { socket, seen, afterSeq };
    };

    gates.createSandbox = new Gate();
    api = await startApi();
    const repo = await createTestRepo(path.join(services.repoRoot, 'repo'));
    const created = await fetch(`${base}/v1/tasks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${tokenFor('ws-restart')}` },
      body: JSON.stringify({ workspaceId: 'ws-restart', repository: repo, prompt: 'Survive the API' }),
    }).then((r) => r.json() as Promise<{ id: string; workflowId: string }>);
    const first = follow();
    await first.socket.timeout(5000).emitWithAck('subscribe', { taskId: created.id, afterSeq: 0 });
    await gates.createSandbox.entered;
    // The step's start reaches the client through the API's relay, a moment after the worker entered it.
    const lastSeenSeq = () => Math.max(0, ...first.seen.map((m) => m.event.seq));
    for (const deadline = Date.now() + 10_000; Date.now() < deadline && lastSeenSeq() < 3;) await new Promise((r) => setTimeout(r, 20));
    const lastSeen = lastSeenSeq();
    expect(lastSeen).toBeGreaterThanOrEqual(3);

    killApi(); // the API dies; the client is cut off
    await new Promise<void>((resolve) => (first.socket.disconnected ? resolve() : first.socket.once('disconnect', () => resolve())));
    gates.createSandbox.open(); // provisioning goes on without any API process
    await (await runOf(services.temporal, created.workflowId)).result();

    api = await startApi();
    const second = follow();
    const ack = await second.socket.timeout(5000).emitWithAck('subscribe', { taskId: created.id, afterSeq: lastSeen });
    expect(ack).toMatchObject({ ok: true, task: { status: 'running' } });
    const total = (await services.prisma.task.findUniqueOrThrow({ where: { id: created.id } })).lastEventSeq;
    expect(second.seen.map((m) => m.event.seq)).toEqual(Array.from({ length: total - lastSeen }, (_, i) => lastSeen + i + 1));
    expect(ack.replayed).toBe(total - lastSeen);
    first.socket.close();
    second.socket.close();
  });
});
