/**
 * A real git server on loopback for tests: `git daemon` serving the bare repositories under one
 * directory over git://127.0.0.1:<port>, which a test stops and starts again on the same port.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import path from 'node:path';
import { simpleGit } from 'simple-git';
import { findFreePort } from '../../src/net/freePort';
import { createTestRepo } from '../../src/dev/stack/gitRepo';

export interface GitDaemon {
  /** Directory whose bare repositories are served (`git://127.0.0.1:<port>/<name>` is `<baseDir>/<name>`). */
  readonly baseDir: string;
  /** Port on 127.0.0.1, fixed for the daemon's life (kept across stop/start). */
  readonly port: number;
  readonly running: boolean;
  /** `git://127.0.0.1:<port>/<name>`. */
  url(name: string): string;
  /** Starts the daemon; resolves once it accepts connections. No-op when running. */
  start(): Promise<void>;
  /** Stops the daemon (SIGTERM to its pid) and waits for it to exit. No-op when stopped. */
  stop(): Promise<void>;
}

/**
 * A git daemon for `baseDir` (created if missing), not started yet: until {@link GitDaemon.start},
 * connections to its port are refused. Its port is found with `findFreePort`; if the first start finds
 * the port taken meanwhile, it moves to another free port.
 */
export async function createGitDaemon(baseDir: string): Promise<GitDaemon> {
  mkdirSync(baseDir, { recursive: true });
  let port = await findFreePort();
  let child: ChildProcess | undefined;
  let startedOnce = false;

  const launch = () =>
    new Promise<ChildProcess>((resolve, reject) => {
      const p = spawn('git', ['daemon', '--reuseaddr', '--verbose', '--listen=127.0.0.1', `--port=${port}`, `--base-path=${baseDir}`, '--export-all', baseDir], {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let log = '';
      const onData = (chunk: Buffer) => {
        log = (log + chunk.toString('utf8')).slice(-4000); // keep draining: --verbose logs every connection
        if (/Ready to rumble/.test(log)) {
          p.off('exit', onExit);
          resolve(p);
        }
      };
      const onExit = (code: number | null) => reject(new Error(`git daemon exited (${code}) before it was ready: ${log.trim()}`));
      p.stderr!.on('data', onData);
      p.once('exit', onExit);
      p.once('error', reject);
    });

  return {
    baseDir,
    get port() {
      return port;
    },
    get running() {
      return child !== undefined;
    },
    url: (name) => `git://127.0.0.1:${port}/${name}`,
    async start() {
      if (child) return;
      for (let tries = 0; ; tries++) {
        try {
          child = await launch();
          startedOnce = true;
          return;
        } catch (err) {
          if (startedOnce || tries >= 3 || !/in use/i.test(String(err))) throw err;
          port = await findFreePort();
        }
      }
    },
    async stop() {
      const p = child;
      if (!p) return;
      child = undefined;
      if (p.exitCode !== null || p.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => p.once('exit', () => resolve()));
      p.kill('SIGTERM');
      await exited;
    },
  };
}

/**
 * Creates the bare repository `<baseDir>/<name>` with one commit on `main` (a README) and the extra
 * `branches`, made by cloning a work repository built with {@link createTestRepo}.
 * @returns the bare repository's path.
 */
export async function createBareRepo(baseDir: string, name: string, branches: string[] = []): Promise<string> {
  const work = mkdtempSync(path.join(path.dirname(baseDir), 'work-'));
  try {
    await createTestRepo(work, branches);
    const bare = path.join(baseDir, name);
    await simpleGit().clone(work, bare, ['--bare', '--no-hardlinks']);
    return bare;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
