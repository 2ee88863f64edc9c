/**
 * Authentication: every REST call and the Socket.IO handshake need a bearer token bound to a
 * workspace; a client only reads, changes or subscribes to its own workspace's tasks, and another
 * workspace's task answers 404 like a missing one.
 */
import path from 'node:path';
import { io } from 'socket.io-client';
import { tokensFromConfig } from '../../src/auth/tokens';
import { tokenFor } from '../../src/dev/stack/auth';
import { TaskEventClient } from '../../src/dev/stack/socketClient';
import { startServices, type TestServices } from '../../src/dev/stack/services';
import { runOf } from '../../src/dev/stack/runs';

describe('authentication', () => {
  let services: TestServices;
  let taskOfB: { id: string; workflowId: string };

  const call = async (method: string, p: string, token: string | null, body?: unknown) => {
    const res = await fetch(`${services.baseUrl}${p}`, {
      method,
      headers: { ...(token === null ? {} : { authorization: `Bearer ${token}` }), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, wwwAuthenticate: res.headers.get('www-authenticate'), body: (await res.json().catch(() => null)) as any };
  };

  beforeAll(async () => {
    services = await startServices();
    const created = await call('POST', '/v1/tasks', tokenFor('ws-auth-b'), {
      workspaceId: 'ws-auth-b',
      repository: path.join(services.repoRoot, 'none'),
      prompt: 'Belongs to B',
    });
    expect(created.status).toBe(201);
    taskOfB = created.body;
    await (await runOf(services.temporal, taskOfB.workflowId)).result().catch(() => undefined);
  });
  afterAll(async () => services?.stop());

  it('answers 401 without a token or with an unknown one, and keeps /healthz open', async () => {
    for (const token of [null, 'not-a-known-token']) {
      const res = await call('GET', '/v1/tasks?workspaceId=ws-auth-b', token);
      expect(res).toMatchObject({ status: 401, wwwAuthenticate: 'Bearer', body: { error: { code: 'unauthorized', field: 'header.authorization' } } });
    }
    const before = await services.prisma.task.count();
    expect((await call('POST', '/v1/tasks', null, { workspaceId: 'ws-auth-b', repository: '/x', prompt: 'no token' })).status).toBe(401);
    expect(await services.prisma.task.count()).toBe(before);
    expect((await call('GET', '/healthz', null)).status).toBe(200);
  });

  it("hides another workspace's task behind 404, exactly like a missing one", async () => {
    const tokenA = tokenFor('ws-auth-a');
    const missing = await call('GET', '/v1/tasks/00000000-0000-4000-8000-000000000000', tokenA);
    for (const [method, p] of [
      ['GET', `/v1/tasks/${taskOfB.id}`],
      ['GET', `/v1/tasks/${taskOfB.id}/events`],
      ['GET', `/v1/tasks/${taskOfB.id}/provisioning`],
      ['GET', `/v1/tasks/${taskOfB.id}/sandbox`],
      ['POST', `/v1/tasks/${taskOfB.id}/retry`],
      ['POST', `/v1/tasks/${taskOfB.id}/kill`],
      ['GET', `/v1/tasks/${taskOfB.id}/sessions`],
      ['POST', `/v1/tasks/${taskOfB.id}/sessions`],
    ] as const) {
      const res = await call(method, p, tokenA, method === 'POST' ? {} : undefined);
      expect({ p: `${method} ${p}`, status: res.status, code: res.body.error.code }).toEqual({ p: `${method} ${p}`, status: 404, code: missing.body.error.code });
    }
    // Nothing was changed for B: still in error, no tab, no kill.
    const b = await call('GET', `/v1/tasks/${taskOfB.id}`, tokenFor('ws-auth-b'));
    expect(b.body.status).toBe('error');
    expect(await services.prisma.workbenchSession.count({ where: { taskId: taskOfB.id } })).toBe(0);
  });

  it('refuses to create in or list another workspace (403) and writes nothing', async () => {
    const before = await services.prisma.task.count();
    const create = await call('POST', '/v1/tasks', tokenFor('ws-auth-a'), { workspaceId: 'ws-auth-b', repository: path.join(services.repoRoot, 'none'), prompt: 'Into B' });
    expect(create).toMatchObject({ status: 403, body: { error: { code: 'workspace_forbidden', field: 'body.workspaceId' } } });
    const list = await call('GET', '/v1/tasks?workspaceId=ws-auth-b', tokenFor('ws-auth-a'));
    expect(list).toMatchObject({ status: 403, body: { error: { code: 'workspace_forbidden', field: 'query.workspaceId' } } });
    expect(await services.prisma.task.count()).toBe(before);
  });

  it('refuses a Socket.IO handshake without a known token, and subscriptions outside the workspace', async () => {
    for (const auth of [{}, { token: 'not-a-known-token' }]) {
      const socket = io(services.baseUrl, { transports: ['websocket'], reconnection: false, auth });
      const error = await new Promise<Error>((resolve) => socket.once('connect_error', resolve));
      expect(error.message).toBe('unauthorized');
      socket.close();
    }
    const a = new TaskEventClient(services.baseUrl, 'ws-auth-a');
    try {
      expect(await a.subscribe({ taskId: taskOfB.id })).toEqual({ ok: false, error: expect.objectContaining({ code: 'task_not_found' }) });
      expect(await a.subscribe({ workspaceId: 'ws-auth-b' })).toEqual({ ok: false, error: expect.objectContaining({ code: 'workspace_forbidden' }) });
      expect(await a.subscribe({ workspaceId: 'ws-auth-a' })).toEqual({ ok: true });
    } finally {
      a.close();
    }
  });

  it('reads tokens from API_TOKENS and refuses a malformed list', () => {
    const resolve = tokensFromConfig('alpha-token-1=ws-a, beta-token-22=ws-b');
    expect(resolve('alpha-token-1')).toBe('ws-a');
    expect(resolve('beta-token-22')).toBe('ws-b');
    expect(resolve('alpha-token-2')).toBeNull();
    for (const bad of ['', 'short=ws', 'no-equals-sign-here', 'long-enough-token=bad workspace']) expect(() => tokensFromConfig(bad)).toThrow(/API_TOKENS/);
  });
});
