/**
 * Task endpoints (REST, JSON):
 *
 *   POST /v1/tasks                    create a task; answers 201 once the row is committed and the
 *                                     provisionTask run is started (never awaited)
 *   GET  /v1/tasks?workspaceId=...    a workspace's tasks, newest first, cursor pagination
 *   GET  /v1/tasks/:id                one task
 *   GET  /v1/tasks/:id/events         its history, oldest first, from `after` (seq)
 *   GET  /v1/tasks/:id/provisioning   live step state from the workflow's `provisionState` query
 *   GET  /v1/tasks/:id/sandbox        the task's active sandbox (directory, agent endpoint, session)
 *   POST /v1/tasks/:id/retry          provision a task in `error` again
 *   POST /v1/tasks/:id/kill           stop the task and clean up, ending in `killed`
 *
 * Errors: see ../errors.ts.
 */
import { randomUUID } from 'node:crypto';
import { Router, type Request, type Response } from 'express';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { z } from 'zod';
import type { Prisma, PrismaClient, Task } from '../../generated/prisma/client';
import { appendTaskEvent, insertTaskWithCreatedEvent, type NewTask } from '../../db/taskEvents';
import { toSessionRecord, toTaskEventRecord, toTaskRecord } from '../../domain/records';
import { isProvisioning } from '../../domain/status';
import type { Logger } from '../../logger';
import type { TaskEventNotifier } from '../../realtime/notifier';
import { startProvisionTask, startUnlessRunning, temporalUiLink } from '../../temporal/client';
import type { ProvisionStarter } from '../../temporal/provisionStarter';
import { TEMPORAL_RETRY_AFTER_SECONDS } from '../../temporal/unavailable';
import { provisionStateQuery, provisionWorkflowId, type ProvisionState } from '../../workflows/contracts';
import { KILL_TASK_WORKFLOW_TYPE, killWorkflowId } from '../../workflows/killContracts';
import { assertOwnWorkspace } from '../auth';
import { findOwnTask } from '../ownTask';
import { HttpError } from '../errors';
import { checkRepository } from '../repositoryPolicy';
import { idempotencyKeyOf, parse } from '../parse';
import { bindIdempotencyKey, claimIdempotencyKey, requestHash } from '../../db/idempotency';
import { insertSession } from '../../db/sessions';
import { startWorkbenchSession } from './sessions';
import { createTaskBody, idempotencyKeyHeader, listEventsQuery, listTasksQuery } from '../schemas';

export interface TaskRouteDeps {
  prisma: PrismaClient;
  temporal: Client;
  notifier: TaskEventNotifier;
  taskQueue: string;
  /** Provider ids the worker serves (`local`, ...). */
  providerIds: readonly string[];
  /** Absolute directories local repositories must be under (./../repositoryPolicy.ts). */
  repositoryRoots: readonly string[];
  temporalUi: { url: string; namespace: string };
  logger: Logger;
  /** Starts provisioning runs after createTask has answered (../../temporal/provisionStarter.ts). */
  provisionStarter: ProvisionStarter;
}

/** How long GET /provisioning waits for Temporal to answer the query, in ms, before 503 workflow_unavailable. */
const QUERY_DEADLINE_MS = 5_000;

const encodeCursor = (t: { createdAt: Date; id: string }) => Buffer.from(`${t.createdAt.toISOString()}|${t.id}`).toString('base64url');
const cursorShape = z.tuple([z.iso.datetime(), z.string().uuid()]);
function decodeCursor(cursor: string): { createdAt: Date; id: string } {
  const parsed = cursorShape.safeParse(Buffer.from(cursor, 'base64url').toString().split('|'));
  const createdAt = parsed.success ? new Date(parsed.data[0]) : undefined;
  // Postgres timestamps cover years 4713 BC .. 294276 AD; JavaScript dates a wider range.
  if (!parsed.success || !createdAt || createdAt.getUTCFullYear() < 1 || createdAt.getUTCFullYear() > 9999) {
    throw new HttpError(400, 'invalid_cursor', 'cursor is not one this API issued', 'query.cursor');
  }
  return { createdAt, id: parsed.data[1] };
}

export function taskRoutes(deps: TaskRouteDeps): Router {
  const { prisma } = deps;
  const router = Router();

  const findTask = (req: Request, res: Response) => findOwnTask(prisma, req, res);

  /**
   * Create a task (seeds/01: "createTask returns once the task actor exists and initial task metadata
   * is persisted"). Body: { workspaceId, repository, prompt, branchName?, agent? = "claude", provider? = "local",
   * openSession? = false }. With openSession the first tab is opened in the same transaction and the
   * prompt is its first message, sent once the tab is ready (never lost: it is stored; never twice: it is
   * claimed before sending). 201 + Location: /v1/tasks/:id, body TaskRecord (status
   * `init_enqueue_provision`) plus `temporalUiUrl` and, with openSession, `firstSession`.
   * 400 validation_failed | unknown_provider | repository_not_allowed (see ../repositoryPolicy.ts).
   * The request writes the row, its `task.created` event and the notification in one SQL statement
   * and answers; the provisionTask run is started right after the answer by the provision starter
   * (../../temporal/provisionStarter.ts), or, should that fail, by the worker's recovery sweep, so
   * Temporal being slow or down neither slows nor fails a create.
   * Header `Idempotency-Key` (optional, per workspace): a repeat answers 201 with the first request's
   * task and `Idempotent-Replayed: true`, creating nothing; the same key with another body is 422
   * idempotency_key_reused.
   */
  router.post('/', async (req, res) => {
    const body = parse(createTaskBody, req.body ?? {}, 'body');
    assertOwnWorkspace(res, body.workspaceId, 'body.workspaceId');
    if (!deps.providerIds.includes(body.provider)) {
      throw new HttpError(400, 'unknown_provider', `provider must be one of: ${deps.providerIds.join(', ')}`, 'body.provider');
    }
    const verdict = checkRepository(body.repository, deps.repositoryRoots);
    if (!verdict.ok) throw new HttpError(400, 'repository_not_allowed', verdict.reason, 'body.repository');
    const idempotencyKey = idempotencyKeyOf(req, idempotencyKeyHeader);
    const scope = `tasks:${body.workspaceId}`;
    const id = randomUUID();
    const workflowId = provisionWorkflowId(id);
    const newTask: NewTask = {
      id,
      workspaceId: body.workspaceId,
      repository: body.repository,
      prompt: body.prompt,
      requestedBranch: body.branchName ?? null,
      providerId: body.provider,
      agentType: body.agent,
      statusMessage: 'provision queued',
      workflowId,
    };
    const createdPayload = { workspaceId: body.workspaceId, repository: body.repository, agent: body.agent, provider: body.provider, branchName: body.branchName ?? null };
    // The common case is one SQL statement (row + task.created + notify); a key to claim or a tab to
    // open needs an interactive transaction around the same statement.
    const outcome =
      !idempotencyKey && !body.openSession
        ? { kind: 'created' as const, created: { ...(await insertTaskWithCreatedEvent(prisma, newTask, createdPayload)), firstSession: null } }
        : await prisma.$transaction(async (tx) => {
            if (idempotencyKey) {
              const claim = await claimIdempotencyKey(tx, { scope, key: idempotencyKey, hash: requestHash(body) });
              if (claim.kind === 'mismatch') throw new HttpError(422, 'idempotency_key_reused', 'this Idempotency-Key was used with a different request body', 'header.idempotency-key');
              if (claim.kind === 'replay') return { kind: 'replay' as const, replay: await tx.task.findUniqueOrThrow({ where: { id: claim.taskId! } }) };
            }
            const created = await insertTaskWithCreatedEvent(tx, newTask, createdPayload);
            const session = body.openSession ? await insertSession(tx, deps.notifier, { task: created, agent: body.agent, firstMessage: body.prompt }) : null;
            if (idempotencyKey) await bindIdempotencyKey(tx, { scope, key: idempotencyKey, taskId: id });
            // insertSession bumped the task's sequence: read the row back only then.
            return { kind: 'created' as const, created: { ...(session ? await tx.task.findUniqueOrThrow({ where: { id } }) : created), firstSession: session } };
          });
    if (outcome.kind === 'replay') {
      // A repeated or concurrent duplicate: the first request's task, nothing new.
      const first = outcome.replay;
      const firstSession = await prisma.workbenchSession.findFirst({ where: { taskId: first.id, ordinal: 1 } });
      res
        .status(201)
        .location(`/v1/tasks/${first.id}`)
        .set('Idempotent-Replayed', 'true')
        .json({
          ...toTaskRecord(first),
          temporalUiUrl: temporalUiLink(deps.temporalUi.url, deps.temporalUi.namespace, first.workflowId),
          ...(body.openSession && firstSession ? { firstSession: toSessionRecord(firstSession) } : {}),
        });
      return;
    }
    const task = outcome.created;
    if (task.firstSession) {
      // If this start fails, provisionTask's release of waiting tabs starts the tab's run later.
      await startWorkbenchSession(deps.temporal, deps.taskQueue, { taskId: id, sessionId: task.firstSession.id, workflowId: task.firstSession.workflowId }).catch((err) =>
        deps.logger.warn({ err, sessionId: task.firstSession?.id }, 'starting the first tab failed; provisioning will start it'),
      );
    }
    res
      .status(201)
      .location(`/v1/tasks/${id}`)
      .json({
        ...toTaskRecord(task),
        temporalUiUrl: temporalUiLink(deps.temporalUi.url, deps.temporalUi.namespace, workflowId),
        ...(task.firstSession ? { firstSession: toSessionRecord(task.firstSession) } : {}),
      });
    // Only now, with the answer sent: start provisioning (seeds/01 "wait: false"), never awaited here.
    deps.provisionStarter.enqueue(task);
  });

  /**
   * List a workspace's tasks, newest first. Query: workspaceId (required), limit 1..100 (20), cursor.
   * 200 { items: TaskRecord[], nextCursor: string | null }.
   */
  router.get('/', async (req, res) => {
    const q = parse(listTasksQuery, req.query, 'query');
    assertOwnWorkspace(res, q.workspaceId, 'query.workspaceId');
    const after = q.cursor ? decodeCursor(q.cursor) : undefined;
    const where: Prisma.TaskWhereInput = { workspaceId: q.workspaceId };
    if (after) where.OR = [{ createdAt: { lt: after.createdAt } }, { createdAt: after.createdAt, id: { lt: after.id } }];
    const rows = await prisma.task.findMany({ where, orderBy: [{ createdAt: 'desc' }, { id: 'desc' }], take: q.limit + 1 });
    const page = rows.slice(0, q.limit);
    res.json({ items: page.map(toTaskRecord), nextCursor: rows.length > q.limit ? encodeCursor(page[page.length - 1]!) : null });
  });

  /**
   * One task. 200 TaskRecord; 400 validation_failed (id not a uuid); 404 task_not_found.
   * While the task is provisioning (`init_*`), the record also has `provisioning`: { currentStep,
   * subStep, attempt, lastProgressAt, timesOutAt } from the run's live state (the earlier system's
   * worst pain was tasks stuck with no visible progress); null when the run cannot be asked in 2 s.
   */
  router.get('/:id', async (req, res) => {
    const task = await findTask(req, res);
    const record = toTaskRecord(task);
    if (!isProvisioning(task.status)) {
      res.json(record);
      return;
    }
    res.json({ ...record, provisioning: await liveProgress(task) });
  });

  /**
   * What a task whose run has not started yet shows (the run is started after createTask answers):
   * status init_enqueue_provision, no step.
   */
  const queuedState = (task: Task): ProvisionState => ({
    taskId: task.id,
    status: task.status,
    statusMessage: task.statusMessage,
    currentStep: null,
    steps: {},
    lastProgressAt: task.updatedAt.toISOString(),
  });

  /** Current step, sub-step, attempt, last progress and timeout boundary of a task's run, or null. */
  const liveProgress = async (task: Task) => {
    try {
      const state =
        task.status === 'init_enqueue_provision'
          ? queuedState(task) // nothing to ask yet
          : await Promise.race([
              deps.temporal.workflow.getHandle(task.workflowId).query(provisionStateQuery),
              new Promise<never>((_, reject) => setTimeout(() => reject(new Error('query timed out')), 2_000).unref()),
            ]);
      const step = state.currentStep ? state.steps[state.currentStep] : undefined;
      const attemptStart = step?.attemptStartedAt ?? step?.startedAt;
      return {
        currentStep: state.currentStep,
        subStep: step?.subStep ?? null,
        attempt: step?.attempt ?? null,
        lastProgressAt: state.lastProgressAt,
        timesOutAt: step && attemptStart ? new Date(Date.parse(attemptStart) + step.startToCloseTimeoutMs).toISOString() : null,
      };
    } catch (err) {
      deps.logger.warn({ err, workflowId: task.workflowId }, 'live progress unavailable');
      return null;
    }
  };

  /**
   * A task's history, oldest first. Query: after (seq, default 0), limit 1..500 (100).
   * 200 { items: TaskEventRecord[], nextCursor: number | null } — pass nextCursor as `after` for the next page.
   */
  router.get('/:id/events', async (req, res) => {
    const task = await findTask(req, res);
    const q = parse(listEventsQuery, req.query, 'query');
    const rows = await prisma.taskEvent.findMany({ where: { taskId: task.id, seq: { gt: q.after } }, orderBy: { seq: 'asc' }, take: q.limit });
    const last = rows[rows.length - 1];
    res.json({ items: rows.map(toTaskEventRecord), nextCursor: last && last.seq < task.lastEventSeq ? last.seq : null });
  });

  /**
   * Kill a task wherever it is (issue 4): its `killTask` run cancels provisioning, closes its tabs,
   * destroys its sandboxes and ends it in `killed` with a `task.kill` event. 202 TaskRecord (the kill
   * runs in the background; follow the task's events); a task already killed answers 202 unchanged.
   */
  router.post('/:id/kill', async (req, res) => {
    const task = await findTask(req, res);
    if (task.status !== 'killed') {
      try {
        await startUnlessRunning(() => deps.temporal.workflow.start(KILL_TASK_WORKFLOW_TYPE, { taskQueue: deps.taskQueue, workflowId: killWorkflowId(task.id), args: [{ taskId: task.id }] }));
      } catch (err) {
        deps.logger.error({ err, taskId: task.id }, 'starting killTask failed');
        throw new HttpError(503, 'workflow_start_failed', 'the kill could not be started; try again');
      }
    }
    res.status(202).json(toTaskRecord(task));
  });

  /**
   * Start provisioning again for a task in `error` (issue 4 "Kill and retry"): a new provisionTask run
   * with the same workflow id, which reuses what is sound (title and branch, the clone, a live
   * sandbox-agent, an open session). Tabs that showed the failure follow the new run.
   * 202 TaskRecord (status init_enqueue_provision); 409 task_not_in_error; 503 workflow_start_failed.
   */
  router.post('/:id/retry', async (req, res) => {
    const found = await findTask(req, res);
    if (found.status !== 'error') throw new HttpError(409, 'task_not_in_error', `the task is ${found.status}; only a task in error can be retried`);
    const task = await prisma.$transaction(async (tx) => {
      // Only one retry per failure: the status check and the patch happen under the task's row lock.
      const [row] = await tx.$queryRaw<Array<{ status: string }>>`SELECT status::text AS status FROM tasks WHERE id = ${found.id}::uuid FOR UPDATE`;
      if (row?.status !== 'error') throw new HttpError(409, 'task_not_in_error', `the task is ${row?.status}; only a task in error can be retried`);
      await appendTaskEvent(tx, deps.notifier, {
        taskId: found.id,
        type: 'task.retry',
        payload: { previousStatusMessage: found.statusMessage },
        dedupeKey: `retry:${found.lastEventSeq}`,
        patch: { status: 'init_enqueue_provision', statusMessage: 'provision queued (retry)' },
      });
      return tx.task.findUniqueOrThrow({ where: { id: found.id } });
    });
    try {
      await startUnlessRunning(() => startProvisionTask(deps.temporal, { taskId: task.id, workspaceId: task.workspaceId, taskQueue: deps.taskQueue }));
    } catch (err) {
      deps.logger.error({ err, taskId: task.id }, 'restarting provisionTask failed');
      throw new HttpError(503, 'workflow_start_failed', 'provisioning could not be restarted; the recovery sweep will start it');
    }
    res.status(202).json(toTaskRecord(task));
  });

  /**
   * Live provisioning state read from the run's `provisionState` query (current step, attempt,
   * per-step times, last progress, timeout per attempt). 200 ProvisionState; 404 task_not_found;
   * A task still queued whose run has not started yet answers 200 with the queued state (status
   * init_enqueue_provision, no step). 503 workflow_unavailable (Retry-After) when Temporal cannot
   * answer within 5 s.
   */
  router.get('/:id/provisioning', async (req, res) => {
    const task = await findTask(req, res);
    try {
      const { connection } = deps.temporal;
      res.json(await connection.withDeadline(Date.now() + QUERY_DEADLINE_MS, () => deps.temporal.workflow.getHandle(task.workflowId).query(provisionStateQuery)));
    } catch (err) {
      if (err instanceof WorkflowNotFoundError && task.status === 'init_enqueue_provision') {
        res.json(queuedState(task));
        return;
      }
      deps.logger.warn({ err, taskId: task.id }, 'provisionState query failed');
      throw new HttpError(503, 'workflow_unavailable', 'the provisioning run cannot be queried right now; try again shortly', undefined, undefined, TEMPORAL_RETRY_AFTER_SECONDS);
    }
  });

  /**
   * The task's active sandbox. 200 { id, provider, providerSandboxId, directory, agentEndpoint, state,
   * sessionId, createdAt, updatedAt }; 404 task_not_found, or sandbox_not_found while it has none yet.
   * Provider secrets (agent token, process ids) are never included.
   */
  router.get('/:id/sandbox', async (req, res) => {
    const task = await findTask(req, res);
    const sandbox = task.activeSandboxId ? await prisma.sandbox.findUnique({ where: { id: task.activeSandboxId } }) : null;
    if (!sandbox) throw new HttpError(404, 'sandbox_not_found', `task ${task.id} has no sandbox yet (status ${task.status})`);
    const details = sandbox.details as { sessionId?: string };
    res.json({
      id: sandbox.id,
      provider: sandbox.providerId,
      providerSandboxId: sandbox.providerSandboxId,
      directory: sandbox.directory,
      agentEndpoint: sandbox.agentEndpoint,
      state: sandbox.state,
      sessionId: details.sessionId ?? null,
      createdAt: sandbox.createdAt.toISOString(),
      updatedAt: sandbox.updatedAt.toISOString(),
    });
  });

  return router;
}
