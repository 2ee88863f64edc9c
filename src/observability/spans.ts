/**
 * Spans the service makes itself (docs/OBSERVABILITY.md#traces): a provider's sub-steps (git clone,
 * sandbox-agent start, the ACP session) inside the activity that runs them. Written against
 * `@opentelemetry/api` only: with no tracer provider registered (tracing off, ./tracing.ts) every span
 * here is a no-op and `fn` just runs.
 *
 * Attributes are ids and step names only: never a secret, a token, a prompt or anything a sandbox
 * wrote (error messages included: a failed span records the error's type, not its message).
 */
import { SpanStatusCode, context, createContextKey, trace, type Attributes } from '@opentelemetry/api';

/** Name of the tracer of the service's own spans. */
const TRACER_NAME = 'task-provisioning';

/** Attribute names of the service's own spans. */
export const SPAN_ATTRIBUTES = {
  /** The task the span works for. */
  taskId: 'task.id',
  /** The provisioning step (`init_create_sandbox`, …: src/domain/status.ts). */
  step: 'task.step',
  /** The sandbox's id (its `sandboxes` row, the provider's sandbox key). */
  sandboxId: 'sandbox.id',
} as const;

/** Context key of the attributes every {@link withSpan} span inside {@link withSpanAttributes} carries. */
const INHERITED_ATTRIBUTES = createContextKey('task-provisioning inherited span attributes');

const inherited = (): Attributes => (context.active().getValue(INHERITED_ATTRIBUTES) as Attributes | undefined) ?? {};

/**
 * Runs `fn` inside a new span `name`, a child of the active span (an activity's `RunActivity` span),
 * with the attributes inherited from {@link withSpanAttributes} and `attributes` (ids and step names
 * only, see above). The span ends when `fn` settles; when `fn` throws, its status is ERROR with the
 * error's type (a ProviderError's `type`, else its class name).
 * @returns what `fn` resolves to.
 * @throws what `fn` throws, unchanged.
 */
export async function withSpan<T>(name: string, attributes: Attributes, fn: () => Promise<T>): Promise<T> {
  return trace.getTracer(TRACER_NAME).startActiveSpan(name, { attributes: { ...inherited(), ...attributes } }, async (span) => {
    try {
      return await fn();
    } catch (err) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: errorTypeOf(err) });
      throw err;
    } finally {
      span.end();
    }
  });
}

/**
 * Runs `fn` in a context whose {@link withSpan} spans all carry `attributes` too (added to those of an
 * enclosing call): the worker sets the task id and step of an activity this way, so the provider's
 * sub-step spans name them without the provider knowing either. Without tracing it just calls `fn`.
 * @returns what `fn` returns.
 */
export function withSpanAttributes<T>(attributes: Attributes, fn: () => T): T {
  return context.with(context.active().setValue(INHERITED_ATTRIBUTES, { ...inherited(), ...attributes }), fn);
}

/** The type of a thrown value for a span's status: a ProviderError's or ApplicationFailure's `type`, else its class name. */
function errorTypeOf(err: unknown): string {
  if (err instanceof Error) {
    const type = (err as { type?: unknown }).type;
    return typeof type === 'string' ? type : err.name;
  }
  return 'Error';
}
