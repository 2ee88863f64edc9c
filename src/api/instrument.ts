/**
 * Tracing of the API process (src/observability/tracing.ts, docs/OBSERVABILITY.md#traces): on when
 * OTEL_EXPORTER_OTLP_ENDPOINT is set. Imported first by ./main.ts, so it starts before anything loads
 * express, http or pg and their instrumentations patch them as they load.
 */
import { API_SERVICE_NAME, startConfiguredTracing, type Tracing } from '../observability/tracing';

/** The API's tracing; `shutdown()` flushes it when the process stops. */
export const tracing: Tracing = startConfiguredTracing(API_SERVICE_NAME);
