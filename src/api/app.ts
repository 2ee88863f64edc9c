/** Express application of the REST API (routes, JSON parsing with a size limit, request logs, errors). */
import express, { type Express } from 'express';
import { pinoHttp } from 'pino-http';
import type { TokenResolver } from '../auth/tokens';
import { httpMetrics } from '../observability/httpMetrics';
import { httpSpanRoutes } from '../observability/httpTracing';
import type { ApiMetrics } from '../observability/metrics';
import { metricsHandler } from '../observability/metricsServer';
import { requireBearer, workspaceOf } from './auth';
import { errorHandler, notFound } from './errors';
import { DOCS_ASSETS_PATH, docsAssets, docsPage } from './openapi/docsPage';
import { openApiDocument } from './openapi/document';
import type { ReadinessProbe } from './readiness';
import { benchRoutes } from './routes/bench';
import { sessionRoutes } from './routes/sessions';
import { taskRoutes, type TaskRouteDeps } from './routes/tasks';
import { workspaceRoutes, type WorkspaceRouteDeps } from './routes/workspaces';
import { DEFAULT_WORKBENCH_DIR, WORKBENCH_ASSETS_PATH, workbenchPage } from './workbenchPage';

/** Largest JSON body accepted; larger answers 413 payload_too_large. */
export const BODY_LIMIT = '256kb';

/**
 * The Express app: health checks, the OpenAPI document and its docs page, the workbench page (all
 * open), then the bearer check for everything under /v1, the task and tab routes, the workspace
 * settings routes (model provider keys, egress policy), and the error contract (./errors.ts).
 * `workbenchDir`: the built page (default web/dist, ./workbenchPage.ts).
 */
export function createApp(
  deps: TaskRouteDeps & WorkspaceRouteDeps & { resolveToken: TokenResolver; readiness: ReadinessProbe; benchmarkEndpoints?: boolean; workbenchDir?: string; metrics: ApiMetrics },
): Express {
  const app = express();
  app.disable('x-powered-by');
  const document = openApiDocument(); // built here, so a broken document stops the start, not a request
  app.use(httpSpanRoutes(Object.keys(document.paths ?? {}))); // traces: the request's span named by its route template
  app.use(httpMetrics(deps.metrics.httpRequestDuration, Object.keys(document.paths ?? {})));
  app.use(pinoHttp({ logger: deps.logger, autoLogging: { ignore: (req) => req.url === '/healthz' || req.url === '/readyz' || req.url === '/metrics' } }));
  app.use(express.json({ limit: BODY_LIMIT }));
  /**
   * Liveness: 200 { status: "ok", provisionStartsPending } — the second is how many created tasks
   * this process has answered for whose provisionTask run it has not started yet (the recovery sweep
   * covers them if the process dies).
   */
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok', provisionStartsPending: deps.provisionStarter.pending });
  });
  /**
   * Readiness: 200 when the database, the Temporal frontend and the realtime listener all answer,
   * else 503 with `Retry-After: 5`; body ReadinessReport (./readiness.ts) either way. Open, like
   * /healthz: it names dependencies and latencies, nothing of any workspace.
   */
  app.get('/readyz', async (_req, res) => {
    const report = await deps.readiness();
    if (report.status !== 'ready') res.status(503).set('Retry-After', '5');
    res.json(report);
  });
  /** Prometheus metrics of this process (src/observability/metrics.ts), text format. Open, like the health checks. */
  app.get('/metrics', metricsHandler(deps.metrics.registry));
  /** The OpenAPI 3.1 document of this API (./openapi/document.ts). Open, like the health checks. */
  app.get('/openapi.json', (_req, res) => {
    res.json(document);
  });
  /** Swagger UI for /openapi.json, with its assets served from here (./openapi/docsPage.ts). Open. */
  app.get('/docs', docsPage);
  app.use(DOCS_ASSETS_PATH, docsAssets);
  const workbench = workbenchPage(deps.workbenchDir ?? DEFAULT_WORKBENCH_DIR);
  app.get('/', workbench.page);
  app.get('/tasks/:id', workbench.page);
  app.use(WORKBENCH_ASSETS_PATH, workbench.assets);
  app.use('/v1', requireBearer(deps.resolveToken));
  /** The token's workspace: 200 { workspaceId } (Identity), so a client holding only a token knows what to list. */
  app.get('/v1/me', (_req, res) => {
    res.json({ workspaceId: workspaceOf(res) });
  });
  app.use('/v1/tasks/:id/sessions', sessionRoutes(deps));
  app.use('/v1/tasks', taskRoutes(deps));
  app.use('/v1/workspaces', workspaceRoutes(deps));
  if (deps.benchmarkEndpoints) app.use('/v1/bench', benchRoutes(deps)); // benchmark-only, see routes/bench.ts
  app.use(notFound);
  app.use(errorHandler(deps.logger));
  return app;
}
