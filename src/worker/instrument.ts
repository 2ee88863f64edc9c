/**
 * Tracing of the worker process, its workflows and activities (src/observability/tracing.ts,
 * docs/OBSERVABILITY.md#traces): on when OTEL_EXPORTER_OTLP_ENDPOINT is set. Imported first by
 * ./main.ts, so it starts before anything loads http or pg and their instrumentations patch them as
 * they load.
 */
import { loadConfig } from '../config';
import { WORKER_SERVICE_NAME, startTracing, type Tracing } from '../observability/tracing';

/** The worker's tracing: its span processor also takes the workflows' spans; `shutdown()` flushes it when the process stops. */
export const tracing: Tracing = startTracing({ serviceName: WORKER_SERVICE_NAME, otlpEndpoint: otlpEndpoint() });

/** The configured collector; none while the configuration is invalid (main() then reports it and exits). */
function otlpEndpoint(): string | null {
  try {
    return loadConfig().tracing.otlpEndpoint;
  } catch {
    return null;
  }
}
