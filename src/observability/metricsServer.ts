/**
 * The worker's scrape endpoint: `GET /metrics` (Prometheus text format) on WORKER_METRICS_PORT, bound
 * to HOST. The API serves its registry on its own port instead (src/api/app.ts).
 */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express, { type RequestHandler } from 'express';
import type { Registry } from 'prom-client';

/** `GET /metrics` of `registry`: 200 in the registry's content type; 500 only when a collector throws (logged by the caller's error handler). */
export function metricsHandler(registry: Registry): RequestHandler {
  return async (_req, res) => {
    res.set('Content-Type', registry.contentType).send(await registry.metrics());
  };
}

/** A running metrics server. */
export interface MetricsServer {
  /** The port it listens on. */
  port: number;
  close(): Promise<void>;
}

/**
 * Serves `registry` at `GET /metrics` on `host`:`port` (0: any free port).
 * @throws the listen error (e.g. EADDRINUSE): a port another process holds is a configuration error.
 */
export async function startMetricsServer(registry: Registry, port: number, host: string): Promise<MetricsServer> {
  const app = express();
  app.disable('x-powered-by');
  app.get('/metrics', metricsHandler(registry));
  const server: Server = await new Promise((resolve, reject) => {
    const s = app.listen(port, host, () => resolve(s));
    s.once('error', reject);
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
