/**
 * OpenTelemetry tracing of one process (docs/OBSERVABILITY.md#traces): a tracer provider registered
 * as the process's global one, the HTTP and pg instrumentations, and an exporter. On when an OTLP
 * collector is configured (OTEL_EXPORTER_OTLP_ENDPOINT, read by src/config.ts) or an exporter is
 * handed in (a test's InMemorySpanExporter); otherwise nothing is registered and every span the code
 * asks for (./spans.ts, the Temporal interceptors) is a no-op.
 *
 * Started before anything loads pg (the API's and the worker's `instrument.ts`, imported first by
 * their `main.ts`), so pg is patched as it loads. http and https are patched in place when tracing
 * starts even if they were loaded before (a test process has loaded them long before).
 *
 * Express: the instrumentation of the OpenTelemetry JS 1.x line that matches the Temporal interceptors
 * (@opentelemetry/instrumentation-express ≤ 0.47) patches Express 4 only; this service runs Express 5.
 * The API names its HTTP server spans after the OpenAPI route template itself instead (./httpTracing.ts).
 */
import { isBuiltin } from 'node:module';
import { context, propagation, trace } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { registerInstrumentations, type InstrumentationBase } from '@opentelemetry/instrumentation';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { Resource } from '@opentelemetry/resources';
import { BatchSpanProcessor, NoopSpanProcessor, SimpleSpanProcessor, type SpanExporter, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import type { IncomingMessage } from 'node:http';
import { loadConfig } from '../config';

/** `service.name` of the API process's spans. */
export const API_SERVICE_NAME = 'task-provisioning-api';
/** `service.name` of the worker process's spans (its workflows' spans included). */
export const WORKER_SERVICE_NAME = 'task-provisioning-worker';

/** Requests that are not traced: probes and scrapes (their path, without the query). */
const UNTRACED_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

/** Tracing of this process, as {@link startTracing} set it up. */
export interface Tracing {
  /** False when tracing is off (no collector configured, no exporter given): nothing was registered. */
  readonly enabled: boolean;
  /** This process's resource (`service.name`); workflow spans are exported with it too. */
  readonly resource: Resource;
  /**
   * Where ended spans go. Workflow spans are made inside Temporal's workflow sandbox and handed to it
   * through a sink (src/worker/tracing.ts); a no-op processor when tracing is off.
   */
  readonly spanProcessor: SpanProcessor;
  /**
   * Exports what is still buffered, removes the instrumentations' patches and unregisters the global
   * tracer provider, context manager and propagator. Call once, when the process (or test) stops;
   * later calls do nothing. Resolves once the exporter has been flushed and shut down (an unreachable
   * collector is the exporter's own concern: its error is logged by OpenTelemetry, not thrown).
   */
  shutdown(): Promise<void>;
}

export interface TracingOptions {
  /** `service.name` of the spans ({@link API_SERVICE_NAME}, {@link WORKER_SERVICE_NAME}). */
  serviceName: string;
  /**
   * Base URL of an OTLP/HTTP collector (config.tracing.otlpEndpoint, e.g. `http://127.0.0.1:4318`):
   * spans are batched to `<url>/v1/traces`. Null or absent: no OTLP export.
   */
  otlpEndpoint?: string | null;
  /** An exporter of the caller's own (a test's InMemorySpanExporter): each span is handed to it as it ends. */
  exporter?: SpanExporter;
}

/** True while a {@link startTracing} of this process has not been shut down: there is one global provider. */
let active = false;

/**
 * Starts tracing for this process: registers a NodeTracerProvider globally (async-local context,
 * W3C trace-context propagation), the HTTP instrumentation (server and client spans; probes, scrapes
 * and requests on Unix sockets, i.e. a sandbox's egress proxy, are not traced) and the pg
 * instrumentation (queries inside a traced operation only, without their parameters), exporting to
 * the OTLP collector and/or the given exporter.
 * With neither `otlpEndpoint` nor `exporter` it registers nothing and returns a disabled {@link Tracing}.
 * @throws Error when tracing is already started in this process and not shut down (one global provider per process).
 */
export function startTracing(opts: TracingOptions): Tracing {
  const resource = new Resource({ [ATTR_SERVICE_NAME]: opts.serviceName });
  const processors: SpanProcessor[] = [];
  if (opts.otlpEndpoint) processors.push(new BatchSpanProcessor(new OTLPTraceExporter({ url: `${opts.otlpEndpoint}/v1/traces` })));
  if (opts.exporter) processors.push(new SimpleSpanProcessor(opts.exporter));
  if (processors.length === 0) return { enabled: false, resource, spanProcessor: new NoopSpanProcessor(), shutdown: async () => {} };
  if (active) throw new Error('tracing is already started in this process');
  active = true;

  const provider = new NodeTracerProvider({ resource, spanProcessors: processors });
  provider.register();
  const instrumentations = [
    new HttpInstrumentation({
      ignoreIncomingRequestHook: (req) => req.socket.localPort === undefined || UNTRACED_PATHS.has(pathOf(req)),
      requireParentforOutgoingSpans: true,
    }),
    new PgInstrumentation({ requireParentSpan: true }),
  ];
  const unregister = registerInstrumentations({ tracerProvider: provider, instrumentations });
  patchLoadedBuiltins(instrumentations);

  // Workflow spans reach the processors through the worker's sink, after the provider's own.
  const spanProcessor: SpanProcessor = {
    onStart: () => {},
    onEnd: (span) => processors.forEach((p) => p.onEnd(span)),
    forceFlush: async () => {
      await Promise.all(processors.map((p) => p.forceFlush()));
    },
    shutdown: async () => {},
  };
  let stopped = false;
  return {
    enabled: true,
    resource,
    spanProcessor,
    async shutdown() {
      if (stopped) return;
      stopped = true;
      unregister(); // disables the instrumentations: their patches are removed
      await provider.shutdown(); // flushes and shuts down every processor and its exporter
      trace.disable();
      context.disable();
      propagation.disable();
      active = false;
    },
  };
}

/**
 * {@link startTracing} for a process's entry point (the API's and the worker's `instrument.ts`, imported
 * first by their `main.ts`), exporting to the collector the configuration names (OTEL_EXPORTER_OTLP_ENDPOINT,
 * src/config.ts); none while the configuration is invalid (main() then reports it and exits).
 */
export function startConfiguredTracing(serviceName: string): Tracing {
  let otlpEndpoint: string | null = null;
  try {
    otlpEndpoint = loadConfig().tracing.otlpEndpoint;
  } catch {
    // invalid configuration: main() says why
  }
  return startTracing({ serviceName, otlpEndpoint });
}

/** The path of a request, without its query. */
function pathOf(req: IncomingMessage): string {
  return (req.url ?? '').split('?', 1)[0]!;
}

/**
 * Patches the built-in modules the instrumentations cover (http, https) in place now. Their hooks
 * patch a module when it is required after they are registered; a process that loaded it before (a
 * test process, or a module that required http before tracing started) would otherwise keep it
 * unpatched. Patching twice is harmless: an instrumentation unwraps before it wraps.
 */
function patchLoadedBuiltins(instrumentations: InstrumentationBase[]): void {
  for (const instrumentation of instrumentations) {
    for (const definition of instrumentation.getModuleDefinitions()) {
      if (!isBuiltin(definition.name) || !definition.patch || definition.moduleExports !== undefined) continue;
      definition.moduleExports = require(definition.name);
      definition.patch(definition.moduleExports);
    }
  }
}
