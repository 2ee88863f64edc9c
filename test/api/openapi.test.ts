/**
 * The OpenAPI document (src/api/openapi/document.ts) against the app and the real stack:
 * - it lists exactly the routes the Express app serves (walked from the app's router stack, with the
 *   mount prefixes of src/api/app.ts), both ways;
 * - real answers of the real stack (REST -> Postgres -> Temporal -> worker with the real local
 *   provider) validate against it: every status is documented for its operation and every body matches
 *   the operation's schema for that status (ajv, JSON Schema 2020-12 as OpenAPI 3.1 uses), required
 *   response headers are present; every operation is exercised at least once;
 * - every history event of a task's whole life validates against exactly the `TaskEventRecord` branch
 *   its type names, and the Socket.IO acks and messages against their components;
 * - `GET /openapi.json` and `GET /docs` answer without a token, and the docs page loads nothing from
 *   outside this API.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import type { Express } from 'express';
import { createApp } from '../../src/api/app';
import { openApiDocument, type OpenApiDocument } from '../../src/api/openapi/document';
import { eventComponentPrefix } from '../../src/api/openapi/events';
import { testTokenResolver, tokenFor } from '../../src/dev/stack/auth';
import { Gate, gatedProvider } from '../../src/dev/stack/gate';
import { createTestRepo } from '../../src/dev/stack/gitRepo';
import { runOf } from '../../src/dev/stack/runs';
import { TaskEventClient } from '../../src/dev/stack/socketClient';
import { startServices, type TestServices } from '../../src/dev/stack/services';
import { createLogger } from '../../src/logger';
import { createApiMetrics } from '../../src/observability/metrics';

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'options', 'head', 'trace'] as const;

/** The bits of Express 5's router layers the route walk reads. */
interface RouterLayer {
  route?: { path: string | string[]; methods: Record<string, boolean> };
  handle?: { stack?: RouterLayer[] };
  rawPath?: string | string[];
}

/** Express path (`/v1/tasks/:id`) as an OpenAPI path template (`/v1/tasks/{id}`), without a trailing slash. */
const toTemplate = (p: string) => (p.replace(/\/+$/, '') || '/').replace(/:(\w+)/g, '{$1}');

/**
 * Every `METHOD /path` the app routes: each route layer, joined with the mount paths of the routers
 * above it. Plain middleware (body parsing, the bearer check, the docs assets) routes nothing.
 */
function appRoutes(app: Express): string[] {
  const found: string[] = [];
  const walk = (stack: RouterLayer[], prefix: string) => {
    for (const layer of stack) {
      if (layer.route) {
        const methods = Object.keys(layer.route.methods).filter((m) => layer.route!.methods[m]);
        if (methods.includes('_all')) throw new Error(`route ${String(layer.route.path)} answers every method; list its methods instead`);
        for (const p of ([] as string[]).concat(layer.route.path)) for (const m of methods) found.push(`${m.toUpperCase()} ${toTemplate(prefix + p)}`);
      } else if (Array.isArray(layer.handle?.stack)) {
        if (typeof layer.rawPath !== 'string') throw new Error(`a router is mounted on ${String(layer.rawPath)}, which this walk cannot read`);
        walk(layer.handle.stack, prefix + layer.rawPath.replace(/\/$/, ''));
      }
    }
  };
  walk((app as unknown as { router: { stack: RouterLayer[] } }).router.stack, '');
  return found.sort();
}

/** Every `METHOD /path` of the document. */
function documentRoutes(doc: OpenApiDocument): string[] {
  return Object.entries(doc.paths ?? {})
    .flatMap(([p, item]) => METHODS.filter((m) => item?.[m]).map((m) => `${m.toUpperCase()} ${p}`))
    .sort();
}

/** An app built only to read its routes (nothing here is called), or to serve what needs no dependency (the page). */
function appForRoutes(benchmarkEndpoints: boolean, workbenchDir?: string, overrides: Record<string, unknown> = {}): Express {
  const deps = {
    logger: createLogger('test', 'silent'),
    provisionStarter: { pending: 0 },
    readiness: async () => ({ status: 'ready' }),
    resolveToken: () => null,
    providerIds: ['local'],
    repositoryPolicy: { roots: [], protectedPaths: [], allowGitProtocol: false },
    temporalUi: { url: 'http://localhost:8233', namespace: 'default' },
    benchmarkEndpoints,
    workbenchDir,
    metrics: createApiMetrics({ prisma: {} as never, provisionStartsPending: () => 0, socketConnections: () => 0 }),
    credentialsKey: null,
    egressDefaults: { mode: 'allowlist', hosts: [] },
    ...overrides,
  };
  return createApp(deps as unknown as Parameters<typeof createApp>[0]);
}

interface Answer {
  status: number;
  headers: Headers;
  body: any;
  text: string;
}

describe('OpenAPI document', () => {
  const doc = openApiDocument();

  describe('routes', () => {
    it('lists every route the app serves, and only those', () => {
      const served = appRoutes(appForRoutes(false));
      const documented = documentRoutes(doc);
      expect(served.length).toBeGreaterThan(15);
      expect({ servedButNotDocumented: served.filter((r) => !documented.includes(r)), documentedButNotServed: documented.filter((r) => !served.includes(r)) }).toEqual({
        servedButNotDocumented: [],
        documentedButNotServed: [],
      });
    });

    it('leaves out only the benchmark-only endpoint', () => {
      const documented = documentRoutes(doc);
      expect(appRoutes(appForRoutes(true)).filter((r) => !documented.includes(r))).toEqual(['POST /v1/bench/floor']);
    });

    it('asks a bearer token for /v1 and none for the health and documentation endpoints', () => {
      expect(doc.components?.securitySchemes?.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer' });
      for (const route of documentRoutes(doc)) {
        const [method, p] = route.split(' ') as [string, string];
        const op = doc.paths![p]![method.toLowerCase() as 'get']!;
        expect({ route, security: op.security }).toEqual({ route, security: p.startsWith('/v1/') ? [{ bearerAuth: [] }] : [] });
        if (p.startsWith('/v1/')) expect({ route, has401: Object.keys(op.responses ?? {}).includes('401') }).toEqual({ route, has401: true });
      }
    });
  });

  describe('on the real stack', () => {
    let services: TestServices;
    let repo: string;
    const sandboxGate = new Gate();
    const workspaceId = `ws-openapi-${randomUUID().slice(0, 8)}`;
    const token = tokenFor(workspaceId);
    const ajv = new Ajv2020({ allErrors: true, strict: false });
    addFormats(ajv);
    ajv.addSchema(doc as object, 'openapi', undefined, false);
    /** `METHOD template status` of every answer validated. */
    const validated = new Set<string>();

    beforeAll(async () => {
      services = await startServices({ wrapProvider: (local) => gatedProvider(local, { createSandbox: sandboxGate }) });
      repo = await createTestRepo(path.join(services.repoRoot, `openapi-repo-${randomUUID()}`));
    });

    afterAll(async () => {
      sandboxGate.open();
      await services?.stop();
    });

    const url = (p: string) => `${services.baseUrl}${p}`;

    /** A request with the test workspace's token (or `auth`: another header, or none with null). */
    async function call(method: string, p: string, opts: { body?: unknown; raw?: string; auth?: string | null; headers?: Record<string, string> } = {}): Promise<Answer> {
      const headers = new Headers(opts.headers);
      const auth = opts.auth === undefined ? `Bearer ${token}` : opts.auth;
      if (auth !== null) headers.set('authorization', auth);
      let body: string | undefined = opts.raw;
      if (opts.body !== undefined) body = JSON.stringify(opts.body);
      if (body !== undefined) headers.set('content-type', 'application/json');
      const res = await fetch(url(p), { method, headers, body });
      const text = await res.text();
      let parsed: unknown = null;
      try {
        parsed = JSON.parse(text);
      } catch {
        // not JSON (the docs page)
      }
      return { status: res.status, headers: res.headers, body: parsed, text };
    }

    /** JSON pointer escaping of one reference token. */
    const pointer = (...tokens: string[]) => tokens.map((t) => t.replace(/~/g, '~0').replace(/\//g, '~1')).join('/');

    /**
     * Checks `answer` against operation `method template` of the document: its status is documented,
     * its body validates against that response's schema, the response's required headers are there.
     */
    function expectConforms(method: string, template: string, answer: Answer): void {
      const op = doc.paths?.[template]?.[method.toLowerCase() as 'get'];
      if (!op) throw new Error(`the document has no ${method} ${template}`);
      const response = op.responses?.[String(answer.status)] as { content?: Record<string, unknown>; headers?: Record<string, { required?: boolean }> } | undefined;
      if (!response) throw new Error(`${method} ${template} answered ${answer.status}, which the document does not list: ${answer.text.slice(0, 300)}`);
      if (!response.content) {
        // A documented answer without a body (204).
        if (answer.text !== '') throw new Error(`${method} ${template} ${answer.status} has a body the document does not describe: ${answer.text.slice(0, 300)}`);
        validated.add(`${method.toUpperCase()} ${template} ${answer.status}`);
        return;
      }
      const validate = ajv.getSchema(`openapi#/${pointer('paths', template, method.toLowerCase(), 'responses', String(answer.status), 'content', 'application/json', 'schema')}`);
      if (!validate) throw new Error(`no JSON schema for ${method} ${template} ${answer.status}`);
      if (!validate(answer.body)) {
        throw new Error(
          `${method} ${template} ${answer.status} does not match the document: ${ajv.errorsText(validate.errors, { separator: '\n' })}\n${answer.text.slice(0, 2000)}`,
        );
      }
      for (const [name, header] of Object.entries(response.headers ?? {})) {
        if (header.required && answer.headers.get(name) === null) throw new Error(`${method} ${template} ${answer.status} lacks the required header ${name}`);
      }
      validated.add(`${method.toUpperCase()} ${template} ${answer.status}`);
    }

    /** Calls and checks in one: `template` is the documented path, `p` the concrete one. */
    async function checked(method: string, template: string, p: string, opts: Parameters<typeof call>[2] = {}): Promise<Answer> {
      const answer = await call(method, p, opts);
      expectConforms(method, template, answer);
      return answer;
    }

    /** Polls GET /v1/tasks/:id (each answer checked) until `pred` holds. */
    async function taskWhen(taskId: string, pred: (t: any) => boolean): Promise<any> {
      for (const deadline = Date.now() + 90_000; ; await new Promise((r) => setTimeout(r, 200))) {
        const { body } = await checked('GET', '/v1/tasks/{id}', `/v1/tasks/${taskId}`);
        if (pred(body)) return body;
        if (Date.now() > deadline) throw new Error(`task ${taskId} stayed ${body.status}`);
      }
    }

    /** Polls a tab (each answer checked) until `pred` holds. */
    async function tabWhen(taskId: string, tabId: string, pred: (s: any) => boolean): Promise<any> {
      for (const deadline = Date.now() + 90_000; ; await new Promise((r) => setTimeout(r, 200))) {
        const { body } = await checked('GET', '/v1/tasks/{id}/sessions/{sessionId}', `/v1/tasks/${taskId}/sessions/${tabId}`);
        if (pred(body.session)) return body.session;
        if (Date.now() > deadline) throw new Error(`tab ${tabId} stayed ${body.session.status}`);
      }
    }

    it('compiles every response schema of the document', () => {
      for (const route of documentRoutes(doc)) {
        const [method, p] = route.split(' ') as [string, string];
        const op = doc.paths![p]![method.toLowerCase() as 'get']!;
        for (const [status, response] of Object.entries(op.responses ?? {})) {
          const content = (response as { content?: Record<string, unknown> }).content ?? {};
          for (const type of Object.keys(content)) {
            expect(ajv.getSchema(`openapi#/${pointer('paths', p, method.toLowerCase(), 'responses', status, 'content', type, 'schema')}`)).toBeDefined();
          }
        }
      }
    });

    it('serves /openapi.json and /docs without a token; the page loads only its own assets', async () => {
      const spec = await call('GET', '/openapi.json', { auth: null });
      expect(spec.status).toBe(200);
      expect(spec.headers.get('content-type')).toMatch(/^application\/json/);
      expect(spec.body).toEqual(JSON.parse(JSON.stringify(doc)));
      expect(spec.body.openapi).toBe('3.1.0');
      expectConforms('GET', '/openapi.json', spec);

      const page = await call('GET', '/docs', { auth: null });
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toMatch(/^text\/html/);
      expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
      validated.add('GET /docs 200');
      const assets = [...page.text.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
      expect(assets).toEqual(expect.arrayContaining(['/docs/assets/swagger-ui-bundle.js', '/docs/assets/swagger-ui.css', '/docs/assets/init.js']));
      for (const asset of assets) {
        expect(asset).toMatch(/^\/docs\/assets\//); // nothing from another origin
        const res = await fetch(url(asset));
        expect({ asset, status: res.status }).toEqual({ asset, status: 200 });
        await res.arrayBuffer();
      }
      const init = await (await fetch(url('/docs/assets/init.js'))).text();
      expect(init).toContain("url: '/openapi.json'");
      expect(init).toContain('validatorUrl: null');
      expect((await call('GET', '/docs/assets/package.json', { auth: null })).status).toBe(404);
    });

    it('serves the workbench page at / and /tasks/{id} without a token, with its assets from this origin; /v1/me names the token’s workspace', async () => {
      for (const [template, p] of [
        ['/', '/'],
        ['/tasks/{id}', `/tasks/${randomUUID()}`],
      ] as const) {
        const page = await call('GET', p, { auth: null });
        expect(page.status).toBe(200);
        expect(page.headers.get('content-type')).toMatch(/^text\/html/);
        expect(page.headers.get('content-security-policy')).toContain("connect-src 'self'");
        expect(page.text).toContain('<div id="root"></div>');
        validated.add(`GET ${template} 200`);
        const assets = [...page.text.matchAll(/(?:src|href)="(\/[^"]+)"/g)].map((m) => m[1]!);
        expect(assets.length).toBeGreaterThan(0);
        for (const asset of assets) {
          expect(asset).toMatch(/^\/assets\//); // built by Vite, served from here
          const res = await fetch(url(asset));
          expect({ asset, status: res.status }).toEqual({ asset, status: 200 });
          await res.arrayBuffer();
        }
      }
      expect((await call('GET', '/assets/nothing-here.js', { auth: null })).status).toBe(404);
      const me = await checked('GET', '/v1/me', '/v1/me');
      expect(me).toMatchObject({ status: 200, body: { workspaceId } });
    });

    it('answers 503 workbench_not_built with Retry-After while the page is not built', async () => {
      const unbuilt = appForRoutes(false, path.join(services.sandboxRoot, 'no-page-here'));
      const server = unbuilt.listen(0, '127.0.0.1');
      await new Promise((resolve) => server.once('listening', resolve));
      try {
        const { port } = server.address() as { port: number };
        for (const [template, p] of [
          ['/', '/'],
          ['/tasks/{id}', '/tasks/anything'],
        ] as const) {
          const res = await fetch(`http://127.0.0.1:${port}${p}`);
          const answer = { status: res.status, headers: res.headers, text: '', body: await res.json() };
          expect(answer).toMatchObject({ status: 503, body: { error: { code: 'workbench_not_built' } } });
          expect(res.headers.get('retry-after')).toBe('30');
          expectConforms('GET', template, answer);
        }
      } finally {
        await new Promise((resolve) => server.close(resolve));
      }
    });

    it('health and readiness answers match the document', async () => {
      await checked('GET', '/healthz', '/healthz', { auth: null });
      const ready = await checked('GET', '/readyz', '/readyz', { auth: null });
      expect(ready.status).toBe(200);
      const metrics = await call('GET', '/metrics', { auth: null });
      expect(metrics.status).toBe(200);
      expect(metrics.headers.get('content-type')).toMatch(/^text\/plain/);
      expect(metrics.text).toContain('# TYPE http_request_duration_seconds histogram');
      validated.add('GET /metrics 200');
    });

    it('error answers match the document', async () => {
      const unauthorized = await checked('GET', '/v1/tasks', `/v1/tasks?workspaceId=${workspaceId}`, { auth: null });
      expect(unauthorized.status).toBe(401);
      expect(unauthorized.headers.get('www-authenticate')).toBe('Bearer');
      expect((await checked('GET', '/v1/tasks/{id}', `/v1/tasks/${randomUUID()}`, { auth: 'Bearer not-a-known-token' })).status).toBe(401);

      const invalid = await checked('POST', '/v1/tasks', '/v1/tasks', { body: { workspaceId, repository: repo } });
      expect(invalid).toMatchObject({ status: 400, body: { error: { code: 'validation_failed', field: 'body.prompt' } } });
      expect((await checked('POST', '/v1/tasks', '/v1/tasks', { raw: '{"workspaceId":' })).body.error.code).toBe('malformed_json');
      expect((await checked('POST', '/v1/tasks', '/v1/tasks', { body: { workspaceId, repository: repo, prompt: 'x'.repeat(300_000) } })).status).toBe(413);
      expect((await checked('POST', '/v1/tasks', '/v1/tasks', { body: { workspaceId, repository: repo, prompt: 'p', provider: 'nowhere' } })).body.error.code).toBe(
        'unknown_provider',
      );
      expect((await checked('POST', '/v1/tasks', '/v1/tasks', { body: { workspaceId, repository: '/etc', prompt: 'p' } })).body.error.code).toBe('repository_not_allowed');
      expect((await checked('POST', '/v1/tasks', '/v1/tasks', { body: { workspaceId: 'ws-someone-else', repository: repo, prompt: 'p' } })).status).toBe(403);
      expect((await checked('GET', '/v1/tasks', `/v1/tasks?workspaceId=ws-someone-else`)).body.error.code).toBe('workspace_forbidden');
      expect((await checked('GET', '/v1/tasks', `/v1/tasks?workspaceId=${workspaceId}&cursor=bm9wZQ`)).body.error.code).toBe('invalid_cursor');
      expect((await checked('GET', '/v1/tasks', `/v1/tasks?workspaceId=${workspaceId}&limit=0`)).body.error.code).toBe('validation_failed');
      expect((await checked('GET', '/v1/tasks/{id}', '/v1/tasks/not-a-uuid')).body.error).toMatchObject({ code: 'validation_failed', field: 'params.id' });
      expect((await checked('GET', '/v1/tasks/{id}', `/v1/tasks/${randomUUID()}`)).body.error.code).toBe('task_not_found');
      expect((await checked('GET', '/v1/tasks/{id}/events', `/v1/tasks/${randomUUID()}/events`)).status).toBe(404);
      expect((await checked('GET', '/v1/tasks/{id}/logs', `/v1/tasks/${randomUUID()}/logs`)).status).toBe(404);

      // An unknown route has no operation; its answer is the ErrorBody component.
      const unknown = await call('GET', '/v1/no-such-route');
      expect(unknown.status).toBe(404);
      const errorBody = ajv.getSchema('openapi#/components/schemas/ErrorBody')!;
      expect(errorBody(unknown.body)).toBe(true);
      expect(unknown.body.error.code).toBe('route_not_found');
    });

    it('workspace settings answers match the document: model provider keys, the egress policy and warm sandbox pools', async () => {
      const credentials = `/v1/workspaces/${workspaceId}/credentials`;
      const oneCredential = '/v1/workspaces/{workspaceId}/credentials/{provider}';
      const apiKey = `sk-ant-openapi-${randomUUID()}`;
      expect((await checked('GET', '/v1/workspaces/{workspaceId}/credentials', credentials)).body.items).toEqual([
        { provider: 'anthropic', configured: false, updatedAt: null },
        { provider: 'openai', configured: false, updatedAt: null },
      ]);
      const put = await checked('PUT', oneCredential, `${credentials}/anthropic`, { body: { apiKey } });
      expect(put).toMatchObject({ status: 200, body: { provider: 'anthropic', configured: true } });
      expect(put.text).not.toContain(apiKey);
      expect((await checked('GET', '/v1/workspaces/{workspaceId}/credentials', credentials)).body.items[0]).toMatchObject({ provider: 'anthropic', configured: true });
      expect((await checked('PUT', oneCredential, `${credentials}/nobody`, { body: { apiKey } })).body.error).toMatchObject({
        code: 'validation_failed',
        field: 'params.provider',
      });
      expect((await checked('PUT', oneCredential, `${credentials}/openai`, { body: { apiKey: 'short' } })).body.error).toMatchObject({
        code: 'validation_failed',
        field: 'body.apiKey',
      });
      expect((await checked('PUT', oneCredential, `${credentials}/openai`, { raw: '{"apiKey":' })).body.error.code).toBe('malformed_json');
      expect((await checked('PUT', oneCredential, '/v1/workspaces/ws-someone-else/credentials/openai', { body: { apiKey } })).body.error.code).toBe('workspace_forbidden');
      expect((await checked('GET', '/v1/workspaces/{workspaceId}/credentials', '/v1/workspaces/ws-someone-else/credentials')).status).toBe(403);
      expect((await checked('DELETE', oneCredential, `${credentials}/anthropic`)).status).toBe(204);
      expect((await checked('DELETE', oneCredential, '/v1/workspaces/ws-someone-else/credentials/anthropic')).status).toBe(403);

      const policy = `/v1/workspaces/${workspaceId}/egress-policy`;
      const template = '/v1/workspaces/{workspaceId}/egress-policy';
      expect((await checked('GET', template, policy)).body).toMatchObject({ isDefault: true });
      expect((await checked('PUT', template, policy, { body: { mode: 'allowlist', hosts: ['github.com', '*.npmjs.org'] } })).body).toEqual({
        mode: 'allowlist',
        hosts: ['github.com', '*.npmjs.org'],
        isDefault: false,
      });
      expect((await checked('PUT', template, policy, { body: { mode: 'allowlist', hosts: ['127.0.0.1'] } })).body.error).toMatchObject({
        code: 'validation_failed',
        field: 'body.hosts.0',
      });
      expect((await checked('GET', template, '/v1/workspaces/ws-someone-else/egress-policy')).status).toBe(403);
      expect((await checked('PUT', template, '/v1/workspaces/ws-someone-else/egress-policy', { body: { mode: 'allow' } })).status).toBe(403);

      // Warm sandbox pools (size 0: the pool is stored and its run ends at once, no sandbox is made).
      const pools = `/v1/workspaces/${workspaceId}/sandbox-pools`;
      const poolsTemplate = '/v1/workspaces/{workspaceId}/sandbox-pools';
      const pool = await checked('PUT', poolsTemplate, pools, { body: { repository: repo, size: 0 } });
      expect(pool.body).toMatchObject({ repository: repo, provider: 'local', size: 0, ready: 0, warming: 0, lastError: null });
      expect((await checked('GET', poolsTemplate, pools)).body.items).toEqual([pool.body]);
      expect((await checked('PUT', poolsTemplate, pools, { body: { repository: repo, size: 99 } })).body.error).toMatchObject({ code: 'validation_failed', field: 'body.size' });
      expect((await checked('PUT', poolsTemplate, pools, { body: { repository: '/etc', size: 1 } })).body.error).toMatchObject({
        code: 'repository_not_allowed',
        field: 'body.repository',
      });
      expect((await checked('GET', poolsTemplate, '/v1/workspaces/ws-someone-else/sandbox-pools')).status).toBe(403);

      // Without a sealing key: 503 credentials_unavailable with Retry-After.
      const keyless = appForRoutes(false, undefined, { resolveToken: testTokenResolver, prisma: services.prisma }).listen(0, '127.0.0.1');
      await new Promise((resolve) => keyless.once('listening', resolve));
      try {
        const { port } = keyless.address() as { port: number };
        const res = await fetch(`http://127.0.0.1:${port}${credentials}/openai`, {
          method: 'PUT',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ apiKey }),
        });
        const answer = { status: res.status, headers: res.headers, text: '', body: await res.json() };
        expect(answer).toMatchObject({ status: 503, body: { error: { code: 'credentials_unavailable' } } });
        expectConforms('PUT', oneCredential, answer);
      } finally {
        await new Promise((resolve) => keyless.close(resolve));
      }
    });

    it('a task, its tabs and their answers match the document through provisioning, use, kill and archive', async () => {
      // Create while the sandbox step is held; idempotent repeat; same key, other body.
      const body = { workspaceId, repository: repo, prompt: 'Document the API\nEvery route.' };
      const key = `openapi-${randomUUID()}`;
      const created = await checked('POST', '/v1/tasks', '/v1/tasks', { body, headers: { 'Idempotency-Key': key } });
      expect(created.status).toBe(201);
      const taskId: string = created.body.id;
      expect(created.headers.get('location')).toBe(`/v1/tasks/${taskId}`);
      // A Socket.IO client follows the task from its first event: its messages are checked at the end.
      const socket = new TaskEventClient(services.baseUrl, workspaceId);
      const subscribed = await socket.subscribe({ taskId, afterSeq: 0 });
      const replay = await checked('POST', '/v1/tasks', '/v1/tasks', { body, headers: { 'Idempotency-Key': key } });
      expect(replay).toMatchObject({ status: 201, body: { id: taskId } });
      expect(replay.headers.get('idempotent-replayed')).toBe('true');
      expect((await checked('POST', '/v1/tasks', '/v1/tasks', { body: { ...body, prompt: 'other' }, headers: { 'Idempotency-Key': key } })).status).toBe(422);
      expect((await checked('POST', '/v1/tasks', '/v1/tasks', { body, headers: { 'Idempotency-Key': 'has space' } })).body.error.field).toBe('header.idempotency-key');

      await sandboxGate.entered;
      const held = await taskWhen(taskId, (t) => t.status === 'init_create_sandbox' && t.provisioning?.currentStep === 'init_create_sandbox');
      expect(held.provisioning).toMatchObject({ currentStep: 'init_create_sandbox', attempt: 1 });
      const state = await checked('GET', '/v1/tasks/{id}/provisioning', `/v1/tasks/${taskId}/provisioning`);
      expect(state.body).toMatchObject({ taskId, currentStep: 'init_create_sandbox' });
      expect((await checked('GET', '/v1/tasks/{id}/sandbox', `/v1/tasks/${taskId}/sandbox`)).body.error.code).toBe('sandbox_not_found');
      expect((await checked('POST', '/v1/tasks/{id}/retry', `/v1/tasks/${taskId}/retry`)).body.error.code).toBe('task_not_in_error');
      expect((await checked('POST', '/v1/tasks/{id}/stop', `/v1/tasks/${taskId}/stop`)).body.error.code).toBe('task_not_running');

      const firstPage = await checked('GET', '/v1/tasks', `/v1/tasks?workspaceId=${workspaceId}&limit=1`);
      expect(firstPage.body.items).toHaveLength(1);
      const events = await checked('GET', '/v1/tasks/{id}/events', `/v1/tasks/${taskId}/events?limit=2`);
      expect(events.body.items.map((e: any) => e.seq)).toEqual([1, 2]);
      await checked('GET', '/v1/tasks/{id}/events', `/v1/tasks/${taskId}/events?after=${events.body.nextCursor}`);
      // The provisioning log so far (the held step has written its sub-steps), a page at a time.
      const logs = await checked('GET', '/v1/tasks/{id}/logs', `/v1/tasks/${taskId}/logs?limit=1`);
      expect(logs.body.items).toEqual([expect.objectContaining({ seq: 1, step: 'init_ensure_name', source: 'service' })]);
      await checked('GET', '/v1/tasks/{id}/logs', `/v1/tasks/${taskId}/logs?after=${logs.body.nextCursor}`);

      // A tab opened while provisioning is held.
      const opened = await checked('POST', '/v1/tasks/{id}/sessions', `/v1/tasks/${taskId}/sessions`, { body: {} });
      expect(opened).toMatchObject({ status: 201, body: { status: 'pending_provision', composerEnabled: false } });
      const tabId: string = opened.body.id;
      expect(opened.headers.get('location')).toBe(`/v1/tasks/${taskId}/sessions/${tabId}`);
      expect((await checked('POST', '/v1/tasks/{id}/sessions', `/v1/tasks/${taskId}/sessions`, { body: { agent: 'nobody' } })).status).toBe(400);
      expect((await checked('GET', '/v1/tasks/{id}/sessions', `/v1/tasks/${taskId}/sessions`)).body.items.map((s: any) => s.id)).toEqual([tabId]);
      const tabPath = `/v1/tasks/${taskId}/sessions/${tabId}`;
      expect((await checked('POST', '/v1/tasks/{id}/sessions/{sessionId}/messages', `${tabPath}/messages`, { body: { text: 'too early' } })).body.error.code).toBe(
        'session_not_ready',
      );
      expect((await checked('POST', '/v1/tasks/{id}/sessions/{sessionId}/messages', `${tabPath}/messages`, { body: { text: '   ' } })).status).toBe(400);
      expect((await checked('PUT', '/v1/tasks/{id}/sessions/{sessionId}/draft', `${tabPath}/draft`, { body: { draft: 'half a thought' } })).body.draft).toBe('half a thought');
      expect((await checked('POST', '/v1/tasks/{id}/sessions/{sessionId}/read', `${tabPath}/read`)).body.unread).toBe(false);
      expect((await checked('POST', '/v1/tasks/{id}/sessions/{sessionId}/retry', `${tabPath}/retry`)).body.error.code).toBe('session_not_in_error');
      const missingTab = `/v1/tasks/${taskId}/sessions/session-${randomUUID()}`;
      expect((await checked('GET', '/v1/tasks/{id}/sessions/{sessionId}', missingTab)).body.error.code).toBe('session_not_found');
      expect((await checked('DELETE', '/v1/tasks/{id}/sessions/{sessionId}', `/v1/tasks/${taskId}/sessions/not-a-tab`)).body.error.field).toBe('params.sessionId');

      // Provisioning completes; the tab becomes ready; a message is accepted.
      sandboxGate.open();
      const running = await taskWhen(taskId, (t) => t.status === 'running');
      expect(running.provisioning).toBeUndefined();
      expect((await checked('GET', '/v1/tasks/{id}/provisioning', `/v1/tasks/${taskId}/provisioning`)).body).toMatchObject({ status: 'running', currentStep: null });
      expect((await checked('GET', '/v1/tasks/{id}/sandbox', `/v1/tasks/${taskId}/sandbox`)).body).toMatchObject({ state: 'ready', provider: 'local' });
      await tabWhen(taskId, tabId, (s) => s.status === 'ready');
      // A stop and a resume of the running task's sandbox: 202 with the task.
      expect((await checked('POST', '/v1/tasks/{id}/stop', `/v1/tasks/${taskId}/stop`)).body).toMatchObject({ id: taskId, status: 'running' });
      await taskWhen(taskId, (t) => t.sandboxState === 'stopped');
      expect((await checked('POST', '/v1/tasks/{id}/resume', `/v1/tasks/${taskId}/resume`)).body).toMatchObject({ id: taskId, sandboxState: 'stopped' });
      await taskWhen(taskId, (t) => t.sandboxState === 'ready');
      const sent = await checked('POST', '/v1/tasks/{id}/sessions/{sessionId}/messages', `${tabPath}/messages`, { body: { text: 'Explain the README' } });
      expect(sent).toMatchObject({ status: 202, body: { entry: { role: 'user', text: 'Explain the README' } } });
      await tabWhen(taskId, tabId, (s) => s.status === 'ready' && s.unread);
      const detail = await checked('GET', '/v1/tasks/{id}/sessions/{sessionId}', `${tabPath}?after=0&limit=10`);
      // The session was opened again after the resume: a `system` entry says so before the reply.
      expect(detail.body.transcript.items.map((e: any) => e.role)).toEqual(expect.arrayContaining(['user', 'system', 'agent']));

      // Close the tab, kill the task.
      expect((await checked('DELETE', '/v1/tasks/{id}/sessions/{sessionId}', tabPath)).body).toMatchObject({ closed: true, statusLabel: 'Closed' });
      const killed = await checked('POST', '/v1/tasks/{id}/kill', `/v1/tasks/${taskId}/kill`);
      expect(killed.status).toBe(202);
      // The check is strict: a record with a field more, or one less, than the document says fails.
      const taskRecord = ajv.getSchema('openapi#/components/schemas/TaskRecord')!;
      expect(taskRecord(killed.body)).toBe(true);
      expect(taskRecord({ ...killed.body, undocumented: 1 })).toBe(false);
      const { lastEventSeq: _lastEventSeq, ...withoutSeq } = killed.body;
      expect(taskRecord(withoutSeq)).toBe(false);
      await (await runOf(services.temporal, `kill-task-${taskId}`)).result();
      expect((await taskWhen(taskId, (t) => t.status === 'killed')).status).toBe('killed');
      expect((await checked('POST', '/v1/tasks/{id}/sessions', `/v1/tasks/${taskId}/sessions`, { body: {} })).body.error.code).toBe('task_closed');

      // Archive the killed task (its status flips to `archived`): the default list hides it, include=archived shows it.
      const archived = await checked('POST', '/v1/tasks/{id}/archive', `/v1/tasks/${taskId}/archive`);
      expect(archived).toMatchObject({ status: 202, body: { id: taskId, status: 'killed' } });
      await (await runOf(services.temporal, `archive-task-${taskId}`)).result();
      expect((await taskWhen(taskId, (t) => t.status === 'archived')).status).toBe('archived');
      expect((await checked('POST', '/v1/tasks/{id}/archive', `/v1/tasks/${taskId}/archive`)).body.status).toBe('archived');
      expect((await checked('POST', '/v1/tasks/{id}/archive', `/v1/tasks/not-a-uuid/archive`)).body.error.field).toBe('params.id');
      expect((await checked('POST', '/v1/tasks/{id}/archive', `/v1/tasks/${randomUUID()}/archive`)).body.error.code).toBe('task_not_found');
      await checked('GET', '/v1/tasks/{id}/events', `/v1/tasks/${taskId}/events`);
      const ids = (page: { body: { items: Array<{ id: string }> } }) => page.body.items.map((t) => t.id);
      expect(ids(await checked('GET', '/v1/tasks', `/v1/tasks?workspaceId=${workspaceId}`))).not.toContain(taskId);
      expect(ids(await checked('GET', '/v1/tasks', `/v1/tasks?workspaceId=${workspaceId}&include=archived`))).toContain(taskId);
      expect((await checked('GET', '/v1/tasks', `/v1/tasks?workspaceId=${workspaceId}&include=deleted`)).body.error).toMatchObject({
        code: 'validation_failed',
        field: 'query.include',
      });

      // Every history event validates against the branch of `TaskEventRecord` its type names, and
      // against no other branch; the Socket.IO messages against their components.
      const history = (await checked('GET', '/v1/tasks/{id}/events', `/v1/tasks/${taskId}/events?limit=500`)).body.items as Array<{ type: string; seq: number }>;
      const branches = (doc.components!.schemas!.TaskEventRecord as { oneOf: Array<{ $ref: string }> }).oneOf.map((b) => b.$ref.split('/').pop()!);
      const schema = (name: string) => ajv.getSchema(`openapi#/components/schemas/${name}`)!;
      for (const event of history) {
        const own = `${eventComponentPrefix(event.type)}Event`;
        expect(branches).toContain(own);
        const matching = branches.filter((b) => schema(b)(event));
        expect({ seq: event.seq, matching }).toEqual({ seq: event.seq, matching: [own] });
        expect(schema('TaskEventRecord')(event)).toBe(true);
      }
      expect([...new Set(history.map((e) => e.type))]).toEqual(
        expect.arrayContaining([
          'task.created',
          'task.step',
          'task.named',
          'task.initialized',
          'session.created',
          'session.updated',
          'session.transcript',
          'session.closed',
          'sandbox.state',
          'task.kill',
          'task.archive',
        ]),
      );
      // A payload that does not fit its type fails even though it would fit another's.
      const started = history.find((e) => e.type === 'task.step')!;
      expect(schema('TaskEventRecord')({ ...started, type: 'task.named' })).toBe(false);
      expect(schema('SubscribeAck')(subscribed)).toBe(true);
      await socket.waitFor((m) => m.event.seq === history[history.length - 1]!.seq);
      expect(socket.eventsOf(taskId).map((m) => m.event.seq)).toEqual(history.map((e) => e.seq));
      for (const message of socket.eventsOf(taskId)) expect(schema('TaskEventMessage')(message)).toBe(true);
      expect(socket.logs.length).toBeGreaterThan(0);
      for (const message of socket.logs) expect(schema('TaskLogMessage')(message)).toBe(true);
      expect(schema('SubscribeAck')(await socket.subscribe({ taskId: randomUUID() }))).toBe(true);
      socket.close();
    });

    it('exercised every operation of the document', () => {
      const exercised = new Set([...validated].map((v) => v.split(' ').slice(0, 2).join(' ')));
      expect(documentRoutes(doc).filter((r) => !exercised.has(r))).toEqual([]);
    });
  });
});
