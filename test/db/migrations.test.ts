/**
 * The hand-written SQL migrations and prisma/schema.prisma must describe the same database.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';
import { applyMigrations, dropDatabase, ensureDatabase } from '../../src/db/migrate';
import { shapeFromDatabase, shapeFromPrismaSchema } from '../support/schemaDrift';
import { readStack } from '../../src/dev/stack/stackFile';

const schemaText = readFileSync(path.join(__dirname, '../../prisma/schema.prisma'), 'utf8');

describe('migrations', () => {
  const stack = readStack();

  it('produce exactly the schema that schema.prisma declares', async () => {
    const fromDb = await shapeFromDatabase(stack.databaseUrl);
    const fromPrisma = shapeFromPrismaSchema(schemaText);
    expect(fromDb).toEqual(fromPrisma);
    expect(fromDb.tables).toEqual([
      'idempotency_keys',
      'model_usage',
      'sandbox_hosts',
      'sandbox_pools',
      'sandboxes',
      'task_events',
      'task_logs',
      'tasks',
      'transcript_entries',
      'warm_sandboxes',
      'workbench_sessions',
      'workspace_credentials',
      'workspace_egress_policies',
    ]);
  });

  it('the comparison catches a schema change that has no migration', () => {
    const changed = schemaText.replace('  prompt          String\n', '  prompt          String\n  priority        Int\n');
    expect(changed).not.toBe(schemaText);
    expect(shapeFromPrismaSchema(changed).columns).toContain('tasks.priority integer notnull nodefault');
    expect(shapeFromPrismaSchema(changed)).not.toEqual(shapeFromPrismaSchema(schemaText));
  });

  it('are recorded like prisma migrate deploy and applied once', async () => {
    const url = new URL(stack.databaseUrl);
    url.pathname = `${url.pathname}_m`;
    const fresh = url.toString();
    await ensureDatabase(fresh);
    try {
      const first = await applyMigrations(fresh);
      expect(first).toEqual([
        '20261121000000_init',
        '20261121010000_workbench_sessions',
        '20261121020000_idempotency_keys',
        '20261206000000_sandbox_lifecycle',
        '20261206100000_agents_credentials_egress',
        '20261206200000_sandbox_hosts',
        '20261206300000_step_progress',
        '20261207000000_warm_sandbox_pools',
        '20261207100000_task_logs',
      ]);
      expect(await applyMigrations(fresh)).toEqual([]);
      const db = new Client({ connectionString: fresh });
      await db.connect();
      const rows = await db.query('SELECT migration_name, checksum, finished_at, applied_steps_count, rolled_back_at FROM "_prisma_migrations" ORDER BY migration_name');
      await db.end();
      const { createHash } = await import('node:crypto');
      expect(rows.rows).toEqual(
        first.map((name) => ({
          migration_name: name,
          checksum: createHash('sha256')
            .update(readFileSync(path.join(__dirname, '../../prisma/migrations', name, 'migration.sql')))
            .digest('hex'),
          finished_at: expect.any(Date),
          applied_steps_count: 1,
          rolled_back_at: null,
        })),
      );
    } finally {
      await dropDatabase(fresh);
    }
  });
});
