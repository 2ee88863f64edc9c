/**
 * A workspace's model provider keys and egress policy over REST (src/api/routes/workspaces.ts), on the
 * real API and Postgres (no worker: nothing here starts a run):
 * - a key is set, listed as configured (never shown), sealed in its row, readable on the host with
 *   readWorkspaceKey, and removed;
 * - another workspace's token gets 403 `workspace_forbidden`, the answer of the task endpoints for
 *   listing or creating in another workspace, and changes nothing;
 * - bad input is 400 `validation_failed` naming the field, and never repeats the key;
 * - without a sealing key a key cannot be set (503 `credentials_unavailable`, Retry-After);
 * - the egress policy is the default until set, and bad host patterns are refused;
 * - no answer and no log line of the API carries the key or the bearer token.
 */
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import type { Client } from '@temporalio/client';
import { keyIdOf } from '../../src/credentials/sealing';
import { readWorkspaceKey } from '../../src/credentials/store';
import { createPrismaClient } from '../../src/db/prisma';
import { tokenFor } from '../../src/dev/stack/auth';
import { readStack } from '../../src/dev/stack/stackFile';
import { startTestApi } from '../../src/dev/stack/testApi';
import type { ApiServer } from '../../src/api/server';
import { createLogger } from '../../src/logger';
import { createTemporalClient } from '../../src/temporal/client';

interface Answer {
  status: number;
  headers: Headers;
  text: string;
  body: any;
}

describe('workspace model keys and egress policy', () => {
  const stack = readStack();
  const sealingKey = Buffer.from(stack.credentialsKey, 'base64');
  const prisma = createPrismaClient(stack.databaseUrl);
  const ws = `ws-keys-${randomUUID().slice(0, 8)}`;
  const other = `ws-keys-other-${randomUUID().slice(0, 8)}`;
  /** Looks like a real Anthropic key; unique, so finding it anywhere is a leak. */
  const apiKey = `sk-ant-api03-${randomUUID().replace(/-/g, '')}${randomUUID().replace(/-/g, '')}`;
  /** Every line the API logged (level debug). */
  const logLines: string[] = [];
  /** Every answer's text, checked for the key at the end. */
  const answers: string[] = [];
  let temporal: Client;
  let api: ApiServer;
  let baseUrl: string;
  let keyless: ApiServer;
  let keylessUrl: string;

  beforeAll(async () => {
    temporal = await createTemporalClient({ address: stack.temporalAddress, namespace: stack.namespace });
    const logger = createLogger(
      'api',
      'debug',
      new Writable({
        write(chunk: Buffer, _encoding, done) {
          logLines.push(chunk.toString());
          done();
        },
      }),
    );
    ({ api, baseUrl } = await startTestApi({ stack, prisma, temporal, taskQueue: `keys-${randomUUID()}`, logger }));
    ({ api: keyless, baseUrl: keylessUrl } = await startTestApi({ stack, prisma, temporal, taskQueue: `keys-${randomUUID()}`, credentialsKey: null }));
  });

  afterAll(async () => {
    await api?.close();
    await keyless?.close();
    await temporal?.connection.close();
    await prisma.$disconnect();
  });

  /** A request with `token` (default: the workspace's own); `raw` is sent as the JSON body as is. */
  async function call(method: string, p: string, opts: { body?: unknown; raw?: string; token?: string; url?: string; headers?: Record<string, string> } = {}): Promise<Answer> {
    const headers = new Headers(opts.headers);
    headers.set('authorization', `Bearer ${opts.token ?? tokenFor(ws)}`);
    const body = opts.raw ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body));
    if (body !== undefined) headers.set('content-type', 'application/json');
    const res = await fetch(`${opts.url ?? baseUrl}${p}`, { method, headers, body });
    const text = await res.text();
    answers.push(text);
    return { status: res.status, headers: res.headers, text, body: text ? JSON.parse(text) : null };
  }

  const credentials = `/v1/workspaces/${ws}/credentials`;
  const egress = `/v1/workspaces/${ws}/egress-policy`;

  it('sets a key, lists it as configured (and the other provider not), and never shows it', async () => {
    const put = await call('PUT', `${credentials}/anthropic`, { body: { apiKey } });
    expect(put.status).toBe(200);
    expect(put.body).toEqual({ provider: 'anthropic', configured: true, updatedAt: expect.any(String) });
    expect(new Date(put.body.updatedAt).getTime()).toBeGreaterThan(Date.now() - 60_000);

    const list = await call('GET', credentials);
    expect(list).toMatchObject({
      status: 200,
      body: {
        items: [
          { provider: 'anthropic', configured: true, updatedAt: put.body.updatedAt },
          { provider: 'openai', configured: false, updatedAt: null },
        ],
      },
    });
    for (const answer of [put, list]) expect(answer.text).not.toContain(apiKey);
  });

  it('keeps the key sealed in its row, bound to the workspace, and readWorkspaceKey opens it', async () => {
    const rows = await prisma.$queryRaw<Array<Record<string, unknown>>>`SELECT * FROM workspace_credentials WHERE workspace_id = ${ws}`;
    expect(rows).toHaveLength(1);
    const row = JSON.stringify(rows[0]);
    expect(row).not.toContain(apiKey);
    expect(row).not.toContain(apiKey.slice(-16));
    expect(row).not.toContain(Buffer.from(apiKey).toString('base64').slice(0, 16));
    expect(rows[0]).toMatchObject({ provider: 'anthropic', key_id: keyIdOf(sealingKey) });

    expect(await readWorkspaceKey(prisma, sealingKey, ws, 'anthropic')).toBe(apiKey);
    expect(await readWorkspaceKey(prisma, sealingKey, ws, 'openai')).toBeNull();
    expect(await readWorkspaceKey(prisma, sealingKey, other, 'anthropic')).toBeNull();

    // The sealed value opens only for its own workspace: copied to another's row, it does not.
    await prisma.workspaceCredential.create({ data: { workspaceId: other, provider: 'anthropic', sealedKey: String(rows[0]!.sealed_key), keyId: String(rows[0]!.key_id) } });
    await expect(readWorkspaceKey(prisma, sealingKey, other, 'anthropic')).rejects.toMatchObject({ name: 'SealedSecretError', reason: 'authentication_failed' });
    await prisma.workspaceCredential.delete({ where: { workspaceId_provider: { workspaceId: other, provider: 'anthropic' } } });
  });

  it('replaces a key that is set again', async () => {
    const before = await prisma.workspaceCredential.findUniqueOrThrow({ where: { workspaceId_provider: { workspaceId: ws, provider: 'anthropic' } } });
    const replacement = `${apiKey}-2`;
    const put = await call('PUT', `${credentials}/anthropic`, { body: { apiKey: replacement } });
    expect(put.status).toBe(200);
    expect(new Date(put.body.updatedAt).getTime()).toBeGreaterThanOrEqual(before.updatedAt.getTime());
    expect(await readWorkspaceKey(prisma, sealingKey, ws, 'anthropic')).toBe(replacement);
    expect((await call('PUT', `${credentials}/anthropic`, { body: { apiKey } })).status).toBe(200);
    expect(await readWorkspaceKey(prisma, sealingKey, ws, 'anthropic')).toBe(apiKey);
    expect(await prisma.workspaceCredential.count({ where: { workspaceId: ws } })).toBe(1);
  });

  it("answers another workspace's token as the task endpoints do for another workspace (403), and changes nothing", async () => {
    const token = tokenFor(other);
    const tasks = await call('GET', `/v1/tasks?workspaceId=${ws}`, { token });
    expect(tasks).toMatchObject({ status: 403, body: { error: { code: 'workspace_forbidden' } } });
    for (const [method, p, body] of [
      ['GET', credentials, undefined],
      ['PUT', `${credentials}/anthropic`, { apiKey: 'sk-someone-elses-key' }],
      ['DELETE', `${credentials}/anthropic`, undefined],
      ['GET', egress, undefined],
      ['PUT', egress, { mode: 'allow' }],
    ] as const) {
      const res = await call(method, p, { token, body });
      expect({ route: `${method} ${p}`, status: res.status, error: res.body.error }).toEqual({
        route: `${method} ${p}`,
        status: tasks.status,
        error: { code: tasks.body.error.code, message: tasks.body.error.message, field: 'params.workspaceId' },
      });
    }
    expect(await readWorkspaceKey(prisma, sealingKey, ws, 'anthropic')).toBe(apiKey);
    expect(await prisma.workspaceEgressPolicy.count({ where: { workspaceId: ws } })).toBe(0);
  });

  it('refuses bad input with 400 validation_failed on the field, without repeating the key', async () => {
    const cases: Array<[string, string, unknown, string]> = [
      ['PUT', `${credentials}/mistral`, { apiKey }, 'params.provider'],
      ['PUT', `${credentials}/Anthropic`, { apiKey }, 'params.provider'],
      ['DELETE', `${credentials}/mistral`, undefined, 'params.provider'],
      ['PUT', `${credentials}/openai`, { apiKey: 'sk-1234' }, 'body.apiKey'],
      ['PUT', `${credentials}/openai`, { apiKey: `${apiKey} ` }, 'body.apiKey'],
      ['PUT', `${credentials}/openai`, { apiKey: `${apiKey}\u0000` }, 'body.apiKey'],
      ['PUT', `${credentials}/openai`, { apiKey: `${apiKey}\n` }, 'body.apiKey'],
      ['PUT', `${credentials}/openai`, { apiKey: 'k'.repeat(501) }, 'body.apiKey'],
      ['PUT', `${credentials}/openai`, { apiKey: 12345678 }, 'body.apiKey'],
      ['PUT', `${credentials}/openai`, {}, 'body.apiKey'],
      ['PUT', `${credentials}/openai`, { apiKey, key: apiKey }, 'body.key'],
      ['GET', `/v1/workspaces/bad%20id/credentials`, undefined, 'params.workspaceId'],
    ];
    for (const [method, p, body, field] of cases) {
      const res = await call(method, p, { body });
      expect({ route: `${method} ${p}`, status: res.status, code: res.body.error.code, field: res.body.error.field }).toEqual({
        route: `${method} ${p}`,
        status: 400,
        code: 'validation_failed',
        field,
      });
      expect(res.text).not.toContain(apiKey);
    }
    const malformed = await call('PUT', `${credentials}/openai`, { raw: `{"apiKey": "${apiKey}"` });
    expect(malformed).toMatchObject({ status: 400, body: { error: { code: 'malformed_json' } } });
    expect(malformed.text).not.toContain(apiKey);
    expect(await readWorkspaceKey(prisma, sealingKey, ws, 'openai')).toBeNull();
  });

  it('removes a key: 204, then listed as not configured; removing it again is 204 too', async () => {
    expect((await call('PUT', `${credentials}/openai`, { body: { apiKey: 'sk-proj-0123456789abcdef' } })).status).toBe(200);
    const removed = await call('DELETE', `${credentials}/openai`);
    expect(removed.status).toBe(204);
    expect(removed.text).toBe('');
    const list = await call('GET', credentials);
    expect(list.body.items).toEqual([
      { provider: 'anthropic', configured: true, updatedAt: expect.any(String) },
      { provider: 'openai', configured: false, updatedAt: null },
    ]);
    expect(await readWorkspaceKey(prisma, sealingKey, ws, 'openai')).toBeNull();
    expect((await call('DELETE', `${credentials}/openai`)).status).toBe(204);
  });

  it('cannot set a key without a sealing key (503 credentials_unavailable, Retry-After), but can list', async () => {
    const keylessWs = `ws-keyless-${randomUUID().slice(0, 8)}`;
    const token = tokenFor(keylessWs);
    const put = await call('PUT', `/v1/workspaces/${keylessWs}/credentials/anthropic`, { url: keylessUrl, token, body: { apiKey } });
    expect(put).toMatchObject({ status: 503, body: { error: { code: 'credentials_unavailable' } } });
    expect(put.headers.get('retry-after')).toBe('60');
    expect(put.text).not.toContain(apiKey);
    expect(await prisma.workspaceCredential.count({ where: { workspaceId: keylessWs } })).toBe(0);
    const list = await call('GET', `/v1/workspaces/${keylessWs}/credentials`, { url: keylessUrl, token });
    expect(list).toMatchObject({ status: 200, body: { items: [{ configured: false }, { configured: false }] } });
  });

  it('has the default egress policy until one is set, then the one set', async () => {
    const initial = await call('GET', egress);
    expect(initial).toMatchObject({ status: 200, body: { mode: 'allowlist', isDefault: true } });
    expect(initial.body.hosts).toEqual(expect.arrayContaining(['registry.npmjs.org', 'github.com']));

    const put = await call('PUT', egress, { body: { mode: 'allowlist', hosts: ['GitHub.com', '*.npmjs.org', 'github.com', 'pypi.org'] } });
    expect(put).toMatchObject({ status: 200, body: { mode: 'allowlist', hosts: ['github.com', '*.npmjs.org', 'pypi.org'], isDefault: false } });
    expect((await call('GET', egress)).body).toEqual({ mode: 'allowlist', hosts: ['github.com', '*.npmjs.org', 'pypi.org'], isDefault: false });

    const denied = await call('PUT', egress, { body: { mode: 'deny' } });
    expect(denied.body).toEqual({ mode: 'deny', hosts: [], isDefault: false });
    expect((await call('GET', egress)).body).toEqual({ mode: 'deny', hosts: [], isDefault: false });
    expect((await call('PUT', egress, { body: { mode: 'allowlist', hosts: ['github.com'] } })).body).toEqual({ mode: 'allowlist', hosts: ['github.com'], isDefault: false });
  });

  it('refuses a bad egress policy with 400 on the field and keeps the one set', async () => {
    const cases: Array<[unknown, string]> = [
      [{ mode: 'allowlist', hosts: ['github.com', '127.0.0.1'] }, 'body.hosts.1'],
      [{ mode: 'allowlist', hosts: ['github.com:443'] }, 'body.hosts.0'],
      [{ mode: 'allowlist', hosts: ['*'] }, 'body.hosts.0'],
      [{ mode: 'allowlist', hosts: ['localhost'] }, 'body.hosts.0'],
      [{ mode: 'allowlist', hosts: ['a.example.com', 'x'.repeat(300)] }, 'body.hosts.1'],
      [{ mode: 'allowlist', hosts: Array.from({ length: 101 }, (_, i) => `h${i}.example.com`) }, 'body.hosts'],
      [{ mode: 'allowlist', hosts: 'github.com' }, 'body.hosts'],
      [{ mode: 'open' }, 'body.mode'],
      [{ hosts: [] }, 'body.mode'],
      [{ mode: 'deny', extra: true }, 'body.extra'],
    ];
    for (const [body, field] of cases) {
      const res = await call('PUT', egress, { body });
      expect({ body, status: res.status, code: res.body.error.code, field: res.body.error.field }).toEqual({ body, status: 400, code: 'validation_failed', field });
    }
    expect((await call('GET', egress)).body).toEqual({ mode: 'allowlist', hosts: ['github.com'], isDefault: false });
  });

  it('never logs the key or the bearer token', async () => {
    const before = logLines.length;
    const headerKey = `sk-header-${randomUUID()}`;
    const res = await call('PUT', `${credentials}/anthropic`, { body: { apiKey }, headers: { 'x-api-key': headerKey, 'proxy-authorization': `Basic ${headerKey}` } });
    expect(res.status).toBe(200);
    await call('PUT', `${credentials}/anthropic`, { raw: `{"apiKey": "${apiKey}"` }); // a body the parser refuses
    await call('PUT', `${credentials}/anthropic`, { body: { apiKey: `${apiKey} ` } }); // a key the schema refuses
    const lines = logLines.slice(before);
    // The requests were logged (pino-http), with their credentials redacted.
    const logged = lines.map((l) => JSON.parse(l) as { req?: { url?: string; headers?: Record<string, string> } }).filter((l) => l.req?.url === `${credentials}/anthropic`);
    expect(logged.length).toBeGreaterThanOrEqual(3);
    expect(logged[0]!.req!.headers).toMatchObject({ authorization: '[Redacted]', 'x-api-key': '[Redacted]', 'proxy-authorization': '[Redacted]' });
    const all = logLines.join('');
    for (const secret of [apiKey, headerKey, tokenFor(ws), tokenFor(other)]) expect(all).not.toContain(secret);
  });

  it('never answered with the key', () => {
    expect(answers.length).toBeGreaterThan(30);
    for (const text of answers) expect(text).not.toContain(apiKey);
  });
});
