/**
 * Provisioning logs on the real stack (docs/OBSERVABILITY.md#provisioning-logs): a task's steps write
 * their own output (the service's sub-steps, host git's clone, sandbox-agent's start-up output) as
 * lines tagged with step, attempt and source, readable page by page with `GET /v1/tasks/:id/logs` and
 * pushed to the task's Socket.IO room as `task.log`; a failed step's last lines stay with the task and
 * in its `task.error` event; no credential in a repository URL reaches a line; a task's log is bounded
 * (oldest dropped first) and rate-limited, on the real Postgres.
 */
import { mkdtempSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { createTestRepo } from '../../src/dev/stack/gitRepo';
import { getJson, postJson, startServices, type TestServices } from '../../src/dev/stack/services';
import { TaskEventClient } from '../../src/dev/stack/socketClient';
import { runOf } from '../../src/dev/stack/runs';
import { killWorkflowId } from '../../src/workflows/killTask.contract';
import { insertTaskWithCreatedEvent } from '../../src/db/taskEvents';
import { createLogger } from '../../src/logger';
import { createTaskLogWriter } from '../../src/taskLogs/taskLogWriter';
import type { TaskLogRecord } from '../../src/domain/taskLogs';
import { createBareRepo, createGitDaemon, type GitDaemon } from '../support/gitDaemon';
import { until } from '../support/polling';

describe('provisioning logs', () => {
  let services: TestServices;
  let daemon: GitDaemon;
  const workspaceId = `ws-logs-${randomUUID().slice(0, 8)}`;

  beforeAll(async () => {
    services = await startServices({ repositoryPolicy: { allowGitProtocol: true } });
    daemon = await createGitDaemon(path.join(mkdtempSync(path.join(services.stack.workDir, 'git-daemon-')), 'served'));
    await createBareRepo(daemon.baseDir, 'app.git');
    await daemon.start();
  });
  afterAll(async () => {
    await daemon?.stop();
    await services?.stop();
  });

  const url = (p: string) => `${services.baseUrl}${p}`;

  /** The task's whole log through the API, page by page (`limit` lines a page). */
  async function readLog(taskId: string, limit = 500): Promise<{ lines: TaskLogRecord[]; pages: number }> {
    const lines: TaskLogRecord[] = [];
    let pages = 0;
    for (let after = 0; ;) {
      const page = await getJson(url(`/v1/tasks/${taskId}/logs?after=${after}&limit=${limit}`));
      expect(page.status).toBe(200);
      pages++;
      lines.push(...page.body.items);
      if (page.body.nextCursor === null) return { lines, pages };
      after = page.body.nextCursor;
    }
  }

  it('records each step’s own output by step and source, pages it, and pushes it to the task’s room', async () => {
    const repo = await createTestRepo(path.join(services.repoRoot, `logs-${randomUUID().slice(0, 8)}`));
    const client = new TaskEventClient(services.baseUrl, workspaceId);
    try {
      const created = await postJson(url('/v1/tasks'), { workspaceId, repository: repo, prompt: 'Log every step' });
      expect(created.status).toBe(201);
      const taskId: string = created.body.id;
      expect((await client.subscribe({ taskId })).ok).toBe(true);
      await expect((await runOf(services.temporal, created.body.workflowId)).result()).resolves.toMatchObject({ status: 'running' });

      const { lines } = await readLog(taskId);
      // Numbered per task from 1, in order, every line tagged and cleaned.
      expect(lines.map((l) => l.seq)).toEqual(lines.map((_, i) => i + 1));
      expect(lines.every((l) => l.taskId === taskId && l.attempt === 1 && l.line.length > 0)).toBe(true);
      // The steps in the order they ran, each with the service's account of its sub-steps.
      const stepsInOrder = lines.map((l) => l.step).filter((s, i, all) => s !== all[i - 1]);
      expect(stepsInOrder).toEqual(['init_ensure_name', 'init_create_sandbox', 'init_ensure_agent', 'init_create_session']);
      const of = (step: string, source: string) => lines.filter((l) => l.step === step && l.source === source).map((l) => l.line);
      expect(of('init_ensure_name', 'service')).toContain(`reading branches of ${repo}`);
      expect(of('init_create_sandbox', 'service')).toContain(`cloning ${repo}`);
      // Host git's own output of the clone and the checkout.
      expect(of('init_create_sandbox', 'git')).toEqual(
        expect.arrayContaining([expect.stringMatching(/^Cloning into '.*\.repo\.partial-/), expect.stringMatching(/^Switched to a new branch /)]),
      );
      expect(of('init_ensure_agent', 'service')).toContain('starting sandbox-agent and waiting for /v1/health');
      // sandbox-agent's own log of this start, read inside the sandbox.
      expect(of('init_ensure_agent', 'sandbox-agent')).toEqual(expect.arrayContaining([expect.stringMatching(/level=info .*message="server listening" addr=127\.0\.0\.1:\d+/)]));
      expect(of('init_create_session', 'service')).toEqual(expect.arrayContaining([expect.stringMatching(/^opening a \w+ session in /)]));

      // A page at a time gives the same lines.
      const paged = await readLog(taskId, 3);
      expect(paged.lines).toEqual(lines);
      expect(paged.pages).toBe(Math.ceil(lines.length / 3));

      // The room got `task.log` messages: lines by increasing seq, each the same as the API's.
      const last = lines[lines.length - 1]!;
      await until(
        async () => client.logs.flatMap((m) => m.lines),
        (got) => got.some((l) => l.seq === last.seq),
      );
      const pushed = client.logs.flatMap((m) => m.lines);
      expect(client.logs.every((m) => m.taskId === taskId)).toBe(true);
      expect(pushed.map((l) => l.seq)).toEqual([...pushed.map((l) => l.seq)].sort((a, b) => a - b));
      expect(pushed.length).toBeGreaterThan(0);
      for (const line of pushed) expect(line).toEqual(lines.find((l) => l.seq === line.seq));
    } finally {
      client.close();
    }
  });

  it('keeps a failed step’s last lines with the task and its task.error event', async () => {
    const repository = daemon.url('missing.git');
    const created = await postJson(url('/v1/tasks'), { workspaceId, repository, prompt: 'Fail to name' });
    await expect((await runOf(services.temporal, created.body.workflowId)).result()).rejects.toThrow();
    const taskId: string = created.body.id;

    const { lines } = await readLog(taskId);
    expect(lines.every((l) => l.step === 'init_ensure_name')).toBe(true);
    expect(lines.map((l) => `${l.source}: ${l.line}`)).toEqual([
      `service: reading branches of ${repository}`,
      expect.stringMatching(/^git: fatal: remote error: access denied or repository not exported/),
      `service: failed: repository ${repository} cannot be read: not found or not exported`,
    ]);
    const events = (await getJson(url(`/v1/tasks/${taskId}/events`))).body.items as Array<{ type: string; payload: Record<string, unknown> }>;
    const error = events.find((e) => e.type === 'task.error');
    expect(error?.payload.logTail).toEqual(lines.map((l) => l.line));
  });

  it('never shows the credentials of a repository URL, not even in git’s own words', async () => {
    const secret = `s3cret-${randomUUID()}`;
    // git:// with user:password@ in front of the host: git cannot resolve that host, and says so naming
    // it whole; the step is retried (a transient failure), so the task is killed at the end.
    const repository = `git://x-access-token:${secret}@127.0.0.1:${new URL(daemon.url('app.git')).port}/app.git`;
    const created = await postJson(url('/v1/tasks'), { workspaceId, repository, prompt: 'Leak nothing' });
    expect(created.status).toBe(201);
    const taskId: string = created.body.id;
    try {
      const { lines } = await until(
        () => readLog(taskId),
        (log) => log.lines.some((l) => l.line.startsWith('failed:')),
      );
      const text = lines.map((l) => l.line).join('\n');
      expect(lines.map((l) => l.source)).toEqual(expect.arrayContaining(['service', 'git']));
      expect(text).not.toContain(secret);
      expect(text).not.toContain('x-access-token');
      expect(text).toContain('git://***@127.0.0.1:');
      expect(lines.find((l) => l.source === 'git')?.line).toMatch(/^fatal: unable to look up \*\*\*@127\.0\.0\.1:\d+/);
    } finally {
      // The kill's run ends once the provisioning run is cancelled; the suite stops its worker only after.
      expect((await postJson(url(`/v1/tasks/${taskId}/kill`), {})).status).toBe(202);
      await services.temporal.workflow.getHandle(killWorkflowId(taskId)).result();
    }
  });

  it('keeps only a task’s newest lines and says how many the rate limit dropped', async () => {
    const task = await insertTaskWithCreatedEvent(services.prisma, {
      id: randomUUID(),
      workspaceId,
      repository: '/nowhere',
      prompt: 'bounded',
      requestedBranch: null,
      providerId: 'local',
      agentType: 'offline',
      statusMessage: 'queued',
      workflowId: `logs-bound-${randomUUID()}`,
    });
    const writer = createTaskLogWriter({
      prisma: services.prisma,
      logger: createLogger('test', 'silent'),
      limits: { maxLinesPerTask: 5, maxLineChars: 1_000, rate: { lines: 8, perSeconds: 3_600 } },
    });
    const first = writer.open(task.id, 'init_create_sandbox', 1);
    for (let i = 1; i <= 6; i++) first.write('git', `line ${i}\n`);
    await first.close();
    const second = writer.open(task.id, 'init_create_sandbox', 2);
    second.write('git', 'line 7\nline 8\nline 9\nline 10\n'); // two over the budget of 8
    await second.close();

    const rows = await services.prisma.taskLog.findMany({ where: { taskId: task.id }, orderBy: { seq: 'asc' } });
    // 6 + 2 kept + 1 notice written (seq 1..9); only the newest 5 are kept.
    expect(rows.map((r) => [r.seq, r.attempt, r.source, r.line])).toEqual([
      [5, 1, 'git', 'line 5'],
      [6, 1, 'git', 'line 6'],
      [7, 2, 'git', 'line 7'],
      [8, 2, 'git', 'line 8'],
      [9, 2, 'service', "2 lines not kept (a task's log takes at most 8 lines per 3600 s)"],
    ]);
    expect((await services.prisma.task.findUniqueOrThrow({ where: { id: task.id } })).lastLogSeq).toBe(9);
    const page = await getJson(url(`/v1/tasks/${task.id}/logs?after=6`));
    expect(page.body).toEqual({ items: rows.slice(2).map((r) => expect.objectContaining({ seq: r.seq, line: r.line })), nextCursor: null });
  });
});
