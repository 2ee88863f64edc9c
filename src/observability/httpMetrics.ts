/**
 * HTTP request metrics: an Express middleware that observes every answered request into
 * `http_request_duration_seconds{method, route, status_code}`. `route` is the OpenAPI path template
 * the request matched (`/v1/tasks/{id}`), so the label set stays bounded whatever ids arrive; anything
 * else (assets, unknown paths) is `other`.
 */
import type { RequestHandler } from 'express';
import type { Histogram } from 'prom-client';

/** A matcher of request paths to the first of `templates` they fit, templates with fewer `{params}` first. */
export function routeMatcher(templates: readonly string[]): (path: string) => string {
  const compiled = [...templates]
    .sort((a, b) => (a.match(/\{/g)?.length ?? 0) - (b.match(/\{/g)?.length ?? 0))
    .map((template) => ({
      template,
      pattern: new RegExp(`^${template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/]+')}/?$`),
    }));
  return (path) => compiled.find((c) => c.pattern.test(path))?.template ?? 'other';
}

/** Observes each request's duration (seconds, from arrival to the answer's last byte) when its answer is finished. */
export function httpMetrics(histogram: Histogram<'method' | 'route' | 'status_code'>, templates: readonly string[]): RequestHandler {
  const routeOf = routeMatcher(templates);
  return (req, res, next) => {
    const end = histogram.startTimer();
    // The original URL: by the time the answer is finished a mounted router has rewritten `req.url`.
    res.once('finish', () => end({ method: req.method, route: routeOf(req.originalUrl.split('?', 1)[0]!), status_code: String(res.statusCode) }));
    next();
  };
}
