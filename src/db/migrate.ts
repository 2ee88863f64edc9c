/**
 * Creates the database named by a connection string when missing, and applies the SQL migrations in
 * `prisma/migrations` the way `prisma migrate deploy` does, so either tool can take over a database:
 *   - the same `_prisma_migrations` table and columns, checksum = SHA-256 (hex) of migration.sql;
 *   - migrations applied in directory-name order, each once;
 *   - the same advisory lock id (72707369), so concurrent starters wait for each other.
 * We need our own applier only because the Prisma CLI's native schema engine cannot be downloaded on
 * these machines (docs/ARCHITECTURE.md#build-machine-constraints); each migration also runs in a transaction.
 */
import { createHash, randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';

/** Prisma Migrate's advisory lock key. */
const PRISMA_MIGRATE_LOCK = 72707369;

export const DEFAULT_MIGRATIONS_DIR = path.resolve(__dirname, '../../prisma/migrations');

/**
 * Creates the database of `databaseUrl` if it does not exist, connecting to the server's `postgres`
 * database to do so. Idempotent; safe when several processes race (a duplicate create is ignored).
 * @returns true when it created the database.
 */
export async function ensureDatabase(databaseUrl: string): Promise<boolean> {
  const url = new URL(databaseUrl);
  const name = decodeURIComponent(url.pathname.replace(/^\//, ''));
  if (!name) throw new Error('DATABASE_URL names no database');
  url.pathname = '/postgres';
  const admin = new Client({ connectionString: url.toString() });
  await admin.connect();
  try {
    const found = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (found.rowCount) return false;
    try {
      await admin.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`);
      return true;
    } catch (err) {
      if ((err as { code?: string }).code === '42P04') return false; // created meanwhile by another process
      throw err;
    }
  } finally {
    await admin.end();
  }
}

/** Drops the database of `databaseUrl` (tests only); terminates its open connections first. */
export async function dropDatabase(databaseUrl: string): Promise<void> {
  const url = new URL(databaseUrl);
  const name = decodeURIComponent(url.pathname.replace(/^\//, ''));
  url.pathname = '/postgres';
  const admin = new Client({ connectionString: url.toString() });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS "${name.replace(/"/g, '""')}" WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}

export interface AppliedMigration {
  name: string;
  checksum: string;
}

/**
 * Applies every migration in `dir` not yet recorded in `_prisma_migrations`.
 * @returns the names applied by this call, in order (empty when up to date).
 * @throws when an applied migration's file changed since (checksum mismatch), when a migration is
 *   recorded as started but not finished (a failed earlier run: resolve it by hand, as with Prisma),
 *   or when a migration's SQL fails (its transaction is rolled back and nothing is recorded).
 */
export async function applyMigrations(databaseUrl: string, dir = DEFAULT_MIGRATIONS_DIR): Promise<string[]> {
  const names = (await fs.readdir(dir, { withFileTypes: true }))
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
  const client = new Client({ connectionString: databaseUrl });
  await client.connect();
  const applied: string[] = [];
  try {
    await client.query('SELECT pg_advisory_lock($1)', [PRISMA_MIGRATE_LOCK]);
    await client.query(`CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
      "id" VARCHAR(36) PRIMARY KEY NOT NULL,
      "checksum" VARCHAR(64) NOT NULL,
      "finished_at" TIMESTAMPTZ,
      "migration_name" VARCHAR(255) NOT NULL,
      "logs" TEXT,
      "rolled_back_at" TIMESTAMPTZ,
      "started_at" TIMESTAMPTZ NOT NULL DEFAULT now(),
      "applied_steps_count" INTEGER NOT NULL DEFAULT 0)`);
    const rows = await client.query<{ migration_name: string; checksum: string; finished_at: Date | null }>(
      'SELECT migration_name, checksum, finished_at FROM "_prisma_migrations" WHERE rolled_back_at IS NULL',
    );
    const known = new Map(rows.rows.map((r) => [r.migration_name, r]));
    for (const name of names) {
      const sql = await fs.readFile(path.join(dir, name, 'migration.sql'), 'utf8');
      const checksum = createHash('sha256').update(sql).digest('hex');
      const row = known.get(name);
      if (row) {
        if (!row.finished_at) throw new Error(`migration ${name} started but did not finish; resolve it before applying more`);
        if (row.checksum !== checksum) throw new Error(`migration ${name} was modified after it was applied`);
        continue;
      }
      await client.query('BEGIN');
      try {
        await client.query(sql);
        await client.query(
          `INSERT INTO "_prisma_migrations" (id, checksum, migration_name, started_at, finished_at, applied_steps_count)
           VALUES ($1, $2, $3, now(), now(), 1)`,
          [randomUUID(), checksum, name],
        );
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK');
        throw new Error(`migration ${name} failed: ${(err as Error).message}`);
      }
      applied.push(name);
    }
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [PRISMA_MIGRATE_LOCK]).catch(() => undefined);
    await client.end();
  }
  return applied;
}
