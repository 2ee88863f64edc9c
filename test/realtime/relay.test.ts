/**
 * Several API processes against one database: a client connected to one API receives the events of
 * a task created through another, because every API relays Postgres notifications to its own clients.
 */
import path from 'node:path';
import { createPrismaClient } from '../../src/db/prisma';
import { createLogger } from '../../src/logger';
import { createApiServer, type ApiServer } from '../../src/api/server';
import { pgNotifier } from '../../src/realtime/notifier';
import { createTestRepo } from '../support/gitRepo';
import { testTokenResolver } from '../support/auth';
import { TaskEventClient } from '../support/socketClient';
import { postJson, startServices, type TestServices } from '../support/services';
import { readStack } from '../support/stackFile';

describe('realtime relay across API processes', () => {
  let services: TestServices;
  let second: ApiServer;
  let secondUrl: string;
  const prisma2 = createPrismaClient(readStack().databaseUrl);

  beforeAll(async () => {
    services = await startServices();
    second = createApiServer({
      databaseUrl: services.stack.databaseUrl,
      prisma: prisma2,
      temporal: services.temporal,
      notifier: pgNotifier,
      taskQueue: services.taskQueue,
      providerIds: ['local'],
      repositoryRoots: [services.stack.workDir],
      resolveToken: testTokenResolver,
      temporalUi: { url: services.stack.temporalUiUrl, namespace: services.stack.namespace },
      logger: createLogger('test-api-2', 'silent'),
    });
    secondUrl = `http://127.0.0.1:${await second.listen(0)}`;
  });

  afterAll(async () => {
    await second?.close();
    await prisma2.$disconnect();
    await services?.stop();
  });

  it('pushes every event of a task created on API 1 to a workspace subscriber on API 2, in order, once', async () => {
    const repo = await createTestRepo(path.join(services.sandboxRoot, 'repo'));
    const client = new TaskEventClient(secondUrl, 'ws-relay');
    const other = new TaskEventClient(secondUrl, 'ws-elsewhere');
    try {
      expect(await client.subscribe({ workspaceId: 'ws-relay' })).toEqual({ ok: true });
      expect(await other.subscribe({ workspaceId: 'ws-elsewhere' })).toEqual({ ok: true });
      const created = await postJson(`${services.baseUrl}/v1/tasks`, { workspaceId: 'ws-relay', repository: repo, prompt: 'Add relay' });
      expect(created.status).toBe(201);
      const last = await client.waitFor((m) => m.task.id === created.body.id && m.task.status === 'running');
      const seqs = client.eventsOf(created.body.id).map((m) => m.event.seq);
      expect(seqs).toEqual(Array.from({ length: last.task.lastEventSeq }, (_, i) => i + 1));
      expect(other.messages).toEqual([]);
    } finally {
      client.close();
      other.close();
    }
  });
});
