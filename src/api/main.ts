/**
 * API process: REST + Socket.IO on one port. Several API processes may run against one database;
 * each relays Postgres notifications to its own Socket.IO clients.
 */
// First: tracing starts before anything below loads express, http or pg.
import { tracing } from './instrument';
import { loadConfig } from '../config';
import { createPrismaClient } from '../db/prisma';
import { createLogger } from '../logger';
import { providerIds } from '../providers/registry';
import { pgNotifier } from '../db/notifier';
import { createTemporalClient } from '../temporal/client';
import { tokensFromConfig } from '../auth/tokens';
import { createApiServer } from './server';

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger('api', config.logLevel);
  if (tracing.enabled) logger.info({ otlpEndpoint: config.tracing.otlpEndpoint }, 'exporting traces over OTLP');
  const resolveToken = tokensFromConfig(config.apiTokens ?? '');
  const prisma = createPrismaClient(config.databaseUrl);
  const temporal = await createTemporalClient(config.temporal);
  const server = createApiServer({
    databaseUrl: config.databaseUrl,
    prisma,
    temporal,
    notifier: pgNotifier,
    taskQueue: config.temporal.taskQueue,
    idleStopMs: config.sandboxLifecycle.idleStopMs,
    providerIds: providerIds(config),
    defaultAgent: config.agents.defaultAgent,
    repositoryPolicy: config.repositoryPolicy,
    credentialsKey: config.credentialsKey,
    egressDefaults: config.egress.defaultPolicy,
    resolveToken,
    benchmarkEndpoints: config.benchmarkProviders.enabled,
    temporalUi: { url: config.temporal.uiUrl, namespace: config.temporal.namespace },
    logger,
  });
  if (!config.credentialsKey) logger.warn('CREDENTIALS_ENCRYPTION_KEY is not set: workspaces cannot store model provider keys (503 credentials_unavailable)');
  const port = await server.listen(config.port, config.host);
  logger.info({ port }, `API listening on http://127.0.0.1:${port}`);
  const stop = async (signal: string) => {
    logger.info({ signal }, 'stopping API');
    await server.close();
    await temporal.connection.close();
    await prisma.$disconnect();
    await tracing.shutdown(); // the last spans exported
    process.exit(0);
  };
  let stopping = false;
  const onSignal = (signal: string) => {
    if (stopping) return; // a repeated signal (terminal + process manager) must not cut the drain short
    stopping = true;
    void stop(signal);
  };
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGTERM', () => onSignal('SIGTERM'));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
