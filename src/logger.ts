/** Structured JSON logging (pino). One root logger per process; modules take children of it. */
import pino, { type Logger } from 'pino';

export type { Logger };

/** Creates the process's root logger. `name` is the process role: `api`, `worker`, `dev`. */
export function createLogger(name: string, level = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino({ name, level });
}
