/**
 * The start command keeps the worker and the API up (src/dev/supervisor.ts): a worker SIGKILLed in
 * the middle of a provisioning step is started again, says so in the log, and the task in flight
 * finishes on the restarted worker.
 */
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import pino from 'pino';
import { createPrismaClient } from '../../src/db/prisma';
import { authedFetch } from '../../src/dev/stack/auth';
import { stackServiceEnv } from '../../src/dev/stack/serviceEnv';
import { readStack } from '../../src/dev/stack/stackFile';
import { startTestApi } from '../../src/dev/stack/testApi';
import { spawnService } from '../../src/dev/serviceProcess';
import { supervise, type Supervised } from '../../src/dev/supervisor';
import { createTemporalClient } from '../../src/temporal/client';

describe('the start command supervising its processes', () => {
  const stack = readStack();
  const taskQueue = `supervisor-${randomUUID()}`;
  const lines: Array<{ msg: string; restart?: number; signal?: string }> = [];
  const logger = pino(
    { level: 'info' },
    new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(JSON.parse(chunk.toString()));
        done();
      },
    }),
  );
  const prisma = createPrismaClient(stack.databaseUrl);
  let worker: Supervised;
  let close: () => Promise<void>;

  afterAll(async () => {
    await worker?.stop();
    await close?.();
    await prisma.$disconnect();
  });

  it('restarts a SIGKILLed worker, and the task in flight finishes', async () => {
    const env = stackServiceEnv(stack, taskQueue, { ENABLE_BENCHMARK_PROVIDERS: '1', SLOW_PROVIDER_DELAY_MS: '1500', SANDBOX_ISOLATION: 'none', LOG_LEVEL: 'silent' });
    // detached: its own process group, so a SIGKILL reaches tsx and the worker under it, as an OOM kill of the whole service would.
    worker = supervise({ name: 'worker', start: () => spawnService('worker', { env, stdio: 'ignore', detached: true }), logger, backoff: { baseMs: 200, maxMs: 1_000 } });
    const temporal = await createTemporalClient({ address: stack.temporalAddress, namespace: stack.namespace });
    const { api, baseUrl } = await startTestApi({ stack, prisma, temporal, taskQueue, providerIds: ['slow'] });
    close = async () => {
      await api.close();
      await temporal.connection.close();
    };

    const created = await authedFetch(`${baseUrl}/v1/tasks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ workspaceId: 'ws-supervisor', repository: `${stack.workDir}/any`, prompt: 'Survive a crash', provider: 'slow' }),
    });
    const { id } = (await created.json()) as { id: string };
    const status = async () => (await prisma.task.findUniqueOrThrow({ where: { id } })).status;
    // SIGKILL the worker while the task is inside a step.
    for (const deadline = Date.now() + 60_000; Date.now() < deadline && !(await status()).startsWith('init_create');) await new Promise((r) => setTimeout(r, 50));
    expect(await status()).toMatch(/^init_create/);
    const killed = worker.current!;
    process.kill(-killed.pid!, 'SIGKILL');

    for (const deadline = Date.now() + 90_000; Date.now() < deadline && (await status()) !== 'running';) await new Promise((r) => setTimeout(r, 100));
    expect(await status()).toBe('running');
    expect(worker.restarts).toBe(1);
    expect(worker.current?.pid).not.toBe(killed.pid);
    expect(lines.filter((l) => l.restart !== undefined)).toEqual([
      expect.objectContaining({ restart: 1, signal: 'SIGKILL', msg: expect.stringMatching(/^worker exited \(code null, signal SIGKILL\); restarting it in \d+ ms$/) }),
    ]);
  });
});
