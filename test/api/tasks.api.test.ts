/**
 * Contract of the task API on the real stack (REST + Socket.IO, real Postgres and Temporal):
 * - bad input on POST /v1/tasks is answered with the documented error and writes nothing (no task
 *   row, no history event, no provisioning run);
 * - lookups, unknown routes, workspace listing with cursor pagination, event history paging;
 * - Socket.IO `subscribe` validation and workspace isolation of pushed events.
 * Tasks created here provision in the background; every run is waited for before teardown.
 */
import type { Socket } from 'socket.io-client';
import { authedFetch } from '../../src/dev/stack/auth';
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { taskRoom } from '../../src/domain/records';
import type { TaskEventMessage } from '../../src/domain/events';
import { createTestRepo } from '../../src/dev/stack/gitRepo';
import { TaskEventClient } from '../../src/dev/stack/socketClient';
import { getJson, postJson, startServices, type TestServices } from '../../src/dev/stack/services';
import { runOf } from '../../src/dev/stack/runs';

type Res = { status: number; body: any };

describe('task API contract on the real stack', () => {
  let services: TestServices;
  let repo: string;
  /** Workflow ids of every task this file created (each 201). */
  const started: string[] = [];

  beforeAll(async () => {
    services = await startServices();
    repo = await createTestRepo(path.join(services.repoRoot, `repo-api-${randomUUID()}`));
  });

  afterAll(async () => {
    if (services) await Promise.allSettled(started.map(runEnd));
    await services?.stop();
  });

  const url = (p: string) => `${services.baseUrl}${p}`;
  const missingRepo = () => path.join(services.repoRoot, 'no-such-repo');

  /** POST /v1/tasks that must succeed; records the run so teardown waits for it. */
  async function createTask(body: Record<string, unknown>): Promise<any> {
    const res = await postJson(url('/v1/tasks'), body);
    expect(res.status).toBe(201);
    started.push(res.body.workflowId);
    return res.body;
  }

  /** Resolves when the task's provisioning run has ended, whatever its outcome. */
  async function runEnd(workflowId: string): Promise<void> {
    await (await runOf(services.temporal, workflowId)).result().catch(() => undefined);
  }

  async function request(method: string, p: string): Promise<Res> {
    const res = await authedFetch(url(p), { method });
    return { status: res.status, body: await res.json().catch(() => null) };
  }

  async function workflowIdsOnQueue(): Promise<string[]> {
    const ids: string[] = [];
    for await (const wf of services.temporal.workflow.list({ query: `TaskQueue="${services.taskQueue}"` })) ids.push(wf.workflowId);
    return ids.sort();
  }

  async function rowCounts() {
    const [tasks, events, sandboxes] = await Promise.all([services.prisma.task.count(), services.prisma.taskEvent.count(), services.prisma.sandbox.count()]);
    return { tasks, events, sandboxes };
  }

  // ---------------------------------------------------------------------------------------------

  describe('POST /v1/tasks rejects bad input and writes nothing', () => {
    const valid = { workspaceId: 'ws-rejected', repository: '/srv/repos/app.git', prompt: 'Add a health check' };
    const without = (key: keyof typeof valid) => Object.fromEntries(Object.entries(valid).filter(([k]) => k !== key));
    const json = (body: unknown) => ({ contentType: 'application/json', raw: JSON.stringify(body) });

    interface BadCase {
      name: string;
      send: { contentType?: string; raw?: string };
      status: number;
      code: string;
      field: string;
      /** Text the message must contain (defaults to the field for validation_failed). */
      mentions?: string;
    }
    const cases: BadCase[] = [
      { name: 'empty object', send: json({}), status: 400, code: 'validation_failed', field: 'body.workspaceId' },
      { name: 'no body at all', send: {}, status: 400, code: 'validation_failed', field: 'body.workspaceId' },
      { name: 'missing workspaceId', send: json(without('workspaceId')), status: 400, code: 'validation_failed', field: 'body.workspaceId' },
      { name: 'missing repository', send: json(without('repository')), status: 400, code: 'validation_failed', field: 'body.repository' },
      { name: 'missing prompt', send: json(without('prompt')), status: 400, code: 'validation_failed', field: 'body.prompt' },
      { name: 'empty prompt', send: json({ ...valid, prompt: '' }), status: 400, code: 'validation_failed', field: 'body.prompt' },
      { name: 'blank prompt', send: json({ ...valid, prompt: ' \n\t ' }), status: 400, code: 'validation_failed', field: 'body.prompt' },
      { name: 'prompt not a string', send: json({ ...valid, prompt: 42 }), status: 400, code: 'validation_failed', field: 'body.prompt' },
      { name: 'workspaceId with spaces', send: json({ ...valid, workspaceId: 'my workspace' }), status: 400, code: 'validation_failed', field: 'body.workspaceId' },
      { name: 'repository starting with -', send: json({ ...valid, repository: '--upload-pack=touch /tmp/x' }), status: 400, code: 'validation_failed', field: 'body.repository' },
      { name: 'repository starting with - after blanks', send: json({ ...valid, repository: '  -x' }), status: 400, code: 'validation_failed', field: 'body.repository' },
      { name: 'branchName -x', send: json({ ...valid, branchName: '-x' }), status: 400, code: 'validation_failed', field: 'body.branchName' },
      { name: 'branchName a..b', send: json({ ...valid, branchName: 'a..b' }), status: 400, code: 'validation_failed', field: 'body.branchName' },
      { name: 'branchName with a space', send: json({ ...valid, branchName: 'has space' }), status: 400, code: 'validation_failed', field: 'body.branchName' },
      { name: 'branchName x.lock', send: json({ ...valid, branchName: 'x.lock' }), status: 400, code: 'validation_failed', field: 'body.branchName' },
      { name: 'branchName HEAD', send: json({ ...valid, branchName: 'HEAD' }), status: 400, code: 'validation_failed', field: 'body.branchName' },
      { name: 'branchName /a', send: json({ ...valid, branchName: '/a' }), status: 400, code: 'validation_failed', field: 'body.branchName' },
      { name: 'branchName x.lock/y', send: json({ ...valid, branchName: 'x.lock/y' }), status: 400, code: 'validation_failed', field: 'body.branchName' },
      { name: 'NUL in the prompt', send: json({ ...valid, prompt: 'hello\u0000world' }), status: 400, code: 'validation_failed', field: 'body.prompt' },
      { name: 'NUL in the repository', send: json({ ...valid, repository: '/tmp/re\u0000po' }), status: 400, code: 'validation_failed', field: 'body.repository' },
      { name: 'unknown agent', send: json({ ...valid, agent: 'gpt-9' }), status: 400, code: 'validation_failed', field: 'body.agent' },
      { name: 'unknown extra field', send: json({ ...valid, priority: 'high' }), status: 400, code: 'validation_failed', field: 'body.priority', mentions: 'priority' },
      { name: 'array instead of object', send: json([valid]), status: 400, code: 'validation_failed', field: 'body' },
      { name: 'malformed JSON', send: { contentType: 'application/json', raw: '{"workspaceId": "ws-rejected",' }, status: 400, code: 'malformed_json', field: 'body' },
      {
        name: 'body over the 256kb limit',
        send: json({ ...valid, prompt: 'x'.repeat(300 * 1024) }),
        status: 413,
        code: 'payload_too_large',
        field: 'body',
      },
      { name: 'repository outside the roots', send: json({ ...valid, repository: '/etc' }), status: 400, code: 'repository_not_allowed', field: 'body.repository' },
      {
        name: 'repository path leading out with ..',
        send: json({ ...valid, repository: `${os.tmpdir()}/../etc` }),
        status: 400,
        code: 'repository_not_allowed',
        field: 'body.repository',
      },
      { name: 'git ext:: transport', send: json({ ...valid, repository: 'ext::sh -c touch% /tmp/pwned' }), status: 400, code: 'repository_not_allowed', field: 'body.repository' },
      {
        name: 'git:// URL (off by default)',
        send: json({ ...valid, repository: 'git://127.0.0.1:9418/x' }),
        status: 400,
        code: 'repository_not_allowed',
        field: 'body.repository',
      },
      { name: 'file:// URL', send: json({ ...valid, repository: 'file:///etc' }), status: 400, code: 'repository_not_allowed', field: 'body.repository' },
      { name: 'relative path', send: json({ ...valid, repository: 'repos/app' }), status: 400, code: 'repository_not_allowed', field: 'body.repository' },
      { name: 'unknown provider', send: json({ ...valid, provider: 'kubernetes' }), status: 400, code: 'unknown_provider', field: 'body.provider', mentions: 'local' },
    ];

    it.each(cases)('$name -> $status $code ($field)', async ({ send, status, code, field, mentions }) => {
      const before = await rowCounts();

      const res = await authedFetch(url('/v1/tasks'), {
        method: 'POST',
        headers: send.contentType ? { 'content-type': send.contentType } : {},
        body: send.raw,
      });
      const body: any = await res.json();

      expect(res.status).toBe(status);
      expect(res.headers.get('location')).toBeNull();
      expect(body).toEqual({ error: expect.objectContaining({ code, field, message: expect.any(String) }) });
      if (code === 'validation_failed') {
        expect(body.error.message).toContain(mentions ?? field);
        expect(body.error.issues).toEqual(expect.arrayContaining([expect.objectContaining({ field, code: expect.any(String), message: expect.any(String) })]));
        expect(body.error.issues[0].field).toBe(field);
      } else if (mentions) {
        expect(body.error.message).toContain(mentions);
      }
      expect(await rowCounts()).toEqual(before);
      // No run beyond those of accepted requests (visibility may lag; the next test closes that gap).
      expect((await workflowIdsOnQueue()).filter((id) => !started.includes(id))).toEqual([]);
    });

    it('started no provisioning run for any rejected request', async () => {
      // Visibility may lag: create one valid task, wait until its run is listed, then the queue
      // (this suite's own) must hold exactly the runs of accepted requests.
      const control = await createTask({ ...valid, repository: missingRepo() });
      const deadline = Date.now() + 30_000;
      let ids = await workflowIdsOnQueue();
      while (!ids.includes(control.workflowId) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 200));
        ids = await workflowIdsOnQueue();
      }
      expect(ids).toEqual([...started].sort());
      expect(await services.prisma.task.count({ where: { workspaceId: valid.workspaceId } })).toBe(1);
    });
  });

  // ---------------------------------------------------------------------------------------------

  describe('lookups and unknown routes', () => {
    it.each([
      { name: 'task id not a uuid', method: 'GET', path: '/v1/tasks/not-a-uuid', status: 400, code: 'validation_failed', field: 'params.id' },
      { name: 'events of a task id not a uuid', method: 'GET', path: '/v1/tasks/123/events', status: 400, code: 'validation_failed', field: 'params.id' },
      { name: 'unknown task', method: 'GET', path: `/v1/tasks/${randomUUID()}`, status: 404, code: 'task_not_found', field: 'params.id' },
      { name: 'events of an unknown task', method: 'GET', path: `/v1/tasks/${randomUUID()}/events`, status: 404, code: 'task_not_found', field: 'params.id' },
      { name: 'unknown path', method: 'GET', path: '/v1/nothing-here', status: 404, code: 'route_not_found', field: undefined },
      { name: 'unknown version', method: 'GET', path: '/v2/tasks', status: 404, code: 'route_not_found', field: undefined },
      { name: 'unsupported method', method: 'DELETE', path: `/v1/tasks/${randomUUID()}`, status: 404, code: 'route_not_found', field: undefined },
    ])('$name: $method $path -> $status $code', async ({ method, path: p, status, code, field }) => {
      const res = await request(method, p);
      expect(res.status).toBe(status);
      expect(res.body.error).toMatchObject({ code, message: expect.any(String) });
      expect(res.body.error.field).toBe(field);
    });
  });

  // ---------------------------------------------------------------------------------------------

  describe('GET /v1/tasks?workspaceId=... lists a workspace newest first with cursor pagination', () => {
    const suffix = randomUUID().slice(0, 8);
    const workspace = `ws-list-${suffix}`;
    const otherWorkspace = `ws-list-other-${suffix}`;
    const created: any[] = [];
    let otherTask: any;

    beforeAll(async () => {
      const prompts = ['Add a health check', 'Fix the login bug', 'Document the API', 'Refactor the parser', 'Add rate limiting'];
      for (const [i, prompt] of prompts.entries()) {
        created.push(await createTask({ workspaceId: workspace, repository: repo, prompt }));
        if (i === 2) otherTask = await createTask({ workspaceId: otherWorkspace, repository: repo, prompt: 'Task of another workspace' });
      }
    });

    // Provisioning goes on in the background; let it end before the next block starts more.
    afterAll(async () => {
      await Promise.allSettled([...created, otherTask].filter(Boolean).map((t) => runEnd(t.workflowId)));
    });

    it('pages with limit=2: newest first, no duplicates, every task once, nextCursor null at the end', async () => {
      const pages: any[][] = [];
      let cursor: string | null = null;
      do {
        const q: string = `/v1/tasks?workspaceId=${workspace}&limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
        const res = await getJson(url(q));
        expect(res.status).toBe(200);
        pages.push(res.body.items);
        cursor = res.body.nextCursor;
        expect(pages.length).toBeLessThanOrEqual(3);
      } while (cursor !== null);

      expect(pages.map((p) => p.length)).toEqual([2, 2, 1]);
      const seen = pages.flat();
      // Newest first; ties on createdAt are broken by id, descending.
      const expected = [...created].sort((a, b) => b.createdAt.localeCompare(a.createdAt) || b.id.localeCompare(a.id));
      expect(seen.map((t) => t.id)).toEqual(expected.map((t) => t.id));
      expect(new Set(seen.map((t) => t.id)).size).toBe(5);
      for (let i = 1; i < seen.length; i++) expect(seen[i - 1].createdAt >= seen[i].createdAt).toBe(true);
      for (const t of seen) expect(t).toMatchObject({ workspaceId: workspace, repository: repo, realtime: { room: `task:${t.id}` } });
    });

    it('returns one page with nextCursor null when everything fits', async () => {
      const res = await getJson(url(`/v1/tasks?workspaceId=${workspace}`));
      expect(res.status).toBe(200);
      expect(res.body.items).toHaveLength(5);
      expect(res.body.nextCursor).toBeNull();
    });

    it("never shows another workspace's tasks", async () => {
      const mine = await getJson(url(`/v1/tasks?workspaceId=${workspace}&limit=100`));
      expect(mine.body.items.map((t: any) => t.id)).not.toContain(otherTask.id);
      expect(mine.body.items.every((t: any) => t.workspaceId === workspace)).toBe(true);

      const theirs = await getJson(url(`/v1/tasks?workspaceId=${otherWorkspace}`));
      expect(theirs.body).toEqual({ items: [expect.objectContaining({ id: otherTask.id, workspaceId: otherWorkspace })], nextCursor: null });

      const nobody = await getJson(url(`/v1/tasks?workspaceId=ws-list-empty-${suffix}`));
      expect(nobody).toEqual({ status: 200, body: { items: [], nextCursor: null } });
    });

    it('a cursor from one page continues in the same workspace only', async () => {
      const first = await getJson(url(`/v1/tasks?workspaceId=${workspace}&limit=1`));
      const cursor = encodeURIComponent(first.body.nextCursor);
      const elsewhere = await getJson(url(`/v1/tasks?workspaceId=${otherWorkspace}&cursor=${cursor}`));
      expect(elsewhere.status).toBe(200);
      expect(elsewhere.body.items.every((t: any) => t.workspaceId === otherWorkspace)).toBe(true);
    });

    const b64 = (s: string) => Buffer.from(s).toString('base64url');
    it.each([
      { name: 'missing workspaceId', query: 'limit=2', code: 'validation_failed', field: 'query.workspaceId' },
      { name: 'workspaceId with spaces', query: 'workspaceId=my%20workspace', code: 'validation_failed', field: 'query.workspaceId' },
      { name: 'limit=0', query: 'workspaceId=ws&limit=0', code: 'validation_failed', field: 'query.limit' },
      { name: 'limit=101', query: 'workspaceId=ws&limit=101', code: 'validation_failed', field: 'query.limit' },
      { name: 'limit not a number', query: 'workspaceId=ws&limit=ten', code: 'validation_failed', field: 'query.limit' },
      { name: 'limit not an integer', query: 'workspaceId=ws&limit=1.5', code: 'validation_failed', field: 'query.limit' },
      { name: 'unknown query parameter', query: 'workspaceId=ws&sort=asc', code: 'validation_failed', field: 'query.sort' },
      { name: 'cursor with a non-uuid id', query: `workspaceId=ws&cursor=${b64('2024-01-01T00:00:00.000Z|not-a-uuid')}`, code: 'invalid_cursor', field: 'query.cursor' },
      {
        name: 'cursor with a date Postgres cannot hold',
        query: `workspaceId=ws&cursor=${b64(`-271821-04-20T00:00:00.000Z|${randomUUID()}`)}`,
        code: 'invalid_cursor',
        field: 'query.cursor',
      },
      { name: 'cursor not base64 of ours', query: 'workspaceId=ws&cursor=not-a-cursor', code: 'invalid_cursor', field: 'query.cursor' },
      { name: 'cursor with a bad date', query: `workspaceId=ws&cursor=${b64(`yesterday|${randomUUID()}`)}`, code: 'invalid_cursor', field: 'query.cursor' },
      { name: 'cursor without an id', query: `workspaceId=ws&cursor=${b64('2024-01-01T00:00:00.000Z|')}`, code: 'invalid_cursor', field: 'query.cursor' },
    ])('$name -> 400 $code ($field)', async ({ query, code, field }) => {
      const res = await getJson(url(`/v1/tasks?${query}`));
      expect(res.status).toBe(400);
      expect(res.body.error).toMatchObject({ code, field, message: expect.any(String) });
    });
  });

  // ---------------------------------------------------------------------------------------------

  describe('GET /v1/tasks/:id/events', () => {
    let task: any;
    let history: any[];

    beforeAll(async () => {
      const created = await createTask({ workspaceId: `ws-events-${randomUUID().slice(0, 8)}`, repository: repo, prompt: 'Add a changelog' });
      await expect((await runOf(services.temporal, created.workflowId)).result()).resolves.toMatchObject({ status: 'running' });
      task = (await getJson(url(`/v1/tasks/${created.id}`))).body;
      history = (await getJson(url(`/v1/tasks/${task.id}/events?limit=500`))).body.items;
    });

    it('once running, the full history has dense seqs 1..lastEventSeq of the task record', async () => {
      expect(task.status).toBe('running');
      expect(task.lastEventSeq).toBeGreaterThan(1);
      expect(history.map((e) => e.seq)).toEqual(Array.from({ length: task.lastEventSeq }, (_, i) => i + 1));
      expect(history.every((e) => e.taskId === task.id)).toBe(true);
      expect(history[0]).toMatchObject({ seq: 1, type: 'task.created' });
      expect(history[history.length - 1]).toMatchObject({ seq: task.lastEventSeq, type: 'task.initialized' });
      // The default page (100) holds it all, so there is no next page.
      const all = await getJson(url(`/v1/tasks/${task.id}/events`));
      expect(all.body).toEqual({ items: history, nextCursor: null });
    });

    it('after=N returns only events with seq > N, in order', async () => {
      for (const n of [0, 1, 3, task.lastEventSeq - 1]) {
        const res = await getJson(url(`/v1/tasks/${task.id}/events?after=${n}`));
        expect(res.status).toBe(200);
        expect(res.body.items).toEqual(history.filter((e) => e.seq > n));
      }
      const atEnd = await getJson(url(`/v1/tasks/${task.id}/events?after=${task.lastEventSeq}`));
      expect(atEnd.body).toEqual({ items: [], nextCursor: null });
      const beyond = await getJson(url(`/v1/tasks/${task.id}/events?after=${task.lastEventSeq + 10}`));
      expect(beyond.body).toEqual({ items: [], nextCursor: null });
    });

    it('limit pages through the history with nextCursor as the next `after`', async () => {
      const pages: any[][] = [];
      let after: number | null = 0;
      while (after !== null) {
        const res = await getJson(url(`/v1/tasks/${task.id}/events?after=${after}&limit=2`));
        expect(res.status).toBe(200);
        const items: any[] = res.body.items;
        pages.push(items);
        const last = items[items.length - 1];
        expect(res.body.nextCursor).toBe(last.seq < task.lastEventSeq ? last.seq : null);
        after = res.body.nextCursor;
        expect(pages.length).toBeLessThanOrEqual(history.length);
      }
      expect(pages.every((p) => p.length >= 1 && p.length <= 2)).toBe(true);
      expect(pages.flat()).toEqual(history);
    });

    it.each([
      { name: 'after=-1', query: 'after=-1', field: 'query.after' },
      { name: 'after not a number', query: 'after=first', field: 'query.after' },
      { name: 'limit=0', query: 'limit=0', field: 'query.limit' },
      { name: 'limit=501', query: 'limit=501', field: 'query.limit' },
      { name: 'unknown query parameter', query: 'before=3', field: 'query.before' },
    ])('$name -> 400 validation_failed ($field)', async ({ query, field }) => {
      const res = await getJson(url(`/v1/tasks/${task.id}/events?${query}`));
      expect(res.status).toBe(400);
      expect(res.body.error).toMatchObject({ code: 'validation_failed', field });
    });
  });

  // ---------------------------------------------------------------------------------------------

  describe('Socket.IO subscribe', () => {
    let client: TaskEventClient;
    beforeAll(() => {
      client = new TaskEventClient(services.baseUrl, 'ws-sock-case');
    });
    afterAll(() => client?.close());

    /** The socket without the contract's types: these tests send what the contract does not allow. */
    const untyped = () => client.socket as unknown as Socket;
    const emitSubscribe = (payload: unknown): Promise<any> => untyped().timeout(5000).emitWithAck('subscribe', payload);

    it.each([
      { name: 'null', payload: null },
      { name: 'a string', payload: 'task-1' },
      { name: 'empty object (taskId missing)', payload: {} },
      { name: 'taskId not a uuid', payload: { taskId: 'not-a-uuid' } },
      { name: 'taskId a number', payload: { taskId: 42 } },
      { name: 'taskId with an extra field', payload: { taskId: randomUUID(), since: 3 } },
      { name: 'taskId and workspaceId together', payload: { taskId: randomUUID(), workspaceId: 'ws' } },
      { name: 'empty workspaceId', payload: { workspaceId: '' } },
      { name: 'workspaceId over 100 characters', payload: { workspaceId: 'w'.repeat(101) } },
    ])('acks invalid_subscription for $name', async ({ payload }) => {
      const ack = await emitSubscribe(payload);
      expect(ack).toEqual({ ok: false, error: expect.objectContaining({ code: 'invalid_subscription', message: expect.any(String) }) });
    });

    it('acks invalid_subscription when no payload is sent at all', async () => {
      const ack = await untyped().timeout(5000).emitWithAck('subscribe');
      expect(ack).toEqual({ ok: false, error: expect.objectContaining({ code: 'invalid_subscription' }) });
    });

    it('accepts a task id in upper case and joins the room events are sent to', async () => {
      const task = await createTask({ workspaceId: 'ws-sock-case', repository: missingRepo(), prompt: 'case' });
      const ack = await emitSubscribe({ taskId: task.id.toUpperCase() });
      expect(ack).toEqual({ ok: true, task: expect.objectContaining({ id: task.id }) });
      expect(await services.api.io.in(taskRoom(task.id)).fetchSockets()).toHaveLength(1);
      expect((await getJson(url(`/v1/tasks/${task.id.toUpperCase()}`))).body.id).toBe(task.id);
    });

    it('acks task_not_found for an unknown task uuid and leaves the socket out of its room', async () => {
      const taskId = randomUUID();
      const ack = await emitSubscribe({ taskId });
      expect(ack).toEqual({ ok: false, error: expect.objectContaining({ code: 'task_not_found', field: 'taskId' }) });
      expect(await services.api.io.in(taskRoom(taskId)).fetchSockets()).toHaveLength(0);
    });

    it("a workspace subscriber never receives events of another workspace's task", async () => {
      const suffix = randomUUID().slice(0, 8);
      const wsA = `ws-sock-a-${suffix}`;
      const wsB = `ws-sock-b-${suffix}`;
      const a = new TaskEventClient(services.baseUrl, wsA);
      const b = new TaskEventClient(services.baseUrl, wsB);
      try {
        expect(await a.subscribe({ workspaceId: wsA })).toEqual({ ok: true });
        expect(await b.subscribe({ workspaceId: wsB })).toEqual({ ok: true });
        // A missing repository makes each run end quickly: task.created, task.step, task.error.
        const ended = (id: string) => (m: TaskEventMessage) => m.event.taskId === id && m.event.type === 'task.error';

        // B's task first, to its end; then A's. The relay emits in commit order and each socket
        // delivers in order, so any B event sent to A would arrive before A's own last event.
        const taskB = await createTask({ workspaceId: wsB, repository: missingRepo(), prompt: 'Task in workspace B' });
        await b.waitFor(ended(taskB.id));
        const taskA = await createTask({ workspaceId: wsA, repository: missingRepo(), prompt: 'Task in workspace A' });
        await a.waitFor(ended(taskA.id));

        expect(a.eventsOf(taskB.id)).toEqual([]);
        expect(a.messages.every((m) => m.task.workspaceId === wsA)).toBe(true);
        expect(a.eventsOf(taskA.id).map((m) => m.event.seq)).toEqual([1, 2, 3]);
        expect(b.messages.every((m) => m.task.workspaceId === wsB)).toBe(true);
        expect(b.eventsOf(taskB.id).map((m) => m.event.seq)).toEqual([1, 2, 3]);
      } finally {
        a.close();
        b.close();
      }
    });
  });
});
