/**
 * Classifying real failures: "the dependency did not answer" (→ 503, waited out) versus errors about
 * the request or the data (→ their own codes), and one-sentence messages for unexpected errors.
 */
import { randomUUID } from 'node:crypto';
import { Client as PgClient } from 'pg';
import { Client, Connection, WorkflowNotFoundError } from '@temporalio/client';
import { unexpectedErrorMessage } from '../../src/activities/errors';
import { createPrismaClient, type PrismaClient } from '../../src/db/prisma';
import { isDatabaseUnavailable } from '../../src/db/unavailable';
import { findFreePort } from '../../src/net/freePort';
import { isTemporalUnavailable } from '../../src/temporal/unavailable';
import { readStack } from '../../src/dev/stack/stackFile';

/** The error `fn` rejects with. */
async function failureOf(fn: () => Promise<unknown>): Promise<unknown> {
  try {
    await fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a failure');
}

describe('isDatabaseUnavailable', () => {
  let live: PrismaClient;
  let closedPortUrl: string;
  beforeAll(async () => {
    live = createPrismaClient(readStack().databaseUrl);
    closedPortUrl = `postgresql://postgres@127.0.0.1:${await findFreePort()}/nothing`; // nothing listens there
  });
  afterAll(async () => live.$disconnect());

  it('is true for a server that cannot be reached, through Prisma (model, raw, transaction)', async () => {
    const down = createPrismaClient(closedPortUrl);
    try {
      expect(isDatabaseUnavailable(await failureOf(() => down.task.findUnique({ where: { id: randomUUID() } })))).toBe(true);
      expect(isDatabaseUnavailable(await failureOf(() => down.$queryRaw`SELECT 1`))).toBe(true);
      expect(isDatabaseUnavailable(await failureOf(() => down.$transaction(async (tx) => tx.task.count())))).toBe(true);
    } finally {
      await down.$disconnect();
    }
  });

  it("is false for the same socket error from something else (a provider's HTTP call)", async () => {
    const refused = await failureOf(() => fetch(closedPortUrl.replace('postgresql', 'http')));
    expect(isDatabaseUnavailable(refused)).toBe(false);
  });

  it('is true for a connection the server terminates', async () => {
    const pg = new PgClient({ connectionString: readStack().databaseUrl });
    await pg.connect();
    pg.on('error', () => undefined);
    const { rows } = await pg.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    await live.$queryRaw`SELECT pg_terminate_backend(${rows[0]!.pid}::int)`;
    expect(isDatabaseUnavailable(await failureOf(() => pg.query('SELECT 1')))).toBe(true);
    await pg.end().catch(() => undefined);
  });

  it('is false for errors about the request or the data', async () => {
    expect(isDatabaseUnavailable(await failureOf(() => live.task.findUniqueOrThrow({ where: { id: randomUUID() } })))).toBe(false);
    expect(isDatabaseUnavailable(await failureOf(() => live.$queryRaw`SELECT * FROM no_such_table`))).toBe(false);
    expect(isDatabaseUnavailable(await failureOf(() => live.$queryRaw`SELECT 1/0`))).toBe(false);
    expect(isDatabaseUnavailable(new Error('tab x has no sandbox yet'))).toBe(false);
  });
});

describe('isTemporalUnavailable', () => {
  it('is true when the frontend cannot be reached, false for an answer about a workflow', async () => {
    const down = new Client({ connection: Connection.lazy({ address: `127.0.0.1:${await findFreePort()}` }) });
    const unreachable = await failureOf(() => down.connection.withDeadline(Date.now() + 3_000, () => down.workflow.getHandle('nothing').describe()));
    expect(isTemporalUnavailable(unreachable)).toBe(true);
    await down.connection.close();

    const stack = readStack();
    const up = new Client({ connection: await Connection.connect({ address: stack.temporalAddress }), namespace: stack.namespace });
    const missing = await failureOf(() => up.workflow.getHandle(`missing-${randomUUID()}`).describe());
    expect(missing).toBeInstanceOf(WorkflowNotFoundError);
    expect(isTemporalUnavailable(missing)).toBe(false);
    await up.connection.close();
  });
});

describe('unexpectedErrorMessage', () => {
  it('keeps a plain one-line message', () => {
    expect(unexpectedErrorMessage(new Error('tab session-1 has no sandbox yet'))).toBe('tab session-1 has no sandbox yet');
  });

  it('never passes on code excerpts, source paths or stack frames', () => {
    const prismaLike = Object.assign(
      new Error(
        '\nInvalid `prisma.task.findUniqueOrThrow()` invocation in\n/work/main/src/activities/createProvisionActivities.ts:111:40\n\n→ 111 const task = await prisma.task.findUniqueOrThrow(\nNo record was found',
      ),
      {
        name: 'PrismaClientKnownRequestError',
        code: 'P2025',
      },
    );
    expect(unexpectedErrorMessage(prismaLike)).toBe('an unexpected database error (P2025) occurred');
    const fsLike = Object.assign(new Error("ENOENT: no such file or directory, open '/work/main/.data/sandboxes/x/agent.json'"), { code: 'ENOENT' });
    expect(unexpectedErrorMessage(fsLike)).toBe('an unexpected Error (ENOENT) occurred');
    expect(unexpectedErrorMessage(new TypeError("Cannot read properties of undefined (reading 'x')\n    at f (/work/main/src/a.ts:1:2)"))).toBe(
      "Cannot read properties of undefined (reading 'x')",
    );
  });
});
