/**
 * Prometheus metrics on the real stack (src/observability/metrics.ts): the API's `GET /metrics` and
 * the orchestration worker's metrics endpoint are scraped before and after real tasks, and the series a
 * created task should move moved by exactly that much: a create (not its idempotent replay), its HTTP
 * requests by route template, its four steps' durations, its time to `running`, tasks by status, the
 * host's sandboxes by state, the live delivery of its events; a task whose repository cannot be read counts
 * its step as `failed`. The Temporal SDK runtime's own exporter answers with its `temporal_` series.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { createTestRepo } from '../../src/dev/stack/gitRepo';
import { getJson, postJson, startServices, type TestServices } from '../../src/dev/stack/services';
import { TaskEventClient } from '../../src/dev/stack/socketClient';

/** One sample of a scrape: metric name, labels, value. */
interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The samples of a Prometheus text-format scrape (comment lines skipped). */
function parseScrape(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return samples;
}

/** The sum of the samples named `name` whose labels include `labels` (0 when there is none). */
const valueOf = (samples: Sample[], name: string, labels: Record<string, string> = {}) =>
  samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((sum, s) => sum + s.value, 0);

async function scrape(url: string): Promise<Sample[]> {
  const res = await fetch(url);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
  return parseScrape(await res.text());
}

describe('Prometheus metrics', () => {
  let services: TestServices;
  let repo: string;
  const workspaceId = `ws-metrics-${randomUUID().slice(0, 8)}`;

  beforeAll(async () => {
    services = await startServices();
    repo = await createTestRepo(path.join(services.repoRoot, 'metrics-repo'));
  });
  afterAll(async () => services?.stop());

  const url = (p: string) => `${services.baseUrl}${p}`;
  const apiMetrics = () => scrape(url('/metrics'));
  const workerMetrics = () => scrape(services.workerMetricsUrl);

  /** Polls the task until its status is `status` (each poll a counted GET /v1/tasks/{id}). */
  async function statusOf(taskId: string, status: string): Promise<void> {
    for (const deadline = Date.now() + 90_000; ; await new Promise((r) => setTimeout(r, 100))) {
      if ((await getJson(url(`/v1/tasks/${taskId}`))).body.status === status) return;
      if (Date.now() > deadline) throw new Error(`task ${taskId} never reached ${status}`);
    }
  }

  /** Waits until the worker's `name{labels}` reaches `atLeast` (observed just after the transition's commit), then returns the scrape. */
  async function workerWhen(name: string, labels: Record<string, string>, atLeast: number): Promise<Sample[]> {
    for (const deadline = Date.now() + 10_000; ; await new Promise((r) => setTimeout(r, 50))) {
      const samples = await workerMetrics();
      if (valueOf(samples, name, labels) >= atLeast || Date.now() > deadline) return samples;
    }
  }

  it('a created task moves the API’s and the worker’s series by exactly itself', async () => {
    const [api0, worker0] = [await apiMetrics(), await workerMetrics()];
    const socket = new TaskEventClient(services.baseUrl, workspaceId);
    expect((await socket.subscribe({ workspaceId })).ok).toBe(true);

    const key = `metrics-${randomUUID()}`;
    const body = { workspaceId, repository: repo, prompt: 'Count me\nOnce.' };
    const created = await postJson(url('/v1/tasks'), body, { 'Idempotency-Key': key });
    expect(created.status).toBe(201);
    expect((await postJson(url('/v1/tasks'), body, { 'Idempotency-Key': key })).headers.get('idempotent-replayed')).toBe('true');
    await statusOf(created.body.id, 'running');
    const stepCount = (step: string, outcome: string) => ({ step, outcome });
    const running0 = valueOf(worker0, 'provisioning_time_to_running_seconds_count');
    const worker1 = await workerWhen('provisioning_time_to_running_seconds_count', {}, running0 + 1);
    const api1 = await apiMetrics();
    socket.close();

    const delta = (before: Sample[], after: Sample[], name: string, labels: Record<string, string> = {}) => valueOf(after, name, labels) - valueOf(before, name, labels);
    // The API: one task created (the replay not counted), both POSTs answered 201 on the route template.
    expect(delta(api0, api1, 'provisioning_tasks_created_total')).toBe(1);
    expect(delta(api0, api1, 'http_request_duration_seconds_count', { method: 'POST', route: '/v1/tasks', status_code: '201' })).toBe(2);
    expect(delta(api0, api1, 'http_request_duration_seconds_count', { method: 'GET', route: '/v1/tasks/{id}', status_code: '200' })).toBeGreaterThanOrEqual(1);
    expect(api1.filter((s) => s.name === 'http_request_duration_seconds_count').map((s) => s.labels.route)).not.toContain(`/v1/tasks/${created.body.id}`);
    expect(valueOf(api1, 'provisioning_tasks', { status: 'running' })).toBeGreaterThanOrEqual(1);
    expect(valueOf(api1, 'provisioning_socketio_connections')).toBeGreaterThanOrEqual(1);
    expect(delta(api0, api1, 'provisioning_realtime_delivery_lag_seconds_count')).toBeGreaterThanOrEqual(1);
    expect(valueOf(api1, 'provisioning_starts_pending')).toBe(0);
    // The worker: each step once, completed, and the task's time to running once.
    for (const step of ['init_ensure_name', 'init_create_sandbox', 'init_ensure_agent', 'init_create_session']) {
      expect({ step, count: delta(worker0, worker1, 'provisioning_step_duration_seconds_count', stepCount(step, 'completed')) }).toEqual({ step, count: 1 });
    }
    expect(delta(worker0, worker1, 'provisioning_time_to_running_seconds_count')).toBe(1);
    expect(valueOf(worker1, 'provisioning_sandboxes', { state: 'ready' })).toBeGreaterThanOrEqual(1);
    // The running sandbox's agent is in its cgroup: the host's sandboxes use memory.
    expect(valueOf(worker1, 'provisioning_sandboxes_memory_bytes')).toBeGreaterThan(0);
    // Per sandbox: the task's own sandbox, by id, uses memory (its agent) and disk (its checkout).
    const sandboxId = (await services.prisma.task.findUniqueOrThrow({ where: { id: created.body.id } })).activeSandboxId!;
    expect(valueOf(worker1, 'provisioning_sandbox_memory_bytes', { sandbox_id: sandboxId })).toBeGreaterThan(0);
    expect(valueOf(worker1, 'provisioning_sandbox_disk_used_bytes', { sandbox_id: sandboxId })).toBeGreaterThan(0);
    expect(worker1.find((s) => s.name === 'process_cpu_seconds_total')?.labels.service).toBe('worker');
  });

  it('a step that fails counts as failed', async () => {
    // A repository that does not exist: the first step, which reads it, fails for good.
    const step = { step: 'init_ensure_name', outcome: 'failed' };
    const before = await workerMetrics();
    const created = await postJson(url('/v1/tasks'), { workspaceId, repository: path.join(services.repoRoot, 'no-such-repo'), prompt: 'Fail to read' });
    expect(created.status).toBe(201);
    await statusOf(created.body.id, 'error');
    const after = await workerWhen('provisioning_step_duration_seconds_count', step, valueOf(before, 'provisioning_step_duration_seconds_count', step) + 1);
    expect(valueOf(after, 'provisioning_step_duration_seconds_count', step)).toBe(valueOf(before, 'provisioning_step_duration_seconds_count', step) + 1);
    expect(valueOf(after, 'provisioning_step_duration_seconds_count', { step: 'init_ensure_name', outcome: 'completed' })).toBe(
      valueOf(before, 'provisioning_step_duration_seconds_count', { step: 'init_ensure_name', outcome: 'completed' }),
    );
    expect(valueOf(after, 'provisioning_time_to_running_seconds_count')).toBe(valueOf(before, 'provisioning_time_to_running_seconds_count'));
  });

  it('the Temporal SDK runtime serves its own worker metrics', async () => {
    const text = await (await fetch(services.temporalSdkMetricsUrl)).text();
    const names = new Set(parseScrape(text).map((s) => s.name));
    expect([...names].filter((n) => n.startsWith('temporal_')).length).toBeGreaterThan(0);
    expect([...names].some((n) => /^temporal_.*workflow_task/.test(n))).toBe(true);
  });
});
