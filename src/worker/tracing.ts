/**
 * Tracing of the Temporal workers (docs/OBSERVABILITY.md#traces), with @temporalio/interceptors-opentelemetry:
 * - the workflow interceptor module (src/workflows/interceptors.ts), bundled with the workflows;
 * - the activity interceptors: `RunActivity:<type>`, a child of the workflow's `StartActivity:<type>`
 *   (its context travels in the activity's headers), and then the activity's task id, step and
 *   sandbox id on that span and on every span the activity makes below it (src/observability/spans.ts);
 * - the `exporter` sink through which the workflow sandbox hands its spans to this process's span
 *   processor (src/observability/tracing.ts).
 * Installed whether tracing is on or not, so every worker runs the same workflow code: without a
 * tracer provider the activity spans are no-ops and the sink drops what it gets.
 */
import type { Context as ActivityContext } from '@temporalio/activity';
import { OpenTelemetryActivityInboundInterceptor, OpenTelemetryActivityOutboundInterceptor, makeWorkflowExporter } from '@temporalio/interceptors-opentelemetry/lib/worker';
import type { OpenTelemetrySinks } from '@temporalio/interceptors-opentelemetry/lib/workflow/definitions';
import type { ActivityExecuteInput, ActivityInboundCallsInterceptor, ActivityInterceptorsFactory, InjectedSinks, Next } from '@temporalio/worker';
import { trace, type Attributes } from '@opentelemetry/api';
import { Resource } from '@opentelemetry/resources';
import { NoopSpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { ProvisionStep } from '../domain/status';
import { SPAN_ATTRIBUTES, withSpanAttributes } from '../observability/spans';
import type { Tracing } from '../observability/tracing';
import type { ProvisionActivities } from '../workflows/provisionTask.contract';

/**
 * Absolute paths of the workflow interceptor modules: for `bundleWorkflowCode({ workflowInterceptorModules })`
 * (the tests' bundle, src/dev/stack/globalSetup.ts) and for a worker that bundles src/workflows itself.
 */
export const WORKFLOW_INTERCEPTOR_MODULES: string[] = [require.resolve('../workflows/interceptors')];

/** The provisioning step each step activity runs. */
const STEP_OF_ACTIVITY: Partial<Record<string, ProvisionStep>> = {
  ensureName: 'init_ensure_name',
  createSandbox: 'init_create_sandbox',
  ensureAgent: 'init_ensure_agent',
  createSession: 'init_create_session',
} satisfies Partial<Record<keyof ProvisionActivities, ProvisionStep>>;

/**
 * Puts an activity's task id, step and sandbox id (from its input `{ taskId, sandboxId }`, when it
 * has one) on its `RunActivity` span and on every span made below it. Ids only: nothing of the input
 * beyond them is read.
 */
class TaskSpanAttributesInterceptor implements ActivityInboundCallsInterceptor {
  constructor(private readonly ctx: ActivityContext) {}

  execute(input: ActivityExecuteInput, next: Next<ActivityInboundCallsInterceptor, 'execute'>): Promise<unknown> {
    const arg = input.args[0] as { taskId?: unknown; sandboxId?: unknown } | null | undefined;
    const taskId = typeof arg?.taskId === 'string' ? arg.taskId : undefined;
    if (!taskId) return next(input);
    const step = STEP_OF_ACTIVITY[this.ctx.info.activityType];
    const attributes: Attributes = {
      [SPAN_ATTRIBUTES.taskId]: taskId,
      ...(step ? { [SPAN_ATTRIBUTES.step]: step } : {}),
      ...(typeof arg?.sandboxId === 'string' ? { [SPAN_ATTRIBUTES.sandboxId]: arg.sandboxId } : {}),
    };
    trace.getActiveSpan()?.setAttributes(attributes); // the RunActivity span (the interceptor before this one)
    return withSpanAttributes(attributes, () => next(input));
  }
}

/** The activity interceptors of every worker (orchestration and sandbox host), outermost first. */
export const ACTIVITY_TRACING_INTERCEPTORS: ActivityInterceptorsFactory[] = [
  (ctx) => ({ inbound: new OpenTelemetryActivityInboundInterceptor(ctx), outbound: new OpenTelemetryActivityOutboundInterceptor(ctx) }),
  (ctx) => ({ inbound: new TaskSpanAttributesInterceptor(ctx) }),
];

/**
 * The sink the workflow interceptors export their spans through, to `tracing`'s span processor with
 * its resource; without `tracing` (or with tracing off) the spans are dropped. A worker that runs
 * workflows needs it (the replay worker too: there it is never called), or each span logs an error.
 */
export function workflowTracingSinks(tracing?: Pick<Tracing, 'spanProcessor' | 'resource'>): InjectedSinks<OpenTelemetrySinks> {
  return { exporter: makeWorkflowExporter(tracing?.spanProcessor ?? new NoopSpanProcessor(), tracing?.resource ?? Resource.empty()) };
}
