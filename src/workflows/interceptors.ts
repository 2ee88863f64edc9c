/**
 * Workflow interceptors, bundled with the workflows as a workflow interceptor module (not a workflow:
 * src/worker/tracing.ts names this file to the bundler, for the worker, the tests' bundle and replay).
 *
 * Tracing (docs/OBSERVABILITY.md#traces), from @temporalio/interceptors-opentelemetry: a run continues
 * the trace its start carried in its headers (`RunWorkflow:<type>`), and every activity, local or not,
 * it schedules gets a `StartActivity:<type>` span whose context travels in the activity's headers to
 * its `RunActivity:<type>` span on the worker. Spans are made inside the workflow sandbox with no I/O
 * and leave it through the `exporter` sink. Headers are no part of a run's commands, so histories
 * recorded without these interceptors replay unchanged.
 */
import type { WorkflowInterceptorsFactory } from '@temporalio/workflow';
import { OpenTelemetryInboundInterceptor, OpenTelemetryInternalsInterceptor, OpenTelemetryOutboundInterceptor } from '@temporalio/interceptors-opentelemetry/lib/workflow';

/** The interceptors of one run (the SDK calls this once per run). */
export const interceptors: WorkflowInterceptorsFactory = () => ({
  inbound: [new OpenTelemetryInboundInterceptor()],
  outbound: [new OpenTelemetryOutboundInterceptor()],
  internals: [new OpenTelemetryInternalsInterceptor()],
});
