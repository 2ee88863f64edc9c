/** Express application of the REST API (routes, JSON parsing with a size limit, request logs, errors). */
import express, { type Express } from 'express';
import { pinoHttp } from 'pino-http';
import type { TokenResolver } from '../auth/tokens';
import { requireBearer } from './auth';
import { errorHandler, notFound } from './errors';
import type { ReadinessProbe } from './readiness';
import { benchRoutes } from './routes/bench';
import { sessionRoutes } from './routes/sessions';
import { taskRoutes, type TaskRouteDeps } from './routes/tasks';

/** Largest JSON body accepted; larger answers 413 payload_too_large. */
export const BODY_LIMIT = '256kb';

export function createApp(deps: TaskRouteDeps & { resolveToken: TokenResolver; readiness: ReadinessProbe; benchmarkEndpoints?: boolean }): Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(pinoHttp({ logger: deps.logger, autoLogging: { ignore: (req) => req.url === '/healthz' || req.url === '/readyz' } }));
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
  app.use('/v1', requireBearer(deps.resolveToken));
  app.use('/v1/tasks/:id/sessions', sessionRoutes(deps));
  app.use('/v1/tasks', taskRoutes(deps));
  if (deps.benchmarkEndpoints) app.use('/v1/bench', benchRoutes(deps)); // benchmark-only, see routes/bench.ts
  app.use(notFound);
  app.use(errorHandler(deps.logger));
  return app;
}
