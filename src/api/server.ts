/**
 * The API process's parts wired together: HTTP server with the Express app, Socket.IO on the same
 * port, and the relays from Postgres notifications to Socket.IO rooms (history events, provisioning logs).
 */
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RealtimeServer } from '../realtime/contract';
import { createTaskEventRelay } from '../realtime/taskEventRelay';
import { createTaskLogRelay } from '../realtime/taskLogRelay';
import { startRealtimeRelays, type RealtimeRelays } from '../realtime/realtimeRelays';
import { createSocketServer } from '../realtime/socketServer';
import { createApiMetrics, type ApiMetrics } from '../observability/metrics';
import { createApp } from './app';
import { createReadinessProbe } from './readiness';
import type { TokenResolver } from '../auth/tokens';
import type { TaskRouteDeps } from './routes/tasks';
import type { WorkspaceRouteDeps } from './routes/workspaces';
import { createProvisionStarter, type ProvisionStarter } from '../temporal/provisionStarter';

export interface ApiServer {
  http: HttpServer;
  io: RealtimeServer;
  /** Relays task events (`task.event`) and provisioning log lines (`task.log`) to the rooms, on one LISTEN connection (src/realtime/realtimeRelays.ts). */
  relay: RealtimeRelays;
  /** This process's Prometheus metrics, served at `GET /metrics` (src/observability/metrics.ts). */
  metrics: ApiMetrics;
  /** Starts the provisioning runs of created tasks after their requests have answered. */
  provisionStarter: ProvisionStarter;
  /** Listens on `port` (0 = any free port) and resolves with the port. */
  listen(port: number, host?: string): Promise<number>;
  /** Closes Socket.IO and the HTTP server, tries the provisioning starts still queued, closes the relays. */
  close(): Promise<void>;
}

export function createApiServer(
  deps: Omit<TaskRouteDeps, 'provisionStarter'> & WorkspaceRouteDeps & { databaseUrl: string; resolveToken: TokenResolver; benchmarkEndpoints?: boolean },
): ApiServer {
  const provisionStarter = createProvisionStarter({ temporal: deps.temporal, taskQueue: deps.taskQueue, logger: deps.logger });
  // Asked only on a request, which comes after the relay below has started.
  const readiness = createReadinessProbe({ prisma: deps.prisma, temporal: deps.temporal, realtime: () => relay });
  // Read at scrape time, after `io` below exists.
  const metrics = createApiMetrics({ prisma: deps.prisma, provisionStartsPending: () => provisionStarter.pending, socketConnections: () => io.engine.clientsCount });
  const http = createServer(createApp({ ...deps, provisionStarter, readiness, metrics }));
  const io = createSocketServer(http, { prisma: deps.prisma, logger: deps.logger, resolveToken: deps.resolveToken });
  const { prisma, logger } = deps;
  const relay = startRealtimeRelays({
    databaseUrl: deps.databaseUrl,
    logger,
    relays: (listening) => [
      createTaskEventRelay({ prisma, io, logger, listening, onLiveDelivery: (lag) => metrics.realtimeDeliveryLag.observe(lag) }),
      createTaskLogRelay({ prisma, io, logger }),
    ],
  });
  return {
    http,
    io,
    relay,
    metrics,
    provisionStarter,
    async listen(port, host = '127.0.0.1') {
      await relay.ready;
      await new Promise<void>((resolve, reject) => {
        http.once('error', reject);
        http.listen(port, host, () => resolve());
      });
      return (http.address() as AddressInfo).port;
    },
    async close() {
      await new Promise<void>((resolve) => io.close(() => resolve()));
      if (http.listening) await new Promise<void>((resolve) => http.close(() => resolve()));
      await provisionStarter.drain();
      await relay.close();
    },
  };
}
