/**
 * Several API processes against one database: a client connected to one API receives the events of
 * a task created through another, because every API relays Postgres notifications to its own clients.
 */
import path from 'node:path';
import { createPrismaClient } from '../../src/db/prisma';
import { createLogger } from '../../src/logger';
import type { ApiServer } from '../../src/api/server';
import { createTestRepo } from '../../src/dev/stack/gitRepo';
import { TaskEventClient } from '../../src/dev/stack/socketClient';
import { postJson, startServices, type TestServices } from '../../src/dev/stack/services';
import { readStack } from '../../src/dev/stack/stackFile';
import { startTestApi } from '../../src/dev/stack/testApi';

describe('realtime relay across API processes', () => {
  let services: TestServices;
  let second: ApiServer;
  let secondUrl: string;
  const prisma2 = createPrismaClient(readStack().databaseUrl);

  beforeAll(async () => {
    services = await startServices();
    ({ api: second, baseUrl: secondUrl } = await startTestApi({
      stack: services.stack,
      prisma: prisma2,
      temporal: services.temporal,
      taskQueue: services.taskQueue,
      logger: createLogger('test-api-2', 'silent'),
    }));
  });

  afterAll(async () => {
    await second?.close();
    await prisma2.$disconnect();
    await services?.stop();
  });

  it('pushes every event of a task created on API 1 to a workspace subscriber on API 2, in order, once', async () => {
    const repo = await createTestRepo(path.join(services.repoRoot, 'repo'));
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
