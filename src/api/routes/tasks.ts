/**
 * Task endpoints (REST, JSON):
 *
 *   POST /v1/tasks                    create a task; answers 201 once the row is committed and the
 *                                     provisionTask run is started (never awaited)
 *   GET  /v1/tasks?workspaceId=...    a workspace's tasks, newest first, cursor pagination
 *                                     (archived ones only with include=archived)
 *   GET  /v1/tasks/:id                one task
 *   GET  /v1/tasks/:id/events         its history, oldest first, from `after` (seq)
 *   GET  /v1/tasks/:id/provisioning   live step state from the workflow's `provisionState` query
 *   GET  /v1/tasks/:id/sandbox        the task's active sandbox (directory, agent endpoint, session)
 *   POST /v1/tasks/:id/retry          provision a task in `error` again
 *   POST /v1/tasks/:id/kill           stop the task and clean up, ending in `killed`
 *   POST /v1/tasks/:id/archive        stop the agent, release the sandbox, keep record and history:
 *                                     `archived`
 *   POST /v1/tasks/:id/stop           put a running task's sandbox to sleep (files kept)
 *   POST /v1/tasks/:id/resume         wake it
 *
 * Each handler parses the request, checks the workspace, calls one use case (src/services) and shapes
 * the answer. Errors: see ../errors.ts.
 */
import { Router } from 'express';
import { toSessionRecord, toTaskEventRecord, toTaskRecord } from '../../domain/records';
import { isProvisioning } from '../../domain/status';
import { createTask } from '../../services/createTask';
import type { ServiceDeps } from '../../services/deps';
import { releaseTask } from '../../services/releaseTask';
import { provisioningProgress, provisioningState } from '../../services/provisioningProgress';
import { retryTask } from '../../services/retryTask';
import { resumeTaskSandbox, stopTaskSandbox } from '../../services/sandboxControl';
import { activeSandboxOf, listTaskEvents, listTasks } from '../../services/taskReads';
import { temporalUiLink } from '../../temporal/client';
import type { ProvisionStarter } from '../../temporal/provisionStarter';
import { checkRepository, type RepositoryPolicy } from '../../repositories/policy';
import type { AgentId } from '../../domain/agents';
import { assertOwnWorkspace } from '../auth';
import { findOwnTask } from '../ownTask';
import { idempotencyKeyOf, parse } from '../parse';
import { createTaskBody, idempotencyKeyHeader, listEventsQuery, listTasksQuery } from '../schemas';

export interface TaskRouteDeps extends ServiceDeps {
  /** Provider ids the worker serves (`local`, ...). */
  providerIds: readonly string[];
  /** Agent of a task that names none (DEFAULT_AGENT, src/domain/agents.ts). */
  defaultAgent: AgentId;
  /** Which repositories a task may name (../../repositories/policy.ts, docs/SECURITY.md#repository-policy). */
  repositoryPolicy: RepositoryPolicy;
  temporalUi: { url: string; namespace: string };
  /** Starts provisioning runs after createTask has answered (../../temporal/provisionStarter.ts). */
  provisionStarter: ProvisionStarter;
  /** Idle stop (ms, 0 = never) of a sandbox lifecycle run a stop or resume starts (SANDBOX_IDLE_STOP_MINUTES). */
  idleStopMs: number;
}

export function taskRoutes(deps: TaskRouteDeps): Router {
  const { prisma } = deps;
  const router = Router();
  const createDeps = { ...deps, checkRepository: (repository: string) => checkRepository(repository, deps.repositoryPolicy) };
  const uiLink = (workflowId: string) => temporalUiLink(deps.temporalUi.url, deps.temporalUi.namespace, workflowId);

  /**
   * Create a task. Body: { workspaceId, repository, prompt, branchName?, agent? = DEFAULT_AGENT ("claude"),
   * provider? = "local", openSession? = false }. With openSession the first tab is opened in the same
   * transaction and the prompt is its first message, sent once the tab is ready. 201 + Location:
   * /v1/tasks/:id, body TaskRecord (status `init_enqueue_provision`) plus `temporalUiUrl` and, with
   * openSession, `firstSession`. 400 validation_failed | unknown_provider | repository_not_allowed
   * (see ../../repositories/policy.ts); 403 workspace_forbidden.
   * The provisionTask run is started right after the answer by the provision starter, or, should that
   * fail, by the worker's recovery sweep, so Temporal being slow or down neither slows nor fails a create.
   * Header `Idempotency-Key` (optional, per workspace): a repeat answers 201 with the first request's
   * task and `Idempotent-Replayed: true`, creating nothing; the same key with another body is 422
   * idempotency_key_reused.
   */
  router.post('/', async (req, res) => {
    const body = parse(createTaskBody, req.body ?? {}, 'body');
    assertOwnWorkspace(res, body.workspaceId, 'body.workspaceId');
    const idempotencyKey = idempotencyKeyOf(req, idempotencyKeyHeader);
    const created = await createTask(createDeps, { ...body, idempotencyKey });
    if (created.replayed) res.set('Idempotent-Replayed', 'true');
    res
      .status(201)
      .location(`/v1/tasks/${created.task.id}`)
      .json({
        ...toTaskRecord(created.task),
        temporalUiUrl: uiLink(created.task.workflowId),
        ...(created.firstSession ? { firstSession: toSessionRecord(created.firstSession) } : {}),
      });
    // Only now, with the answer sent: start provisioning, never awaited here.
    created.startProvisioning();
  });

  /**
   * List a workspace's tasks, newest first. Query: workspaceId (required), limit 1..100 (20), cursor,
   * include (`archived`: archived tasks too; hidden without it). 200 { items: TaskRecord[], nextCursor: string | null }; 400 invalid_cursor.
   */
  router.get('/', async (req, res) => {
    const q = parse(listTasksQuery, req.query, 'query');
    assertOwnWorkspace(res, q.workspaceId, 'query.workspaceId');
    const page = await listTasks(prisma, q);
    res.json({ items: page.items.map(toTaskRecord), nextCursor: page.nextCursor });
  });

  /**
   * One task. 200 TaskRecord; 400 validation_failed (id not a uuid); 404 task_not_found.
   * While the task is provisioning (`init_*`), the record also has `provisioning`: { currentStep,
   * subStep, attempt, lastProgressAt, timesOutAt } from the run's live state, so a task that makes no
   * progress is visible as such; null when the run cannot be asked in 2 s. Always with `temporalUiUrl`,
   * the link to its provisioning run in the Temporal Web UI.
   */
  router.get('/:id', async (req, res) => {
    const task = await findOwnTask(prisma, req, res);
    const record = { ...toTaskRecord(task), temporalUiUrl: uiLink(task.workflowId) };
    res.json(isProvisioning(task.status) ? { ...record, provisioning: await provisioningProgress(deps, task) } : record);
  });

  /**
   * A task's history, oldest first. Query: after (seq, default 0), limit 1..500 (100).
   * 200 { items: TaskEventRecord[], nextCursor: number | null } — pass nextCursor as `after` for the next page.
   */
  router.get('/:id/events', async (req, res) => {
    const task = await findOwnTask(prisma, req, res);
    const q = parse(listEventsQuery, req.query, 'query');
    const page = await listTaskEvents(prisma, task, q);
    res.json({ items: page.items.map(toTaskEventRecord), nextCursor: page.nextCursor });
  });

  /**
   * Kill a task wherever it is: its `killTask` run cancels provisioning, closes its tabs, destroys its
   * sandboxes and ends it in `killed` with a `task.kill` event. 202 TaskRecord (the kill runs in the
   * background; follow the task's events); a task already killed or archived answers 202 unchanged.
   * 503 workflow_start_failed.
   */
  router.post('/:id/kill', async (req, res) => {
    const task = await findOwnTask(prisma, req, res);
    res.status(202).json(toTaskRecord(await releaseTask(deps, task, 'killed')));
  });

  /**
   * Archive a task: its archive run (the killTask workflow with outcome `archived`) cancels
   * provisioning, closes its tabs, releases its sandboxes (agent stopped, directory removed) and ends
   * it in `archived` with a `task.archive` event; the record and history stay readable, and the default
   * list hides it. 202 TaskRecord (the archive runs in the background); a task already archived
   * answers 202 unchanged; a killed task is only flipped to `archived`. 503 workflow_start_failed.
   */
  router.post('/:id/archive', async (req, res) => {
    const task = await findOwnTask(prisma, req, res);
    res.status(202).json(toTaskRecord(await releaseTask(deps, task, 'archived')));
  });

  /**
   * Put a running task's sandbox to sleep (docs/PRODUCT.md#sandbox-lifecycle): its sandbox-agent and
   * every process in it end, its memory is released, its files stay; the next message (or a resume)
   * wakes it. 202 TaskRecord (the stop runs in the background; follow `sandbox.state` events); a
   * sandbox asleep already answers 202 unchanged. 409 task_not_running | sandbox_not_stoppable (waking,
   * lost); 503 workflow_unavailable (Retry-After).
   */
  router.post('/:id/stop', async (req, res) => {
    const task = await findOwnTask(prisma, req, res);
    res.status(202).json(toTaskRecord(await stopTaskSandbox(deps, task)));
  });

  /**
   * Wake a running task's sandbox: its sandbox-agent is started again, confined as before, in the same
   * files (repository, branch, uncommitted work). 202 TaskRecord (follow `sandbox.state` events:
   * `resuming` then `ready`); a sandbox ready or waking already answers 202 unchanged. 409
   * task_not_running | sandbox_lost; 503 workflow_unavailable (Retry-After).
   */
  router.post('/:id/resume', async (req, res) => {
    const task = await findOwnTask(prisma, req, res);
    res.status(202).json(toTaskRecord(await resumeTaskSandbox(deps, task)));
  });

  /**
   * Start provisioning again for a task in `error`: a new provisionTask run with the same workflow id,
   * which reuses what is sound (title and branch, the clone, a live sandbox-agent, an open session).
   * Tabs that showed the failure follow the new run.
   * 202 TaskRecord (status init_enqueue_provision); 409 task_not_in_error; 503 workflow_start_failed.
   */
  router.post('/:id/retry', async (req, res) => {
    const found = await findOwnTask(prisma, req, res);
    res.status(202).json(toTaskRecord(await retryTask(deps, found)));
  });

  /**
   * Live provisioning state read from the run's `provisionState` query (current step, attempt,
   * per-step times, last progress, timeout per attempt). 200 ProvisionState; 404 task_not_found.
   * A task still queued whose run has not started yet answers 200 with the queued state (status
   * init_enqueue_provision, no step). 503 workflow_unavailable (Retry-After) when Temporal cannot
   * answer within 5 s.
   */
  router.get('/:id/provisioning', async (req, res) => {
    const task = await findOwnTask(prisma, req, res);
    res.json(await provisioningState(deps, task));
  });

  /**
   * The task's active sandbox. 200 { id, provider, providerSandboxId, hostId, directory, agentEndpoint,
   * state, sessionId, createdAt, updatedAt }; 404 task_not_found, or sandbox_not_found while it has none yet.
   * Provider secrets (agent token, process ids) are never included.
   */
  router.get('/:id/sandbox', async (req, res) => {
    const task = await findOwnTask(prisma, req, res);
    const sandbox = await activeSandboxOf(prisma, task);
    const details = sandbox.details as { sessionId?: string };
    res.json({
      id: sandbox.id,
      provider: sandbox.providerId,
      providerSandboxId: sandbox.providerSandboxId,
      hostId: sandbox.hostId,
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
