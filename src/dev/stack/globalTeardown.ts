/**
 * Tears the run's stack down: stops any sandbox-agent process a suite left behind (recorded in the
 * sandboxes table), stops the Temporal dev server, drops the database (kept when KEEP_TEST_DB=1)
 * and removes the run's work directory.
 */
import { rmSync } from 'node:fs';
import { Client } from 'pg';
import { dropDatabase } from '../../db/migrate';
import type { RunningTemporalDevServer } from '../../dev/temporalDevServer';
import { stopSandboxAgent } from '../../providers/local/sandboxAgentProcess';
import { readStack } from './stackFile';

export default async function globalTeardown(): Promise<void> {
  const stack = readStack();
  const db = new Client({ connectionString: stack.databaseUrl });
  try {
    await db.connect();
    const rows = await db.query<{ pid: number | null }>(`SELECT (details->>'agentPid')::int AS pid FROM sandboxes`);
    for (const { pid } of rows.rows) if (pid) await stopSandboxAgent(pid);
  } finally {
    await db.end();
  }
  const temporal = (globalThis as Record<string, unknown>).__TPS_TEMPORAL__ as RunningTemporalDevServer | undefined;
  await temporal?.stop();
  if (process.env.KEEP_TEST_DB !== '1') {
    await dropDatabase(stack.databaseUrl);
    rmSync(stack.workDir, { recursive: true, force: true });
  }
}
