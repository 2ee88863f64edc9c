/**
 * A throw-away database for a test run, a benchmark or a reliability script: a fresh database on
 * the server of `serverUrl`, with the migrations applied. The caller drops it (src/db/migrate.ts
 * `dropDatabase`) when done.
 */
import { applyMigrations, ensureDatabase } from '../db/migrate';

const DEFAULT_SERVER_URL = 'postgresql://postgres@127.0.0.1:5432/postgres';

/**
 * Creates `<prefix>_<timestamp>_<pid>` on the server of `serverUrl` (default the local server) and
 * migrates it.
 * @returns the new database's URL.
 */
export async function createScratchDatabase(prefix: string, serverUrl: string = DEFAULT_SERVER_URL): Promise<string> {
  const url = new URL(serverUrl);
  url.pathname = `/${prefix}_${Date.now()}_${process.pid}`;
  const databaseUrl = url.toString();
  await ensureDatabase(databaseUrl);
  await applyMigrations(databaseUrl);
  return databaseUrl;
}
