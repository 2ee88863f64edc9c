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
import type { Prisma, PrismaClient } from '../generated/prisma/client';
import { appendTaskEvent } from '../db/taskEvents';
import { deriveBranchName, deriveTitle, pickBranchName } from '../domain/naming';
import { RELEASED_STATUSES, isProvisionStep, isReleased } from '../domain/status';
import { lastLinesOfStep } from '../db/taskLogs';
import type { EgressIssuer } from '../egress/sandboxEgress';
import type { Logger } from '../logger';
import { INITIAL_SESSION_KEY, type ProviderRegistry, type SandboxHandle, type SandboxProvider } from '../providers/types';
import type { TaskEventNotifier } from '../db/notifier';
import type { ProvisionActivities, TransitionInput } from '../workflows/provisionTask.contract';
import type { StepProgressReport, StepTiming } from '../domain/records';
import { wasClaimed } from '../pools/claim';
import type { ProvisioningMetrics, StepOutcome } from '../observability/metrics';
import { asActivityErrors } from './errors';
import { reportingStep, withKeepAliveHeartbeat, type StepProgressReporter } from './progress';
import { assertOnThisHost, loadSandbox, providerFor } from './sandboxAccess';

export interface ActivityDeps {
  prisma: PrismaClient;
  providers: ProviderRegistry;
  notifier: TaskEventNotifier;
  progress: StepProgressReporter;
  logger: Logger;
  /** This sandbox host's id: the step activities on a sandbox refuse one it does not hold (./sandboxAccess.ts). */
  hostId: string;
  /** Issues an agent's egress token (src/egress/sandboxEgress.ts); without it agents start with no model access. */
  egress?: EgressIssuer;
  /** Step durations, retries and time to `running`, observed once per transition written (src/observability/metrics.ts). */
  metrics?: ProvisioningMetrics;
}

export function createProvisionActivities(deps: ActivityDeps): Omit<ProvisionActivities, 'handOverProvisioning'> {
  const { prisma, notifier } = deps;

  const providerOf = (providerId: string) => providerFor(deps.providers, providerId);

  /**
   * After a provider call: if the task was killed meanwhile (its sandbox row marked destroyed), destroy
   * what the call made and stop, so nothing outlives a kill that ran while the call was in flight.
   */
  const unlessKilled = async (sandboxId: string, provider: SandboxProvider, handle: SandboxHandle) => {
    const row = await prisma.sandbox.findUnique({ where: { id: sandboxId }, select: { state: true } });
    if (row?.state !== 'destroyed') return;
    await provider.destroySandbox(handle);
    throw ApplicationFailure.nonRetryable('the task was killed while this step ran; what it made is removed', 'TaskKilled');
  };

  /**
   * A task killed (or archived) before its run started (the run is started after createTask answers,
   * so a kill can come first) must not get a sandbox: the first steps refuse, for good.
   */
  const refuseIfKilled = (task: { status: string }) => {
    if (isReleased(task.status)) {
      throw ApplicationFailure.nonRetryable(`the task was ${task.status} before this step ran; nothing was made`, 'TaskKilled');
    }
  };

  /** Writes transitions in one transaction; once committed, the ones this call wrote count in the metrics. */
  const record = async (transitions: TransitionInput[]): Promise<{ seq: number }> => {
    const { seq, written, taskCreatedAt } = await prisma.$transaction((tx) => writeTransitions(tx, notifier, transitions));
    if (deps.metrics) observeTransitions(deps.metrics, written, taskCreatedAt);
    return { seq };
  };

  return {
    async recordTransition(input) {
      return record([input]);
    },

    async recordTransitions({ transitions }) {
      return record(transitions);
    },

    async ensureName({ taskId, started }) {
      return asActivityErrors(async () => {
        if (started?.length) await record(started);
        const task = await prisma.task.findUniqueOrThrow({ where: { id: taskId } });
        refuseIfKilled(task);
        if (task.title && task.branchName) return { title: task.title, branchName: task.branchName };
        const remote = await reportingStep(deps.progress, 'init_ensure_name', taskId, async (report) => {
          await report('reading_branches', `reading branches of ${task.repository}`);
          return withKeepAliveHeartbeat(() => providerOf(task.providerId).listBranches(task.repository, report));
        });
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

    async createSandbox({ taskId, sandboxId }) {
      return asActivityErrors(async () => {
        const task = await prisma.task.findUniqueOrThrow({ where: { id: taskId } });
        refuseIfKilled(task);
        const { branchName } = task;
        if (!branchName) throw ApplicationFailure.nonRetryable('task has no branch yet', 'SandboxBroken');
        const provider = providerOf(task.providerId);
        return reportingStep(deps.progress, 'init_create_sandbox', taskId, async (report) => {
          // The row is written before the provider acts (by placement, src/hosts/placement.ts), so whatever
          // the provider makes is findable by its key.
          await report('starting', sandboxId ? `preparing the sandbox on host ${deps.hostId}` : 'looking for an existing sandbox');
          let row;
          if (sandboxId) {
            row = await prisma.sandbox.findUniqueOrThrow({ where: { id: sandboxId } });
            assertOnThisHost(row, deps.hostId);
          } else {
            // A run started before placement existed: its sandbox goes to the host that runs this.
            const existing = await prisma.sandbox.findFirst({
              where: { taskId, providerId: provider.id, state: { notIn: ['destroyed', 'lost'] } },
              orderBy: { createdAt: 'desc' },
            });
            row = existing ?? (await prisma.sandbox.create({ data: { id: randomUUID(), taskId, providerId: provider.id, state: 'creating', hostId: deps.hostId } }));
            await prisma.task.update({ where: { id: taskId }, data: { sandboxState: row.state } });
          }
          // A warm pool member claimed by placement (src/pools/claim.ts) has its clone and agent: its branch is fetched and checked out inside it.
          const claimed = wasClaimed(row.details);
          const handle = await withKeepAliveHeartbeat(() => provider.createSandbox({ sandboxKey: row.id, repository: task.repository, branchName, claimed }, report));
          await unlessKilled(row.id, provider, handle);
          await prisma.sandbox.update({
            where: { id: row.id },
            // `ready` only once its agent runs (ensureAgent): reconcile checks the agent of every ready sandbox.
            data: {
              providerSandboxId: handle.providerSandboxId,
              directory: handle.directory,
              details: { ...(claimed ? (row.details as object) : {}), ...handle.details } as Prisma.InputJsonValue,
            },
          });
          return { sandboxId: row.id, directory: handle.directory, provider: provider.id };
        });
      });
    },

    async ensureAgent({ taskId, sandboxId }) {
      return asActivityErrors(async () => {
        const task = await prisma.task.findUniqueOrThrow({ where: { id: taskId } });
        const { row, provider, handle } = await loadSandbox(prisma, deps.providers, sandboxId, deps.hostId);
        const egress = deps.egress?.({ sandboxId, workspaceId: task.workspaceId });
        const agent = await reportingStep(deps.progress, 'init_ensure_agent', taskId, (report) => withKeepAliveHeartbeat(() => provider.ensureAgent(handle, report, { egress })));
        await unlessKilled(sandboxId, provider, handle);
        await prisma.sandbox.update({
          where: { id: sandboxId },
          data: { agentEndpoint: agent.endpoint, state: 'ready', lastActiveAt: new Date(), details: { ...(row.details as object), ...agent.details } as Prisma.InputJsonValue },
        });
        await prisma.task.update({ where: { id: taskId }, data: { sandboxState: 'ready' } });
        deps.logger.info({ taskId, sandboxId, endpoint: agent.endpoint, agent: task.agentType }, 'sandbox-agent ready');
        return { endpoint: agent.endpoint };
      });
    },

    async createSession({ taskId, sandboxId }) {
      return asActivityErrors(async () => {
        const task = await prisma.task.findUniqueOrThrow({ where: { id: taskId } });
        const { row, provider, handle } = await loadSandbox(prisma, deps.providers, sandboxId, deps.hostId);
        const session = await reportingStep(deps.progress, 'init_create_session', taskId, (report) =>
          withKeepAliveHeartbeat(() => provider.createSession(handle, { agent: task.agentType, sessionKey: INITIAL_SESSION_KEY }, report)),
        );
        await unlessKilled(sandboxId, provider, handle);
        await prisma.sandbox.update({
          where: { id: sandboxId },
          data: { details: { ...(row.details as object), ...session.details } as Prisma.InputJsonValue },
        });
        return { sessionId: session.sessionId, agent: session.agent };
      });
    },
  };
}

/**
 * Writes `transitions` in order inside `tx`: each one's task columns and history event (deduplicated
 * by its key), notified after commit. A killed (or archived) task stays so: a transition of its
 * cancelled run that lands late, or of a run started after the kill, is dropped. A step's attempt in
 * the timings is the running step's latest report's when that is higher (lean runs learn attempts
 * from the reports, not from signals).
 * @returns the sequence number of the task's newest event, the transitions this call wrote (a repeated
 *   one is not) with the timings as written, and when the task was created.
 */
async function writeTransitions(
  tx: Prisma.TransactionClient,
  notifier: TaskEventNotifier,
  transitions: TransitionInput[],
): Promise<{ seq: number; written: TransitionInput[]; taskCreatedAt: Date }> {
  const taskId = transitions[0]?.taskId;
  if (!taskId) throw ApplicationFailure.nonRetryable('no transition to write', 'InvalidInput');
  const current = await tx.task.findUniqueOrThrow({ where: { id: taskId }, select: { status: true, lastEventSeq: true, stepProgress: true, createdAt: true } });
  const written: TransitionInput[] = [];
  if (isReleased(current.status)) return { seq: current.lastEventSeq, written, taskCreatedAt: current.createdAt };
  const report = current.stepProgress as StepProgressReport | null;
  let seq = current.lastEventSeq;
  for (const t of transitions) {
    const stepTimings = withReportedAttempt(t.stepTimings, report);
    const appended = await appendTaskEvent(tx, notifier, {
      taskId,
      ...(await withLogTail(tx, taskId, t.event)),
      patch: { status: t.status, statusMessage: t.statusMessage, stepTimings: stepTimings as unknown as Prisma.InputJsonValue, ...t.fields },
    });
    seq = appended.seq;
    if (appended.created) written.push({ ...t, stepTimings });
  }
  return { seq, written, taskCreatedAt: current.createdAt };
}

/** Lines of a failed step's log a `task.error` event carries. */
const ERROR_LOG_TAIL_LINES = 20;

/** `event`, with the failed step's last log lines when it is a `task.error` of a provisioning step that wrote any. */
async function withLogTail(tx: Prisma.TransactionClient, taskId: string, event: TransitionInput['event']): Promise<TransitionInput['event']> {
  if (event.type !== 'task.error' || !isProvisionStep(event.payload.step)) return event;
  const tail = await lastLinesOfStep(tx, taskId, event.payload.step, ERROR_LOG_TAIL_LINES);
  return tail.length ? { ...event, payload: { ...event.payload, logTail: tail.map((l) => l.line) } } : event;
}

/**
 * Counts written transitions in the metrics: a step's end with its duration and attempts from the run's
 * timings (a step completes with `task.step` completed, except naming with `task.named` and the agent
 * session with `task.initialized`; it fails with `task.error`), and `task.initialized` as the task's
 * time to `running`.
 */
function observeTransitions(metrics: ProvisioningMetrics, written: TransitionInput[], taskCreatedAt: Date): void {
  for (const { event, stepTimings } of written) {
    const ended = stepEndOf(event);
    const timing = ended ? stepTimings[ended.step] : undefined;
    if (ended && timing) {
      const endedAt = timing.endedAt ? Date.parse(timing.endedAt) : Date.now();
      metrics.stepEnded(ended.step, ended.outcome, Math.max(0, endedAt - Date.parse(timing.startedAt)) / 1000, timing.attempt);
    }
    if (event.type === 'task.initialized') metrics.taskRunning((Date.now() - taskCreatedAt.getTime()) / 1000);
  }
}

/** The provisioning step an event ends, and how; null for an event that ends none. */
function stepEndOf(event: TransitionInput['event']): { step: string; outcome: StepOutcome } | null {
  switch (event.type) {
    case 'task.step':
      return event.payload.status === 'completed' ? { step: event.payload.step, outcome: 'completed' } : null;
    case 'task.named':
      return { step: 'init_ensure_name', outcome: 'completed' };
    case 'task.initialized':
      return { step: 'init_create_session', outcome: 'completed' };
    case 'task.error':
      return { step: event.payload.step, outcome: 'failed' };
    default:
      return null;
  }
}

/** `timings` with the reported step's attempt raised to the report's (a report of an earlier run is older than the step's start). */
function withReportedAttempt(timings: Record<string, StepTiming>, report: StepProgressReport | null): Record<string, StepTiming> {
  const timing = report ? timings[report.step] : undefined;
  if (!report || !timing || report.attempt <= timing.attempt || report.at < timing.startedAt) return timings;
  return { ...timings, [report.step]: { ...timing, attempt: report.attempt } };
}
