/**
 * Workbench tabs on the real stack (docs/PRODUCT.md#tabs-open-at-once): opening a tab never provisions inline; a tab goes
 * pending_provision -> pending_session_create -> ready through pushed events alone; messages round-trip
 * through the real sandbox-agent and the offline agent; unread, draft, close; the first prompt.
 */
import { authedFetch } from '../../src/dev/stack/auth';
import path from 'node:path';
import { promises as fs } from 'node:fs';
import { listAcpServers } from '../../src/providers/local/acpClient';
import type { AgentTarget } from '../../src/providers/local/agentHttp';
import type { TaskEventMessage } from '../../src/domain/events';
import { ProviderError } from '../../src/providers/types';
import { Gate, gatedProvider } from '../../src/dev/stack/gate';
import { createTestRepo } from '../../src/dev/stack/gitRepo';
import { TaskEventClient } from '../../src/dev/stack/socketClient';
import { getJson, postJson, startServices, type TestServices } from '../../src/dev/stack/services';
import { runOf } from '../../src/dev/stack/runs';

async function request(method: string, url: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await authedFetch(url, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json().catch(() => null) };
}

const sessionUpdates = (client: TaskEventClient, sessionId: string) =>
  client.messages
    .filter((m) => m.event.type.startsWith('session.') && (m.event.payload as { session?: { id: string } }).session?.id === sessionId)
    .map((m) => (m.event.payload as { session: { status: string } }).session.status);

describe('workbench sessions on the real stack', () => {
  let services: TestServices;
  let repo: string;
  const gates: { createSandbox?: Gate; createSession?: Gate } = {};
  let failNextTabSession = false;

  beforeAll(async () => {
    services = await startServices({
      wrapProvider: (local) => {
        const gated = gatedProvider(local, gates);
        return {
          ...gated,
          createSession: async (handle, req, progress) => {
            if (failNextTabSession && req.sessionKey !== 'initial') {
              failNextTabSession = false;
              throw new ProviderError('SandboxBroken', 'session refused by the test', false);
            }
            return gated.createSession(handle, req, progress);
          },
        };
      },
    });
    repo = await createTestRepo(path.join(services.repoRoot, `sessions-repo-${Date.now()}`));
  });
  afterAll(async () => {
    gates.createSandbox?.open();
    gates.createSession?.open();
    await services?.stop();
  });

  const url = (p: string) => `${services.baseUrl}${p}`;
  /** Reads the tab until `pred` holds (pushed-event tests cover the push path; this reads the stored state). */
  const sessionDetailWhen = async (taskId: string, tabId: string, pred: (d: any) => boolean): Promise<any> => {
    for (const deadline = Date.now() + 60_000; ; await new Promise((r) => setTimeout(r, 100))) {
      const detail = (await getJson(url(`/v1/tasks/${taskId}/sessions/${tabId}`))).body;
      if (pred(detail) || Date.now() > deadline) return detail;
    }
  };
  const agentTarget = async (taskId: string) => {
    const task = (await getJson(url(`/v1/tasks/${taskId}`))).body;
    const sandbox = await services.prisma.sandbox.findUniqueOrThrow({ where: { id: task.activeSandboxId } });
    return JSON.parse(await fs.readFile(path.join(services.local.paths(sandbox.id).host, 'agent.json'), 'utf8')) as AgentTarget;
  };

  it('opens a tab at once while provisioning is held, refuses sends while pending, then reaches ready by pushed events; messages round-trip', async () => {
    gates.createSandbox = new Gate();
    const client = new TaskEventClient(services.baseUrl, 'ws-tabs');
    try {
      const task = (await postJson(url('/v1/tasks'), { workspaceId: 'ws-tabs', repository: repo, prompt: 'Add tabs' })).body;
      await client.subscribe({ taskId: task.id });
      await gates.createSandbox.entered;

      const opened = await request('POST', url(`/v1/tasks/${task.id}/sessions`), { agent: 'offline' });
      expect(opened.status).toBe(201);
      const tab = opened.body;
      expect(tab).toMatchObject({
        taskId: task.id,
        name: 'Session 1',
        agent: 'offline',
        status: 'pending_provision',
        statusLabel: 'Preparing environment',
        composerEnabled: false,
        closed: false,
      });
      expect(tab.id).toMatch(/^session-[0-9a-f-]{36}$/);
      expect((await getJson(url(`/v1/tasks/${task.id}`))).body.status).toBe('init_create_sandbox'); // nothing provisioned inline

      const refused = await request('POST', url(`/v1/tasks/${task.id}/sessions/${tab.id}/messages`), { text: 'too early' });
      expect(refused).toMatchObject({ status: 409, body: { error: { code: 'session_not_ready' } } });
      expect(await services.prisma.transcriptEntry.count({ where: { sessionId: tab.id } })).toBe(0);
      expect((await services.prisma.workbenchSession.findUniqueOrThrow({ where: { id: tab.id } })).lastEntryIndex).toBe(0);

      gates.createSandbox.open();
      await client.waitFor((m) => m.event.type === 'session.updated' && (m.event.payload as any).session.id === tab.id && (m.event.payload as any).session.status === 'ready');
      expect(sessionUpdates(client, tab.id)).toEqual(['pending_provision', 'pending_session_create', 'ready']);
      const ready = (await getJson(url(`/v1/tasks/${task.id}/sessions/${tab.id}`))).body.session;
      expect(ready).toMatchObject({ status: 'ready', composerEnabled: true, sandboxSessionId: expect.stringMatching(/^offline-/) });

      // Draft survives a reload.
      expect((await request('PUT', url(`/v1/tasks/${task.id}/sessions/${tab.id}/draft`), { draft: 'half a thought' })).status).toBe(200);
      expect((await getJson(url(`/v1/tasks/${task.id}/sessions/${tab.id}`))).body.session.draft).toBe('half a thought');

      const sent = await request('POST', url(`/v1/tasks/${task.id}/sessions/${tab.id}/messages`), { text: 'Explain the README' });
      expect(sent.status).toBe(202);
      expect(sent.body.entry).toMatchObject({ index: 1, role: 'user', text: 'Explain the README' });
      const turnEnd = await client.waitFor(
        (m) => m.event.type === 'session.updated' && (m.event.payload as any).session.id === tab.id && (m.event.payload as any).session.unread === true,
      );
      expect((turnEnd.event.payload as any).session.status).toBe('ready');
      expect(sessionUpdates(client, tab.id)).toEqual(['pending_provision', 'pending_session_create', 'ready', 'running', 'ready']);

      const chunks = client.messages
        .filter((m: TaskEventMessage) => m.event.type === 'session.transcript' && (m.event.payload as any).sessionId === tab.id)
        .map((m) => (m.event.payload as any).entry);
      expect(chunks[0]).toMatchObject({ index: 1, role: 'user' });
      const reply = chunks.slice(1);
      expect(reply.length).toBeGreaterThan(1); // streamed in several chunks
      expect(reply.every((e: any) => e.role === 'agent' && e.replyTo === 1)).toBe(true);
      expect(reply.map((e: any) => e.text).join('')).toBe('offline agent: received 18 characters: Explain the README');

      const detail = (await getJson(url(`/v1/tasks/${task.id}/sessions/${tab.id}`))).body;
      expect(detail.transcript.items.map((e: any) => e.index)).toEqual(chunks.map((e: any) => e.index));
      expect(detail.transcript.items[0].delivery).toBe('sent');
      expect(detail.session.unread).toBe(true);
      const read = await request('POST', url(`/v1/tasks/${task.id}/sessions/${tab.id}/read`));
      expect(read.body.unread).toBe(false);
      await client.waitFor(
        (m) =>
          m.event.type === 'session.updated' &&
          (m.event.payload as any).session.id === tab.id &&
          (m.event.payload as any).session.unread === false &&
          m.event.seq > turnEnd.event.seq,
      );
    } finally {
      client.close();
    }
  });

  it('closing a tab while it waits for provisioning, or while its session is being created, leaves no agent session', async () => {
    gates.createSandbox = new Gate();
    const task = (await postJson(url('/v1/tasks'), { workspaceId: 'ws-tabs', repository: repo, prompt: 'Close tabs' })).body;
    await gates.createSandbox.entered;
    const first = (await request('POST', url(`/v1/tasks/${task.id}/sessions`), {})).body; // shares the provisioned session
    const pending = (await request('POST', url(`/v1/tasks/${task.id}/sessions`), {})).body;
    expect(pending).toMatchObject({ name: 'Session 2', status: 'pending_provision' });
    const closed = await request('DELETE', url(`/v1/tasks/${task.id}/sessions/${pending.id}`));
    expect(closed.body).toMatchObject({ closed: true, statusLabel: 'Closed', composerEnabled: false });
    gates.createSandbox.open();
    await (await runOf(services.temporal, `workbench-${pending.id}`)).result();
    await (await runOf(services.temporal, task.workflowId)).result();

    // A third tab is closed while its agent session is being created.
    gates.createSession = new Gate();
    const third = (await request('POST', url(`/v1/tasks/${task.id}/sessions`), {})).body;
    expect(third.status).toBe('pending_session_create');
    await gates.createSession.entered;
    await request('DELETE', url(`/v1/tasks/${task.id}/sessions/${third.id}`));
    gates.createSession.open();
    await (await runOf(services.temporal, `workbench-${third.id}`)).result();

    const { items } = (await getJson(url(`/v1/tasks/${task.id}/sessions`))).body;
    expect(items.map((s: any) => s.id)).toEqual([first.id]);
    const servers = (await listAcpServers({ ...(await agentTarget(task.id)), timeoutMs: 2000 })).map((s) => s.serverId);
    expect(servers.some((s) => s.includes(pending.id))).toBe(false);
    expect(servers.some((s) => s.includes(third.id))).toBe(false);
    expect(servers.filter((s) => s.includes('-initial-'))).toHaveLength(1); // the task's own session, shared by tab 1
  });

  it('sends the first prompt of a task created with openSession exactly once when its tab is ready', async () => {
    const created = await postJson(url('/v1/tasks'), { workspaceId: 'ws-tabs', repository: repo, prompt: 'Write the changelog', openSession: true });
    expect(created.status).toBe(201);
    expect(created.body.firstSession).toMatchObject({ name: 'Session 1', status: 'pending_provision' });
    const tab = created.body.firstSession;
    const detail = await sessionDetailWhen(created.body.id, tab.id, (d) => d.session.unread && d.session.status === 'ready');
    const entries = detail.transcript.items;
    expect(entries.filter((e: any) => e.role === 'user')).toEqual([expect.objectContaining({ index: 1, text: 'Write the changelog', delivery: 'sent' })]);
    expect(
      entries
        .filter((e: any) => e.role === 'agent')
        .map((e: any) => e.text)
        .join(''),
    ).toBe('offline agent: received 19 characters: Write the changelog');
    const task = (await getJson(url(`/v1/tasks/${created.body.id}`))).body;
    expect(detail.session.sandboxSessionId).toBe(task.activeSessionId); // the provisioned session, not a second one
  });

  it('shows a failed session as error with its message; retry makes one new attempt and no duplicate session', async () => {
    const created = (await postJson(url('/v1/tasks'), { workspaceId: 'ws-tabs', repository: repo, prompt: 'Retry tabs' })).body;
    await (await runOf(services.temporal, created.workflowId)).result();
    failNextTabSession = true;
    const client = new TaskEventClient(services.baseUrl, 'ws-tabs');
    try {
      await client.subscribe({ taskId: created.id });
      // A model of its own: the tab gets its own session (not the provisioned one), which the test refuses once.
      const tab = (await request('POST', url(`/v1/tasks/${created.id}/sessions`), { agent: 'offline', model: 'offline-test-model' })).body;
      expect(tab.status).toBe('pending_session_create');
      const failed = await client.waitFor(
        (m) => m.event.type === 'session.updated' && (m.event.payload as any).session.id === tab.id && (m.event.payload as any).session.status === 'error',
      );
      expect((failed.event.payload as any).session).toMatchObject({ errorMessage: 'opening the agent session failed: session refused by the test', composerEnabled: false });
      expect((await request('POST', url(`/v1/tasks/${created.id}/sessions/${tab.id}/messages`), { text: 'hi' })).body.error.code).toBe('session_not_ready');

      expect((await request('POST', url(`/v1/tasks/${created.id}/sessions/${tab.id}/retry`))).status).toBe(202);
      await client.waitFor((m) => m.event.type === 'session.updated' && (m.event.payload as any).session.id === tab.id && (m.event.payload as any).session.status === 'ready');
      // session.created, then the run's own transitions
      expect(sessionUpdates(client, tab.id)).toEqual(['pending_session_create', 'pending_session_create', 'error', 'pending_session_create', 'ready']);
      const servers = (await listAcpServers({ ...(await agentTarget(created.id)), timeoutMs: 2000 })).map((s) => s.serverId);
      expect(servers.filter((s) => s.includes(tab.id))).toHaveLength(1);
      expect((await request('POST', url(`/v1/tasks/${created.id}/sessions/${tab.id}/retry`))).body.error.code).toBe('session_not_in_error');

      // Closing the ready tab ends its live agent session.
      expect((await request('DELETE', url(`/v1/tasks/${created.id}/sessions/${tab.id}`))).body.closed).toBe(true);
      await (await runOf(services.temporal, `workbench-${tab.id}`)).result();
      const after = (await listAcpServers({ ...(await agentTarget(created.id)), timeoutMs: 2000 })).map((s) => s.serverId);
      expect(after.filter((s) => s.includes(tab.id))).toEqual([]);
      expect((await request('DELETE', url(`/v1/tasks/${created.id}/sessions/${tab.id}`))).status).toBe(200); // closing twice is harmless
    } finally {
      client.close();
    }
  });

  it('answers bad tab requests with 4xx, the field named, and stores nothing', async () => {
    const created = (await postJson(url('/v1/tasks'), { workspaceId: 'ws-tabs', repository: path.join(services.repoRoot, 'none'), prompt: 'Bad input' })).body;
    const tab = (await request('POST', url(`/v1/tasks/${created.id}/sessions`), {})).body;
    const base = `/v1/tasks/${created.id}/sessions`;
    const cases: Array<[string, string, unknown, number, string, string | undefined]> = [
      ['POST', base, { agent: 'gpt-9' }, 400, 'validation_failed', 'body.agent'],
      ['POST', base, { colour: 'red' }, 400, 'validation_failed', 'body.colour'],
      ['GET', `${base}/not-a-session`, undefined, 400, 'validation_failed', 'params.sessionId'],
      ['GET', `${base}/session-00000000-0000-4000-8000-000000000000`, undefined, 404, 'session_not_found', 'params.sessionId'],
      ['GET', `/v1/tasks/00000000-0000-4000-8000-000000000000/sessions`, undefined, 404, 'task_not_found', 'params.id'],
      ['POST', `${base}/${tab.id}/messages`, { text: '   ' }, 400, 'validation_failed', 'body.text'],
      ['POST', `${base}/${tab.id}/messages`, { text: 'x', extra: 1 }, 400, 'validation_failed', 'body.extra'],
      ['PUT', `${base}/${tab.id}/draft`, { draft: 'a\u0000b' }, 400, 'validation_failed', 'body.draft'],
      ['GET', `${base}/${tab.id}?after=-1`, undefined, 400, 'validation_failed', 'query.after'],
    ];
    const before = { sessions: await services.prisma.workbenchSession.count(), entries: await services.prisma.transcriptEntry.count() };
    for (const [method, p, body, status, code, field] of cases) {
      const res = await request(method, url(p), body);
      expect({ method, p, status: res.status, code: res.body?.error?.code, field: res.body?.error?.field }).toEqual({ method, p, status, code, field });
    }
    expect({ sessions: await services.prisma.workbenchSession.count(), entries: await services.prisma.transcriptEntry.count() }).toEqual(before);
    await (await runOf(services.temporal, created.workflowId)).result().catch(() => undefined);
    // The tab of a task whose provisioning failed shows the error; closing an errored tab works.
    const errored = (await sessionDetailWhen(created.id, tab.id, (d) => d.session.status !== 'pending_provision')).session;
    expect(errored).toMatchObject({ status: 'error', errorMessage: expect.stringMatching(/^the task's provisioning failed: init_ensure_name failed/) });
    expect((await request('DELETE', url(`${base}/${tab.id}`))).body).toMatchObject({ closed: true });
    await (await runOf(services.temporal, `workbench-${tab.id}`)).result();
  });
});
