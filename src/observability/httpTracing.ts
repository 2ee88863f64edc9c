/**
 * Names the API's HTTP server spans after the OpenAPI route template a request matched
 * (`POST /v1/tasks`, `GET /v1/tasks/{id}`) and sets their `http.route`, as an Express instrumentation
 * would (the 1.x line's patches Express 4 only: ./tracing.ts). The span itself is the HTTP
 * instrumentation's, active while the request's handlers run; without tracing there is none and this
 * does nothing.
 */
import { trace } from '@opentelemetry/api';
import type { RequestHandler } from 'express';
import { routeMatcher } from './httpMetrics';

/** Express middleware (mount it first): renames the active server span of a request matching one of `templates`; others keep the instrumentation's name. */
export function httpSpanRoutes(templates: readonly string[]): RequestHandler {
  const routeOf = routeMatcher(templates);
  return (req, _res, next) => {
    const span = trace.getActiveSpan();
    if (span?.isRecording()) {
      const route = routeOf(req.path);
      if (route !== 'other') {
        span.setAttribute('http.route', route);
        span.updateName(`${req.method} ${route}`);
      }
    }
    next();
  };
}
