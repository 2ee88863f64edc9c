/**
 * Task routes, mounted at /v1/tasks. Each handler parses the request, authorizes it (the token's
 * workspace), calls one service (src/services) and shapes the answer. The REST contract is the
 * OpenAPI document (GET /openapi.json, built by src/api/openapi/document.ts); errors map in ../errors.ts.
 */
import { Router } from 'express';
import { toSessionRecord, toTaskRecord } from '../../domain/records';
import { toTaskEventRecord } from '../../domain/events';
import { toTaskLogRecord } from '../../domain/taskLogs';
import { isProvisioning } from '../../domain/status';
import { createTask } from '../../services/createTask';
import type { ServiceDeps } from '../../services/deps';
import { releaseTask } from '../../services/releaseTask';
import { provisioningProgress, provisioningState } from '../../services/provisioningProgress';
import { retryTask } from '../../services/retryTask';
import { resumeTaskSandbox, stopTaskSandbox } from '../../services/sandboxControl';
import { activeSandboxOf, listTaskEvents, listTaskLogs, listTasks } from '../../services/taskReads';
import { temporalUiLink } from '../../temporal/client';
import type { ProvisionStarter } from '../../temporal/provisionStarter';
import { checkRepository, type RepositoryPolicy } from '../../repositories/policy';
import type { AgentId } from '../../domain/agents';
import type { ApiMetrics } from '../../observability/metrics';
import { assertOwnWorkspace } from '../auth';
import { findOwnTask } from '../ownTask';
import { idempotencyKeyOf, parse } from '../parse';
import { createTaskBody, idempotencyKeyHeader, listEventsQuery, listLogsQuery, listTasksQuery } from '../schemas';

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
  /** This process's metrics (src/observability/metrics.ts): a create counts in `provisioning_tasks_created_total`. */
  metrics?: Pick<ApiMetrics, 'tasksCreated'>;
}

export function taskRoutes(deps: TaskRouteDeps): Router {
  const { prisma } = deps;
  const router = Router();
  const createDeps = { ...deps, checkRepository: (repository: string) => checkRepository(repository, deps.repositoryPolicy) };
  const uiLink = (workflowId: string) => temporalUiLink(deps.temporalUi.url, deps.temporalUi.namespace, workflowId);

  /** POST /v1/tasks — createTask (operationId). */
  router.post('/', async (req, res) => {
    const body = parse(createTaskBody, req.body ?? {}, 'body');
    assertOwnWorkspace(res, body.workspaceId, 'body.workspaceId');
    const idempotencyKey = idempotencyKeyOf(req, idempotencyKeyHeader);
    const created = await createTask(createDeps, { ...body, idempotencyKey });
    if (created.replayed) res.set('Idempotent-Replayed', 'true');
    else deps.metrics?.tasksCreated.inc();
    res
      .status(201)
      .location(`/v1/tasks/${created.task.id}`)
      .json({
        ...toTaskRecord(created.task),
        temporalUiUrl: uiLink(created.task.workflowId),
        ...(created.firstSession ? { firstSession: toSessionRecord(created.firstSession) } : {}),
      });
    // Only now, with the answer sent: start provisioning, never awaited here (should the start fail, the
    // worker's recovery sweep makes it), so a slow or down Temporal neither slows nor fails a create.
    created.startProvisioning();
  });

  /** GET /v1/tasks — listTasks (operationId). */
  router.get('/', async (req, res) => {
    const q = parse(listTasksQuery, req.query, 'query');
    assertOwnWorkspace(res, q.workspaceId, 'query.workspaceId');
    const page = await listTasks(prisma, q);
    res.json({ items: page.items.map(toTaskRecord), nextCursor: page.nextCursor });
  });

  /** GET /v1/tasks/:id — getTask (operationId). */
  router.get('/:id', async (req, res) => {
    const task = await findOwnTask(prisma, req, res);
    const record = { ...toTaskRecord(task), temporalUiUrl: uiLink(task.workflowId) };
    res.json(isProvisioning(task.status) ? { ...record, provisioning: await provisioningProgress(deps, task) } : record);
  });

  /** GET /v1/tasks/:id/events — listTaskEvents (operationId). */
  router.get('/:id/events', async (req, res) => {
    const task = await findOwnTask(prisma, req, res);
    const q = parse(listEventsQuery, req.query, 'query');
    const page = await listTaskEvents(prisma, task, q);
    res.json({ items: page.items.map(toTaskEventRecord), nextCursor: page.nextCursor });
  });

  /** GET /v1/tasks/:id/logs — listTaskLogs (operationId). */
  router.get('/:id/logs', async (req, res) => {
    const task = await findOwnTask(prisma, req, res);
    const q = parse(listLogsQuery, req.query, 'query');
    const page = await listTaskLogs(prisma, task, q);
    res.json({ items: page.items.map(toTaskLogRecord), nextCursor: page.nextCursor });
  });

  /** POST /v1/tasks/:id/kill — killTask (operationId). */
  router.post('/:id/kill', async (req, res) => {
    const task = await findOwnTask(prisma, req, res);
    res.status(202).json(toTaskRecord(await releaseTask(deps, task, 'killed')));
  });

  /** POST /v1/tasks/:id/archive — archiveTask (operationId). */
  router.post('/:id/archive', async (req, res) => {
    const task = await findOwnTask(prisma, req, res);
    res.status(202).json(toTaskRecord(await releaseTask(deps, task, 'archived')));
  });

  /** POST /v1/tasks/:id/stop — stopTaskSandbox (operationId). */
  router.post('/:id/stop', async (req, res) => {
    const task = await findOwnTask(prisma, req, res);
    res.status(202).json(toTaskRecord(await stopTaskSandbox(deps, task)));
  });

  /** POST /v1/tasks/:id/resume — resumeTaskSandbox (operationId). */
  router.post('/:id/resume', async (req, res) => {
    const task = await findOwnTask(prisma, req, res);
    res.status(202).json(toTaskRecord(await resumeTaskSandbox(deps, task)));
  });

  /** POST /v1/tasks/:id/retry — retryTask (operationId). */
  router.post('/:id/retry', async (req, res) => {
    const found = await findOwnTask(prisma, req, res);
    res.status(202).json(toTaskRecord(await retryTask(deps, found)));
  });

  /** GET /v1/tasks/:id/provisioning — getProvisionState (operationId). */
  router.get('/:id/provisioning', async (req, res) => {
    const task = await findOwnTask(prisma, req, res);
    res.json(await provisioningState(deps, task));
  });

  /** GET /v1/tasks/:id/sandbox — getSandbox (operationId). */
  router.get('/:id/sandbox', async (req, res) => {
    const task = await findOwnTask(prisma, req, res);
    const sandbox = await activeSandboxOf(prisma, task);
    // Fields picked one by one: provider secrets (agent token, process ids) are never answered.
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
