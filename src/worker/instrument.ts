/**
 * Tracing of the worker process, its workflows and activities (src/observability/tracing.ts,
 * docs/OBSERVABILITY.md#traces): on when OTEL_EXPORTER_OTLP_ENDPOINT is set. Imported first by
 * ./main.ts, so it starts before anything loads http or pg and their instrumentations patch them as
 * they load.
 */
import { WORKER_SERVICE_NAME, startConfiguredTracing, type Tracing } from '../observability/tracing';

/** The worker's tracing: its span processor also takes the workflows' spans; `shutdown()` flushes it when the process stops. */
export const tracing: Tracing = startConfiguredTracing(WORKER_SERVICE_NAME);
