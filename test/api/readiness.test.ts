/**
 * The API's readiness (src/api/readiness.ts) against the real dev server: a namespace without the
 * service's custom search attributes (TaskId, WorkspaceId, TaskStatus) makes the `temporal` check
 * fail with their names, since Temporal would refuse every provisioning start; once they are
 * registered it passes. The suite's own namespace (registered by temporal-dev.yaml) passes at once.
 */
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { msToTs } from '@temporalio/common/lib/time';
import { createReadinessProbe, type ReadinessProbe } from '../../src/api/readiness';
import { createPrismaClient } from '../../src/db/prisma';
import { readStack } from '../../src/dev/stack/stackFile';
import type { PrismaClient } from '../../src/generated/prisma/client';

const KEYWORD = temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD;

describe('API readiness: the namespace’s search attributes', () => {
  let connection: Connection;
  let prisma: PrismaClient;
  const stack = readStack();

  beforeAll(async () => {
    connection = await Connection.connect({ address: stack.temporalAddress });
    prisma = createPrismaClient(stack.databaseUrl);
  });
  afterAll(async () => {
    await prisma?.$disconnect();
    await connection?.close();
  });

  const probeOf = (namespace: string): ReadinessProbe => createReadinessProbe({ prisma, temporal: new Client({ connection, namespace }), realtime: () => ({ listening: true }) });

  it('is ready on the suite’s namespace', async () => {
    const report = await probeOf(stack.namespace)();
    expect(report.checks.temporal).toMatchObject({ ok: true });
    expect(report.status).toBe('ready');
  });

  it('is unavailable, naming what is missing, on a namespace without them, and ready once they are registered', async () => {
    const namespace = `no-attributes-${randomUUID().slice(0, 8)}`;
    await connection.workflowService.registerNamespace({ namespace, workflowExecutionRetentionPeriod: msToTs('1 day') });
    // A new namespace is known to every frontend service only after its cache refreshes.
    for (const deadline = Date.now() + 30_000; ; await new Promise((r) => setTimeout(r, 200))) {
      const listed = await connection.operatorService.listSearchAttributes({ namespace }).then(
        () => true,
        () => false,
      );
      if (listed || Date.now() > deadline) break;
    }
    const probe = probeOf(namespace);
    const before = await probe();
    expect(before.status).toBe('unavailable');
    expect(before.checks.temporal).toMatchObject({
      ok: false,
      error: `the Temporal namespace ${namespace} lacks the search attributes TaskId, WorkspaceId, TaskStatus; register them as Keyword`,
    });

    await connection.operatorService.addSearchAttributes({ namespace, searchAttributes: { TaskId: KEYWORD, WorkspaceId: KEYWORD, TaskStatus: KEYWORD } });
    const after = await probe();
    expect(after.checks.temporal).toMatchObject({ ok: true });
    expect(after.status).toBe('ready');
  });
});
