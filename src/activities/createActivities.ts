/**
 * Builds the `provisionTask` activities from their dependencies (Prisma client, sandbox providers,
 * notifier, progress reporter). All I/O of provisioning happens here or below, never in workflow code.
 *
 * Each step activity reads the task from Postgres (the workflow passes ids only), calls the task's
 * provider, records what the provider made in the `sandboxes` table and returns a small result.
 * Provider errors become Temporal ApplicationFailures with the provider's `type`; those a retry cannot
 * fix are non-retryable, so the workflow ends the task in `error` at once.
 */
import { randomUUID } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/activity';
import type { Prisma, PrismaClient, Sandbox } from '../generated/prisma/client';
import { appendTaskEvent } from '../db/taskEvents';
import { BranchTakenError, deriveBranchName, deriveTitle, pickBranchName } from '../domain/naming';
import type { Logger } from '../logger';
import { INITIAL_SESSION_KEY, ProviderError, type ProviderRegistry, type SandboxHandle, type SandboxProvider } from '../providers/types';
import type { TaskEventNotifier } from '../realtime/notifier';
import type { ProvisionActivities } from '../workflows/contracts';
import { withKeepAliveHeartbeat, type StepProgressReporter } from './progress';

export interface ActivityDeps {
  prisma: PrismaClient;
  providers: ProviderRegistry;
  notifier: TaskEventNotifier;
  progress: StepProgressReporter;
  logger: Logger;
}

/** Statuses whose tasks no longer hold their branch. */
const RELEASED_STATUSES = ['archived', 'killed'] as const;

export function createActivities(deps: ActivityDeps): ProvisionActivities {
  const { prisma, notifier } = deps;

  const providerFor = (providerId: string): SandboxProvider => {
    const provider = deps.providers.get(providerId);
    if (!provider) throw ApplicationFailure.nonRetryable(`unknown provider "${providerId}"`, 'ProviderUnavailable');
    return provider;
  };

  const sandboxRow = async (sandboxId: string): Promise<Sandbox & { providerSandboxId: string; directory: string }> => {
    const row = await prisma.sandbox.findUniqueOrThrow({ where: { id: sandboxId } });
    if (!row.providerSandboxId || !row.directory) throw ApplicationFailure.retryable(`sandbox ${sandboxId} is not created yet`, 'SandboxBroken');
    return row as Sandbox & { providerSandboxId: string; directory: string };
  };

  const toHandle = (row: Sandbox & { providerSandboxId: string; directory: string }): SandboxHandle => ({
    sandboxKey: row.id,
    providerSandboxId: row.providerSandboxId,
    directory: row.directory,
    agentEndpoint: row.agentEndpoint ?? undefined,
    details: row.details as Record<string, unknown>,
  });

  return {
    async recordTransition(input) {
      const { fields } = input;
      return prisma.$transaction((tx) =>
        appendTaskEvent(tx, notifier, {
          taskId: input.taskId,
          type: input.event.type,
          payload: input.event.payload,
          dedupeKey: input.event.dedupeKey,
          patch: {
            status: input.status,
            statusMessage: input.statusMessage,
            stepTimings: input.stepTimings as unknown as Prisma.InputJsonValue,
            ...fields,
          },
        }),
      );
    },

    async ensureName({ taskId }) {
      return asActivityErrors(async () => {
        const task = await prisma.task.findUniqueOrThrow({ where: { id: taskId } });
        if (task.title && task.branchName) return { title: task.title, branchName: task.branchName };
        const report = deps.progress('init_ensure_name');
        await report('reading_branches', `reading branches of ${task.repository}`);
        const remote = await providerFor(task.providerId).listBranches(task.repository);
        const title = deriveTitle(task.prompt);
        const base = task.requestedBranch ?? deriveBranchName(title);
        return prisma.$transaction(async (tx) => {
          // One naming at a time per repository, so two tasks cannot reserve the same branch.
          await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext(${task.repository}))`;
          const held = await tx.task.findMany({
            where: { repository: task.repository, id: { not: taskId }, branchName: { not: null }, status: { notIn: [...RELEASED_STATUSES] } },
            select: { branchName: true },
          });
          const taken = new Set<string>([...remote, ...held.map((h) => h.branchName!)]);
          const branchName = pickBranchName(base, taken, task.requestedBranch !== null);
          await tx.task.update({ where: { id: taskId }, data: { title, branchName } });
          return { title, branchName };
        });
      });
    },

    async createSandbox({ taskId }) {
      return asActivityErrors(async () => {
        const task = await prisma.task.findUniqueOrThrow({ where: { id: taskId } });
        const { branchName } = task;
        if (!branchName) throw ApplicationFailure.nonRetryable('task has no branch yet', 'SandboxBroken');
        const provider = providerFor(task.providerId);
        const report = deps.progress('init_create_sandbox');
        await report('starting', 'looking for an existing sandbox');
        // The row is written before the provider acts, so whatever the provider makes is findable by its key.
        const existing = await prisma.sandbox.findFirst({ where: { taskId, providerId: provider.id, state: { not: 'destroyed' } }, orderBy: { createdAt: 'desc' } });
        const row = existing ?? (await prisma.sandbox.create({ data: { id: randomUUID(), taskId, providerId: provider.id, state: 'creating' } }));
        const handle = await withKeepAliveHeartbeat(() =>
          provider.createSandbox({ sandboxKey: row.id, repository: task.repository, branchName }, report),
        );
        await prisma.sandbox.update({
          where: { id: row.id },
          data: { providerSandboxId: handle.providerSandboxId, directory: handle.directory, state: 'ready', details: handle.details as Prisma.InputJsonValue },
        });
        return { sandboxId: row.id, directory: handle.directory, provider: provider.id };
      });
    },

    async ensureAgent({ taskId, sandboxId }) {
      return asActivityErrors(async () => {
        const task = await prisma.task.findUniqueOrThrow({ where: { id: taskId } });
        const row = await sandboxRow(sandboxId);
        const provider = providerFor(row.providerId);
        const agent = await withKeepAliveHeartbeat(() => provider.ensureAgent(toHandle(row), deps.progress('init_ensure_agent')));
        await prisma.sandbox.update({
          where: { id: sandboxId },
          data: { agentEndpoint: agent.endpoint, details: { ...(row.details as object), ...agent.details } as Prisma.InputJsonValue },
        });
        deps.logger.info({ taskId, sandboxId, endpoint: agent.endpoint, agent: task.agentType }, 'sandbox-agent ready');
        return { endpoint: agent.endpoint };
      });
    },

    async createSession({ taskId, sandboxId }) {
      return asActivityErrors(async () => {
        const task = await prisma.task.findUniqueOrThrow({ where: { id: taskId } });
        const row = await sandboxRow(sandboxId);
        const provider = providerFor(row.providerId);
        const session = await withKeepAliveHeartbeat(() => provider.createSession(toHandle(row), { agent: task.agentType, sessionKey: INITIAL_SESSION_KEY }, deps.progress('init_create_session')));
        await prisma.sandbox.update({
          where: { id: sandboxId },
          data: { details: { ...(row.details as object), ...session.details } as Prisma.InputJsonValue },
        });
        return { sessionId: session.sessionId, agent: session.agent };
      });
    },
  };
}

/** Runs `fn`, turning domain and provider errors into Temporal failures with a stable type. */
async function asActivityErrors<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof BranchTakenError) throw ApplicationFailure.nonRetryable(err.message, 'BranchTaken');
    if (err instanceof ProviderError) {
      throw ApplicationFailure.create({ message: err.message, type: err.type, nonRetryable: !err.retryable, cause: err });
    }
    throw err;
  }
}
