/**
 * OpenTelemetry traces on the real stack (src/observability/tracing.ts, src/worker/tracing.ts): the
 * API and the workers run in this process, tracing to an in-memory exporter. One task created with
 * `POST /v1/tasks` is one trace: the request's server span → the asynchronous start of its run
 * (`StartWorkflow:provisionTask`) → the run (`RunWorkflow:provisionTask`) → each activity it schedules,
 * the local ones too (`StartActivity:<type>` → `RunActivity:<type>`) → the provider's sub-steps (git
 * clone, sandbox-agent start, ACP session) under the activity that ran them, with the task's id, step
 * and sandbox id. Names and parent ids only: nothing here depends on how long anything took.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { SpanKind } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { createTestRepo } from '../../src/dev/stack/gitRepo';
import { runOf } from '../../src/dev/stack/runs';
import { getJson, postJson, startServices, type TestServices } from '../../src/dev/stack/services';

describe('OpenTelemetry traces', () => {
  const exporter = new InMemorySpanExporter();
  let services: TestServices;
  let repo: string;
  const workspaceId = `ws-traces-${randomUUID().slice(0, 8)}`;

  beforeAll(async () => {
    services = await startServices({ tracing: { exporter } });
    repo = await createTestRepo(path.join(services.repoRoot, 'traces-repo'));
  });
  afterAll(async () => services?.stop());

  const url = (p: string) => `${services.baseUrl}${p}`;

  /** Polls the task until its status is `status`. */
  async function statusOf(taskId: string, status: string): Promise<void> {
    for (const deadline = Date.now() + 90_000; ; await new Promise((r) => setTimeout(r, 100))) {
      if ((await getJson(url(`/v1/tasks/${taskId}`))).body.status === status) return;
      if (Date.now() > deadline) throw new Error(`task ${taskId} never reached ${status}`);
    }
  }

  /** The finished spans once one satisfies `found` (workflow spans arrive through the worker's sink after the activation that ends them). */
  async function spansOnce(found: (spans: ReadableSpan[]) => boolean): Promise<ReadableSpan[]> {
    for (const deadline = Date.now() + 10_000; ; await new Promise((r) => setTimeout(r, 50))) {
      const spans = exporter.getFinishedSpans();
      if (found(spans) || Date.now() > deadline) return spans;
    }
  }

  it('follows one task from POST /v1/tasks through its run, its activities and the provider’s sub-steps in one trace', async () => {
    const created = await postJson(url('/v1/tasks'), { workspaceId, repository: repo, prompt: 'Trace me\nend to end.' });
    expect(created.status).toBe(201);
    const taskId: string = created.body.id;
    await statusOf(taskId, 'running');
    await (await runOf(services.temporal, created.body.workflowId)).result(); // the run ends after the hand-over

    const all = await spansOnce((spans) => spans.some((s) => s.name === 'RunWorkflow:provisionTask' && s.attributes.workflowId === created.body.workflowId));
    // The request: the API's server span, named by its route template.
    const starts = all.filter((s) => s.name === 'StartWorkflow:provisionTask' && s.attributes.temporalWorkflowId === created.body.workflowId);
    expect(starts).toHaveLength(1);
    const start = starts[0]!;
    const traceId = start.spanContext().traceId;
    const trace = all.filter((s) => s.spanContext().traceId === traceId);
    const byId = new Map(trace.map((s) => [s.spanContext().spanId, s]));
    const parentOf = (s: ReadableSpan) => (s.parentSpanId ? byId.get(s.parentSpanId) : undefined);
    const named = (name: string) => trace.filter((s) => s.name === name);
    const one = (name: string): ReadableSpan => {
      const found = named(name);
      expect({ name, count: found.length }).toEqual({ name, count: 1 });
      return found[0]!;
    };

    const request = parentOf(start)!;
    expect(request).toBeDefined();
    expect({ name: request.name, kind: request.kind, route: request.attributes['http.route'], root: request.parentSpanId }).toEqual({
      name: 'POST /v1/tasks',
      kind: SpanKind.SERVER,
      route: '/v1/tasks',
      root: undefined,
    });

    // The run continues the start's trace; every activity it schedules is its child, and runs under that.
    const run = one('RunWorkflow:provisionTask');
    expect(run.parentSpanId).toBe(start.spanContext().spanId);
    const activityRun = (type: string): ReadableSpan => {
      const scheduled = one(`StartActivity:${type}`);
      expect({ type, parent: scheduled.parentSpanId }).toEqual({ type, parent: run.spanContext().spanId });
      const ran = named(`RunActivity:${type}`);
      expect({ type, ran: ran.length }).toEqual({ type, ran: 1 });
      expect({ type, parent: ran[0]!.parentSpanId }).toEqual({ type, parent: scheduled.spanContext().spanId });
      return ran[0]!;
    };
    const steps = {
      init_ensure_name: activityRun('ensureName'), // a local activity: traced like the others
      init_create_sandbox: activityRun('createSandbox'),
      init_ensure_agent: activityRun('ensureAgent'),
      init_create_session: activityRun('createSession'),
    };
    for (const [step, span] of Object.entries(steps)) {
      expect({ step, task: span.attributes['task.id'], stepAttribute: span.attributes['task.step'] }).toEqual({ step, task: taskId, stepAttribute: step });
    }
    // The mirror (local activities, one per step boundary after naming, which writes its own start) and
    // the hand-over are in the same trace.
    const mirrors = named('StartActivity:recordTransitions');
    expect(mirrors).toHaveLength(3);
    for (const mirror of mirrors) {
      expect(mirror.parentSpanId).toBe(run.spanContext().spanId);
      expect(trace.filter((s) => s.name === 'RunActivity:recordTransitions' && s.parentSpanId === mirror.spanContext().spanId)).toHaveLength(1);
    }
    activityRun('handOverProvisioning');

    // The provider's sub-steps, each under the activity that ran it, naming the task, its step and its sandbox.
    const sandboxId = steps.init_create_sandbox.attributes['sandbox.id'];
    expect(typeof sandboxId).toBe('string');
    for (const [name, step] of [
      ['git clone', 'init_create_sandbox'],
      ['sandbox-agent start', 'init_ensure_agent'],
      ['ACP session open', 'init_create_session'],
    ] as const) {
      const sub = one(name);
      expect({ name, parent: sub.parentSpanId }).toEqual({ name, parent: steps[step].spanContext().spanId });
      expect({ name, attributes: sub.attributes }).toEqual({ name, attributes: { 'task.id': taskId, 'task.step': step, 'sandbox.id': sandboxId } });
    }

    // Every span of the task's provisioning is in this one trace: none of its workflow or activity spans started another.
    const ofTheRun = all.filter((s) => s.attributes.workflowId === created.body.workflowId || s.attributes['task.id'] === taskId);
    expect(ofTheRun.length).toBeGreaterThan(0);
    expect(ofTheRun.filter((s) => s.spanContext().traceId !== traceId).map((s) => s.name)).toEqual([]);
  });
});
