/**
 * Tracing of the API process (src/observability/tracing.ts, docs/OBSERVABILITY.md#traces): on when
 * OTEL_EXPORTER_OTLP_ENDPOINT is set. Imported first by ./main.ts, so it starts before anything loads
 * express, http or pg and their instrumentations patch them as they load.
 */
import { loadConfig } from '../config';
import { API_SERVICE_NAME, startTracing, type Tracing } from '../observability/tracing';

/** The API's tracing; `shutdown()` flushes it when the process stops. */
export const tracing: Tracing = startTracing({ serviceName: API_SERVICE_NAME, otlpEndpoint: otlpEndpoint() });

/** The configured collector; none while the configuration is invalid (main() then reports it and exits). */
function otlpEndpoint(): string | null {
  try {
    return loadConfig().tracing.otlpEndpoint;
  } catch {
    return null;
  }
}
