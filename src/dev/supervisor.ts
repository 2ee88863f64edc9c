/**
 * Keeps one of the service's processes running for the start command (scripts/dev.ts): a process
 * that exits while nobody asked it to stop is started again after a backoff (1 s doubling to 30 s;
 * back to 1 s once a run lasted 60 s), and each restart is logged with its reason. `stop()` ends it
 * for good (SIGTERM, SIGKILL after 10 s).
 */
import type { ChildProcess } from 'node:child_process';
import type { Logger } from '../logger';
import { backoffMs } from '../realtime/backoff';

export interface SupervisorOptions {
  /** Name in the log lines, e.g. `worker`. */
  name: string;
  /** Starts the process (again). */
  start: () => ChildProcess;
  logger: Logger;
  /** Backoff before a restart, ms: first wait and cap. Default 1000 and 30000. */
  backoff?: { baseMs: number; maxMs: number };
  /** A run at least this long resets the backoff, ms. Default 60000. */
  stableAfterMs?: number;
}

export interface Supervised {
  /** The process running now (undefined while waiting to restart). */
  readonly current: ChildProcess | undefined;
  /** How many times it was restarted. */
  readonly restarts: number;
  /** Stops it for good and resolves once it has exited. */
  stop(): Promise<void>;
}

/** Starts `opts.start()` and keeps it running until `stop()`. */
export function supervise(opts: SupervisorOptions): Supervised {
  const backoff = opts.backoff ?? { baseMs: 1_000, maxMs: 30_000 };
  const stableAfterMs = opts.stableAfterMs ?? 60_000;
  let current: ChildProcess | undefined;
  let restarts = 0;
  let failures = 0;
  let stopping = false;
  let timer: NodeJS.Timeout | undefined;

  const run = () => {
    const startedAt = Date.now();
    const child = opts.start();
    current = child;
    child.once('exit', (code, signal) => {
      if (current === child) current = undefined;
      if (stopping) return;
      failures = Date.now() - startedAt >= stableAfterMs ? 1 : failures + 1;
      const waitMs = backoffMs(failures, backoff);
      restarts++;
      opts.logger.error({ code, signal, restart: restarts, inMs: waitMs }, `${opts.name} exited (code ${code}, signal ${signal}); restarting it in ${waitMs} ms`);
      timer = setTimeout(run, waitMs);
    });
  };
  run();

  return {
    get current() {
      return current;
    },
    get restarts() {
      return restarts;
    },
    async stop() {
      stopping = true;
      if (timer) clearTimeout(timer);
      const child = current;
      if (!child || child.exitCode !== null || child.signalCode !== null) return;
      await new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
      });
    },
  };
}
