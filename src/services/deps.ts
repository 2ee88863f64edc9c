/**
 * What the use cases (./*.ts) are built from. Each takes the part it needs, explicitly, so a caller
 * (the REST routes, a test, a script) wires them with real or stand-in dependencies alike.
 */
import type { Client } from '@temporalio/client';
import type { PrismaClient } from '../generated/prisma/client';
import type { Logger } from '../logger';
import type { TaskEventNotifier } from '../db/notifier';

export interface ServiceDeps {
  prisma: PrismaClient;
  /** Temporal client the runs are started and signalled with. */
  temporal: Client;
  /** Announces committed history events (Postgres NOTIFY in production and tests). */
  notifier: TaskEventNotifier;
  /** Temporal task queue the worker polls: every run is started on it. */
  taskQueue: string;
  logger: Logger;
}
