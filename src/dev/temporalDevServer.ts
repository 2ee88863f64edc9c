/**
 * Finds or builds the pinned Temporal CLI and runs its dev server (with the Web UI) as a child
 * process, with the settings in `temporal-dev.yaml`. Used by the start script and the test suite.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { parse } from 'yaml';
import { z } from 'zod';
import { findFreePort } from '../net/freePort';

export const REPO_ROOT = path.resolve(__dirname, '../..');

const settingsSchema = z.object({
  cli: z.object({ module: z.string(), version: z.string().regex(/^v\d+\.\d+\.\d+$/) }),
  server: z.object({
    ip: z.string(),
    port: z.number().int(),
    uiPort: z.number().int(),
    namespace: z.string(),
    dbFilename: z.string().optional(),
    logLevel: z.enum(['debug', 'info', 'warn', 'error']),
    searchAttributes: z.record(z.string(), z.enum(['Keyword', 'Text', 'Int', 'Double', 'Bool', 'Datetime', 'KeywordList'])),
  }),
});
export type TemporalDevSettings = z.infer<typeof settingsSchema>;

/** Reads and validates `temporal-dev.yaml`. @throws on a missing file or invalid settings. */
export function loadTemporalDevSettings(file = path.join(REPO_ROOT, 'temporal-dev.yaml')): TemporalDevSettings {
  return settingsSchema.parse(parse(readFileSync(file, 'utf8')));
}

/**
 * Path of the pinned Temporal CLI in `.tools/bin`, building it with `go install <module>@<version>`
 * when it is missing or of another version (takes minutes the first time).
 * @throws when the CLI is missing and Go is not installed or the build fails.
 */
export async function ensureTemporalCli(settings: TemporalDevSettings, log: (line: string) => void = () => undefined): Promise<string> {
  const binDir = path.join(REPO_ROOT, '.tools', 'bin');
  const bin = path.join(binDir, 'temporal');
  const stamp = path.join(binDir, 'temporal.version');
  const wanted = `${settings.cli.module}@${settings.cli.version}`;
  if (existsSync(bin) && existsSync(stamp) && readFileSync(stamp, 'utf8').trim() === wanted) return bin;
  mkdirSync(binDir, { recursive: true });
  log(`building Temporal CLI ${wanted} into .tools/bin (first run only; takes a few minutes)`);
  await new Promise<void>((resolve, reject) => {
    const child = spawn('go', ['install', wanted], { env: { ...process.env, GOBIN: binDir, GOFLAGS: '-mod=mod' }, stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('error', (err) =>
      reject(new Error(`cannot run 'go' to build the Temporal CLI (${err.message}); install Go, or put the official ${settings.cli.version} release binary at ${bin}`)),
    );
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`go install ${wanted} exited with ${code}`))));
  });
  writeFileSync(stamp, `${wanted}\n`);
  return bin;
}

/**
 * Settings of a dev server of a run's own (tests, benchmark, reliability scripts): the CLI (built on
 * first use), free loopback ports, errors-only logs, and its history in memory or, with
 * `dbFilename`, in that SQLite file (kept across the server's restarts).
 */
export async function ownDevServerSettings(opts: { dbFilename?: string; log?: (line: string) => void } = {}): Promise<{ cli: string; server: TemporalDevSettings['server'] }> {
  const settings = loadTemporalDevSettings();
  const cli = await ensureTemporalCli(settings, opts.log);
  return { cli, server: { ...settings.server, port: await findFreePort(), uiPort: await findFreePort(), dbFilename: opts.dbFilename, logLevel: 'error' } };
}

export interface RunningTemporalDevServer {
  address: string;
  namespace: string;
  uiUrl: string;
  process: ChildProcess;
  /** Stops the server (SIGTERM, then SIGKILL after 5 s) and waits for it to exit. */
  stop(): Promise<void>;
}

/**
 * Starts `temporal server start-dev` and resolves once its frontend answers.
 * @param overrides e.g. other ports and `dbFilename: undefined` (in memory) for tests.
 * @throws when the server exits early or does not answer within `readyTimeoutMs`.
 */
export async function startTemporalDevServer(
  cliPath: string,
  settings: TemporalDevSettings['server'],
  opts: { readyTimeoutMs?: number; stdio?: 'inherit' | 'ignore' } = {},
): Promise<RunningTemporalDevServer> {
  const args = [
    'server',
    'start-dev',
    '--ip',
    settings.ip,
    '--port',
    String(settings.port),
    '--ui-port',
    String(settings.uiPort),
    '--namespace',
    settings.namespace,
    '--log-level',
    settings.logLevel,
  ];
  if (settings.dbFilename) {
    const db = path.resolve(REPO_ROOT, settings.dbFilename);
    mkdirSync(path.dirname(db), { recursive: true });
    args.push('--db-filename', db);
  }
  for (const [name, type] of Object.entries(settings.searchAttributes)) args.push('--search-attribute', `${name}=${type}`);
  const child = spawn(cliPath, args, { stdio: ['ignore', opts.stdio ?? 'ignore', opts.stdio ?? 'ignore'] });
  const address = `${settings.ip}:${settings.port}`;
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  };
  const deadline = Date.now() + (opts.readyTimeoutMs ?? 60_000);
  for (;;) {
    if (child.exitCode !== null) throw new Error(`temporal dev server exited with ${child.exitCode} (is port ${settings.port} or ${settings.uiPort} taken?)`);
    try {
      const connection = await Connection.connect({ address, connectTimeout: 1000 });
      try {
        await connection.workflowService.describeNamespace({ namespace: settings.namespace });
        break;
      } finally {
        await connection.close();
      }
    } catch (err) {
      if (Date.now() > deadline) {
        await stop();
        throw new Error(`temporal dev server did not answer on ${address}: ${(err as Error).message}`);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  return { address, namespace: settings.namespace, uiUrl: `http://localhost:${settings.uiPort}`, process: child, stop };
}
