/**
 * The real API server (REST + Socket.IO + relay) in the test process, configured for the test stack:
 * test tokens, repositories under the run's work directory (src/repositories/policy.ts), the pg notifier,
 * the stack's sealing key of model provider keys, the service's default egress policy.
 */
import type { Client } from '@temporalio/client';
import { loadConfig } from '../../config';
import type { EgressPolicy } from '../../domain/workspaceSettings';
import { createApiServer, type ApiServer } from '../../api/server';
import type { PrismaClient } from '../../db/prisma';
import { createLogger, type Logger } from '../../logger';
import type { RepositoryPolicy } from '../../repositories/policy';
import { pgNotifier } from '../../db/notifier';
import { testTokenResolver } from './auth';
import type { TestStack } from './stackFile';
import type { AgentId } from '../../domain/agents';

export interface TestApiOptions {
  stack: TestStack;
  prisma: PrismaClient;
  temporal: Client;
  taskQueue: string;
  /** Default `['local']`. */
  providerIds?: string[];
  logger?: Logger;
  /** Postgres URL of the API's relay (its LISTEN connection); default the stack's. */
  databaseUrl?: string;
  /** The repository policy; default: repositories under the stack's work directory, nothing protected, no `git://`. */
  repositoryPolicy?: RepositoryPolicy;
  /** Idle stop of a sandbox lifecycle run the API starts, ms; default 0 (never). */
  idleStopMs?: number;
  /** Sealing key of model provider keys; default the stack's (`stack.credentialsKey`); null: keys cannot be set. */
  credentialsKey?: Buffer | null;
  /** Agent of a task that names none; default `offline` (tests that want a real agent name it). */
  defaultAgent?: AgentId;
  /** Egress policy of a workspace that has set none; default the service's (EGRESS_DEFAULT_MODE / EGRESS_DEFAULT_HOSTS defaults). */
  egressDefaults?: EgressPolicy;
}

/** Starts the API on a free port; the caller closes `api`. */
export async function startTestApi(opts: TestApiOptions): Promise<{ api: ApiServer; baseUrl: string }> {
  const api = createApiServer({
    databaseUrl: opts.databaseUrl ?? opts.stack.databaseUrl,
    prisma: opts.prisma,
    temporal: opts.temporal,
    notifier: pgNotifier,
    taskQueue: opts.taskQueue,
    idleStopMs: opts.idleStopMs ?? 0,
    providerIds: opts.providerIds ?? ['local'],
    defaultAgent: opts.defaultAgent ?? 'offline',
    repositoryPolicy: opts.repositoryPolicy ?? { roots: [opts.stack.workDir], protectedPaths: [], allowGitProtocol: false },
    credentialsKey: opts.credentialsKey === undefined ? Buffer.from(opts.stack.credentialsKey, 'base64') : opts.credentialsKey,
    egressDefaults: opts.egressDefaults ?? loadConfig({}).egress.defaultPolicy,
    resolveToken: testTokenResolver,
    temporalUi: { url: opts.stack.temporalUiUrl, namespace: opts.temporal.options.namespace },
    logger: opts.logger ?? createLogger('test', 'silent'),
  });
  const port = await api.listen(0);
  return { api, baseUrl: `http://127.0.0.1:${port}` };
}
