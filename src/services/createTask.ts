/**
 * Creating a task. The create returns once the task row and its first history event are committed;
 * provisioning runs in the background afterwards and is never awaited by the caller
 * (docs/PRODUCT.md#create-answers-before-provisioning).
 */
import { randomUUID } from 'node:crypto';
import type { Task, WorkbenchSession } from '../generated/prisma/client';
import { insertTaskWithCreatedEvent, type NewTask } from '../db/taskEvents';
import { startUnlessRunning, startWorkbenchSession } from '../temporal/client';
import type { ProvisionStarter } from '../temporal/provisionStarter';
import { provisionWorkflowId } from '../workflows/provisionTask.contract';
import type { ServiceDeps } from './deps';
import { DomainError } from './errors';
import { createIdempotently } from './idempotency';
import { insertTab } from './insertTab';

export interface CreateTaskDeps extends ServiceDeps {
  /** Provider ids the worker serves (`local`, ...). */
  providerIds: readonly string[];
  /** The repository policy: whether a task may name `repository`, and if not, why (one sentence). */
  checkRepository: (repository: string) => { ok: true } | { ok: false; reason: string };
  /** Starts provisioning runs in the background (../temporal/provisionStarter.ts). */
  provisionStarter: ProvisionStarter;
  /** Agent of a task that names none (DEFAULT_AGENT). */
  defaultAgent: string;
}

/** A create request, validated for shape by the caller. */
export interface CreateTaskInput {
  workspaceId: string;
  /** A git repository path or URL. */
  repository: string;
  /** The task prompt; its first line names the task. */
  prompt: string;
  /** Explicit branch; a collision with an existing branch fails provisioning. */
  branchName?: string;
  /** Agent id (src/domain/agents.ts); default `deps.defaultAgent`. */
  agent?: string;
  provider: string;
  /** Open the task's first tab now and send the prompt there once it is ready. */
  openSession: boolean;
}

export interface CreatedTask {
  /** The task row (status `init_enqueue_provision` when just created). */
  task: Task;
  /** The first tab: the one just opened, or on a replay the first request's (null without openSession). */
  firstSession: WorkbenchSession | null;
  /** True when this was a repeat of an earlier request with the same key: nothing was created. */
  replayed: boolean;
  /**
   * Hands the task to the provision starter. Call it once the answer is on its way, so the create
   * neither waits for nor fails with Temporal; a no-op on a replay. If the start fails, or the process
   * dies first, the worker's recovery sweep starts the run: the committed row is the durable record.
   */
  startProvisioning(): void;
}

/**
 * Creates a task: checks the provider and the repository policy, then writes the row, its
 * `task.created` event and the notification (one SQL statement in the common case). With
 * `openSession`, the task's first tab is opened in the same transaction with the prompt as its first
 * message (stored, so never lost; claimed before sending, so never sent twice) and the tab's run is
 * started (a failed start is logged: provisioning starts waiting tabs' runs when it ends). With
 * `idempotencyKey` (unique per workspace) a repeat returns the first request's task and creates nothing.
 * @throws DomainError invalid `unknown_provider` (field `provider`) | invalid `repository_not_allowed`
 *   (field `repository`) | mismatch `idempotency_key_reused` (field `idempotencyKey`).
 */
export async function createTask(deps: CreateTaskDeps, given: CreateTaskInput & { idempotencyKey?: string }): Promise<CreatedTask> {
  const input = { ...given, agent: given.agent ?? deps.defaultAgent };
  if (!deps.providerIds.includes(input.provider)) {
    throw new DomainError('invalid', 'unknown_provider', `provider must be one of: ${deps.providerIds.join(', ')}`, { field: 'provider' });
  }
  const verdict = deps.checkRepository(input.repository);
  if (!verdict.ok) throw new DomainError('invalid', 'repository_not_allowed', verdict.reason, { field: 'repository' });

  const { idempotencyKey, ...request } = input;
  const id = randomUUID();
  const newTask: NewTask = {
    id,
    workspaceId: input.workspaceId,
    repository: input.repository,
    prompt: input.prompt,
    requestedBranch: input.branchName ?? null,
    providerId: input.provider,
    agentType: input.agent,
    statusMessage: 'provision queued',
    workflowId: provisionWorkflowId(id),
  };

  // The common case is one SQL statement (row + task.created + notify); a key to claim or a tab to
  // open needs an interactive transaction around the same statement.
  const outcome =
    !idempotencyKey && !input.openSession
      ? { replayed: false as const, value: { task: await insertTaskWithCreatedEvent(deps.prisma, newTask), firstSession: null } }
      : await createIdempotently(deps.prisma, {
          scope: `tasks:${input.workspaceId}`,
          key: idempotencyKey,
          request,
          create: async (tx) => {
            const created = await insertTaskWithCreatedEvent(tx, newTask);
            if (!input.openSession) return { task: created, firstSession: null };
            const firstSession = await insertTab(tx, deps.notifier, { task: created, agent: input.agent, firstMessage: input.prompt });
            // Opening the tab bumped the task's event sequence: read the row back.
            return { task: await tx.task.findUniqueOrThrow({ where: { id } }), firstSession };
          },
          bindTo: () => ({ taskId: id }),
          replay: (tx, first) => tx.task.findUniqueOrThrow({ where: { id: first.taskId! } }),
        });

  if (outcome.replayed) {
    // A repeated or concurrent duplicate: the first request's task, nothing new.
    const first = outcome.value;
    const firstSession = input.openSession ? await deps.prisma.workbenchSession.findFirst({ where: { taskId: first.id, ordinal: 1 } }) : null;
    return { task: first, firstSession, replayed: true, startProvisioning: () => undefined };
  }

  const { task, firstSession } = outcome.value;
  if (firstSession) {
    await startUnlessRunning(() =>
      startWorkbenchSession(deps.temporal, { task, tabName: firstSession.name, sessionId: firstSession.id, workflowId: firstSession.workflowId, taskQueue: deps.taskQueue }),
    ).catch((err) => deps.logger.warn({ err, sessionId: firstSession.id }, 'starting the first tab failed; provisioning will start it'));
  }
  return { task, firstSession, replayed: false, startProvisioning: () => deps.provisionStarter.enqueue(task) };
}
