/**
 * Traces leave a real API process over OTLP (src/api/instrument.ts, src/observability/tracing.ts): the
 * API runs as its own process with OTEL_EXPORTER_OTLP_ENDPOINT pointing at a collector this test
 * serves on 127.0.0.1, so its modules load after tracing started, as in production, and the pg
 * instrumentation patches the driver under Prisma's adapter (inside Jest's module registry it cannot:
 * test/observability/tracing.test.ts traces the in-process stack without pg). One `POST /v1/tasks` is
 * exported as one trace: its server span, the Postgres queries of its transaction under it, and the
 * start of its provisioning run. Names, kinds and parent ids only.
 */
import type { ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tokenFor } from '../../src/dev/stack/auth';
import { apiProcessEnv } from '../../src/dev/stack/apiProcess';
import { createTestRepo } from '../../src/dev/stack/gitRepo';
import { startServices, type TestServices } from '../../src/dev/stack/services';
import { spawnService, waitForHealth } from '../../src/dev/serviceProcess';
import { findFreePort } from '../../src/net/freePort';
import path from 'node:path';

/** One span as OTLP/HTTP JSON carries it (the fields read here). */
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  /** OTLP's SpanKind: 2 server, 3 client. */
  kind: number;
  attributes?: Array<{ key: string; value: { stringValue?: string } }>;
}
interface OtlpExport {
  resourceSpans?: Array<{
    resource?: { attributes?: Array<{ key: string; value: { stringValue?: string } }> };
    scopeSpans?: Array<{ spans?: OtlpSpan[] }>;
  }>;
}

const SERVER = 2;
const CLIENT = 3;
const attribute = (s: OtlpSpan, key: string) => s.attributes?.find((a) => a.key === key)?.value.stringValue;

describe('OTLP export from the API process', () => {
  let services: TestServices;
  let collector: Server;
  let api: ChildProcess | undefined;
  /** Every span the collector received, with its resource's `service.name`. */
  const received: Array<OtlpSpan & { service?: string }> = [];
  const paths: string[] = [];

  beforeAll(async () => {
    services = await startServices();
    collector = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        paths.push(`${req.method} ${req.url} ${req.headers['content-type']}`);
        const body = JSON.parse(Buffer.concat(chunks).toString()) as OtlpExport;
        for (const rs of body.resourceSpans ?? []) {
          const service = rs.resource?.attributes?.find((a) => a.key === 'service.name')?.value.stringValue;
          for (const ss of rs.scopeSpans ?? []) for (const span of ss.spans ?? []) received.push({ ...span, service });
        }
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
  });

  afterAll(async () => {
    if (api?.pid && api.exitCode === null) api.kill('SIGKILL');
    await new Promise((resolve) => collector?.close(resolve));
    await services?.stop();
  });

  it('exports one trace per request: the server span, its Postgres queries and the run start', async () => {
    const port = await findFreePort();
    const base = `http://127.0.0.1:${port}`;
    const workspaceId = 'ws-otlp';
    api = spawnService(
      'api',
      {
        env: apiProcessEnv(services.stack, {
          port,
          taskQueue: services.taskQueue,
          workspaceId,
          extra: { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${(collector.address() as AddressInfo).port}` },
        }),
        stdio: 'ignore',
      },
      [], // node itself (tsx as its loader), so SIGTERM reaches the API directly
    );
    await waitForHealth(base, 60_000);
    const repo = await createTestRepo(path.join(services.repoRoot, 'otlp-repo'));
    const created = await fetch(`${base}/v1/tasks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${tokenFor(workspaceId)}` },
      body: JSON.stringify({ workspaceId, repository: repo, prompt: 'Export my trace' }),
    });
    expect(created.status).toBe(201);
    const { workflowId } = (await created.json()) as { workflowId: string };
    // Stopping flushes what the batch processor holds (src/api/main.ts).
    const exited = new Promise<number | null>((resolve) => api!.once('exit', (code) => resolve(code)));
    api.kill('SIGTERM');
    expect(await exited).toBe(0);

    expect(paths.length).toBeGreaterThan(0);
    for (const p of paths) expect(p).toBe('POST /v1/traces application/json');
    const requests = received.filter((s) => s.name === 'POST /v1/tasks' && s.kind === SERVER);
    expect(requests).toHaveLength(1);
    const request = requests[0]!;
    expect({ service: request.service, route: attribute(request, 'http.route'), root: request.parentSpanId || undefined }).toEqual({
      service: 'task-provisioning-api',
      route: '/v1/tasks',
      root: undefined,
    });
    const trace = received.filter((s) => s.traceId === request.traceId);
    const byId = new Map(trace.map((s) => [s.spanId, s]));
    const under = (s: OtlpSpan) => {
      for (let p = s.parentSpanId ? byId.get(s.parentSpanId) : undefined; p; p = p.parentSpanId ? byId.get(p.parentSpanId) : undefined) if (p === request) return true;
      return false;
    };
    // The task's transaction (insert, event, notify) ran as pg queries inside the request.
    const queries = trace.filter((s) => s.kind === CLIENT && attribute(s, 'db.system') === 'postgresql');
    expect(queries.length).toBeGreaterThan(0);
    for (const q of queries) expect({ name: q.name, under: under(q) }).toEqual({ name: q.name, under: true });
    expect(queries.some((q) => /INSERT/i.test(attribute(q, 'db.statement') ?? q.name))).toBe(true);
    // No query carries its parameters (the instrumentation is set not to add them).
    for (const q of queries) expect(q.attributes?.some((a) => a.key === 'db.postgresql.values')).toBe(false);
    // The run start continues the request's trace: the worker's spans join it (tracing.test.ts follows them).
    const starts = trace.filter((s) => s.name === 'StartWorkflow:provisionTask' && attribute(s, 'temporalWorkflowId') === workflowId);
    expect(starts).toHaveLength(1);
    expect(under(starts[0]!)).toBe(true);
  });
});
