/**
 * Activities of the `workbenchSession` workflow (one per tab), built from their dependencies.
 * They own the tab's I/O: Postgres (tab row, transcript, history events), the sandbox provider, and
 * signals to other tabs' runs.
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import type { PrismaClient } from '../generated/prisma/client';
import { appendTranscriptEntry, readySandboxOf, updateSession } from '../db/sessions';
import { isProvisioningOver } from '../domain/status';
import type { Logger } from '../logger';
import { ProviderError, type ProviderRegistry, type SandboxHandle, type SandboxProvider } from '../providers/types';
import type { Sandbox } from '../generated/prisma/client';
import type { TaskEventNotifier } from '../db/notifier';
import {
  AGENT_STOPPED,
  SESSION_LOST,
  WORKBENCH_SESSION_WORKFLOW_TYPE,
  provisioningFailedSignal,
  sandboxReadySignal,
  workbenchWorkflowId,
  type WorkbenchActivities,
  type WorkbenchSessionInput,
} from '../workflows/workbenchSession.contract';
import type { workbenchSession } from '../workflows/workbenchSession';
import { asActivityErrors } from './errors';
import { describeModelFailure, turnShouldEnd, type RecentModelFailures } from '../egress/failures';
import { withKeepAliveHeartbeat } from './progress';
import { loadSandbox } from './sandboxAccess';

export interface SessionActivityDeps {
  prisma: PrismaClient;
  providers: ProviderRegistry;
  notifier: TaskEventNotifier;
  temporal: Client;
  logger: Logger;
  /** This sandbox host's id: a tab's sandbox activities refuse a sandbox it does not hold (./sandboxAccess.ts). */
  hostId: string;
  /** The egress proxy's recent model failures (src/egress/failures.ts): a turn they break ends with one sentence saying why. */
  modelFailures?: RecentModelFailures;
}

/**
 * How long a turn goes on after its model requests started failing (unreachable, rate-limited, timing
 * out) while the agent retries on its own; a missing or refused key ends it at once.
 */
export const MODEL_FAILURE_GRACE_MS = 20_000;
const MODEL_FAILURE_POLL_MS = 500;

/** Longest agent turn, in ms (the prompt activity's own limit is a little longer). */
const TURN_TIMEOUT_MS = 14 * 60_000;

/**
 * The transcript entry a tab gets when its agent session had to be opened again
 * (docs/PRODUCT.md#sandbox-lifecycle): the agent loaded the conversation (ACP `session/load`), or it
 * could not and a new session was opened.
 */
export const SESSION_RESUMED_TEXT = 'Session resumed: the agent was started again and loaded this conversation.';
export const SESSION_RESTARTED_TEXT = 'Session restarted: the agent was started again and does not remember the conversation above (the transcript is kept).';

/**
 * Refuses (non-retryable {@link AGENT_STOPPED}) when the sandbox is not `ready` or its agent does not
 * run; with `sessionKey`, also ({@link SESSION_LOST}) when that session is not open in the agent.
 */
async function assertAgentUsable(row: Sandbox, provider: SandboxProvider, handle: SandboxHandle, sessionKey?: string): Promise<void> {
  if (row.state !== 'ready') throw ApplicationFailure.nonRetryable(`the sandbox is ${row.state}`, AGENT_STOPPED);
  const status = await provider.agentStatus(handle, sessionKey);
  if (status.agent === 'stopped') throw ApplicationFailure.nonRetryable('the sandbox-agent does not run', AGENT_STOPPED);
  if (status.session === 'gone') throw ApplicationFailure.nonRetryable('the agent session is gone (its agent was started again)', SESSION_LOST);
}

export function createWorkbenchActivities(deps: SessionActivityDeps): WorkbenchActivities {
  const { prisma, notifier } = deps;

  const sessionWithSandbox = async (sessionId: string) => {
    const session = await prisma.workbenchSession.findUniqueOrThrow({ where: { id: sessionId } });
    if (!session.sandboxId) throw new Error(`tab ${sessionId} has no sandbox yet`);
    return { session, ...(await loadSandbox(prisma, deps.providers, session.sandboxId, deps.hostId)) };
  };

  return {
    async resolveSessionSandbox({ taskId }) {
      const task = await prisma.task.findUniqueOrThrow({ where: { id: taskId } });
      if (isProvisioningOver(task.status)) {
        return { kind: 'failed', message: task.statusMessage };
      }
      const sandboxId = readySandboxOf(task);
      return sandboxId ? { kind: 'ready', sandboxId } : { kind: 'pending' };
    },

    async recordSessionTransition(input) {
      await prisma.$transaction((tx) =>
        updateSession(tx, notifier, {
          sessionId: input.sessionId,
          type: 'session.updated',
          dedupeKey: input.dedupeKey,
          patch: {
            status: input.status,
            ...(input.errorMessage !== undefined ? { errorMessage: input.errorMessage } : {}),
            ...(input.sandboxId ? { sandboxId: input.sandboxId } : {}),
            ...(input.sandboxSessionId ? { sandboxSessionId: input.sandboxSessionId } : {}),
          },
        }),
      );
    },

    async openAgentSession({ sessionId, sandboxId, restarted }) {
      return asActivityErrors(async () => {
        const session = await prisma.workbenchSession.findUniqueOrThrow({ where: { id: sessionId } });
        const { row, provider, handle } = await loadSandbox(prisma, deps.providers, sandboxId, deps.hostId);
        await assertAgentUsable(row, provider, handle);
        const opened = await withKeepAliveHeartbeat(() =>
          provider.createSession(handle, { agent: session.agent, sessionKey: session.sessionKey, model: session.model ?? undefined }, async (subStep, message) => {
            Context.current().heartbeat({ subStep, message });
          }),
        );
        if (restarted) {
          const text = opened.loaded ? SESSION_RESUMED_TEXT : SESSION_RESTARTED_TEXT;
          await prisma.$transaction(async (tx) => {
            // Once, also when this activity is retried after writing it.
            const last = await tx.transcriptEntry.findFirst({ where: { sessionId }, orderBy: { index: 'desc' }, select: { role: true, text: true } });
            if (last?.role !== 'system' || last.text !== text) await appendTranscriptEntry(tx, notifier, { sessionId, role: 'system', text });
          });
        }
        return { sandboxSessionId: opened.sessionId };
      });
    },

    async undeliveredMessages({ sessionId }) {
      const rows = await prisma.transcriptEntry.findMany({ where: { sessionId, role: 'user', delivery: 'pending' }, orderBy: { index: 'asc' }, select: { index: true } });
      return rows.map((r) => r.index);
    },

    async promptAgent({ sessionId, entryIndex }) {
      return asActivityErrors(async () => {
        const { session, row, provider, handle } = await sessionWithSandbox(sessionId);
        const entry = await prisma.transcriptEntry.findUniqueOrThrow({ where: { sessionId_index: { sessionId, index: entryIndex } } });
        if (entry.delivery !== 'pending' || session.closed) return { stopReason: null };
        // Before the claim: a sandbox asleep, or a session gone, leaves the message pending for the tab to send once it is back.
        await assertAgentUsable(row, provider, handle, session.sessionKey);
        // Claim the message (only a `pending` message is sent, and only once) while the sandbox is
        // `ready`, and restart its idle clock: the sandbox row's lock orders this against an idle stop.
        const claimed = await prisma.$transaction(async (tx) => {
          const awake = await tx.$executeRaw`UPDATE sandboxes SET last_active_at = now() WHERE id = ${row.id}::uuid AND state = 'ready'`;
          if (awake === 0) return 'asleep' as const;
          return (await tx.transcriptEntry.updateMany({ where: { id: entry.id, delivery: 'pending' }, data: { delivery: 'sending' } })).count === 1
            ? ('claimed' as const)
            : ('taken' as const);
        });
        if (claimed === 'asleep') throw ApplicationFailure.nonRetryable('the sandbox went to sleep', AGENT_STOPPED);
        if (claimed === 'taken') return { stopReason: null };
        const turnKey = `turn:${sessionId}:${entryIndex}`;
        await prisma.$transaction((tx) =>
          updateSession(tx, notifier, { sessionId, type: 'session.updated', dedupeKey: `${turnKey}:start`, patch: { status: 'running', thinkingSince: new Date() } }),
        );
        // Chunks are written one after another, in arrival order.
        let writes = Promise.resolve();
        const onChunk = (text: string) => {
          Context.current().heartbeat();
          writes = writes.then(async () => {
            await prisma.$transaction((tx) => appendTranscriptEntry(tx, notifier, { sessionId, role: 'agent', text, replyTo: entryIndex }));
          });
        };
        // A turn its model API fails (as the egress proxy saw it) ends with one sentence saying why.
        const turnStartedAt = Date.now();
        const modelFailure = () => deps.modelFailures?.since(row.id, turnStartedAt) ?? null;
        const broken = new AbortController();
        const watch = deps.modelFailures
          ? setInterval(() => {
              if (turnShouldEnd(modelFailure(), turnStartedAt, Date.now(), MODEL_FAILURE_GRACE_MS)) broken.abort();
            }, MODEL_FAILURE_POLL_MS)
          : undefined;
        let stopReason = '';
        let turnError: unknown = null;
        try {
          ({ stopReason } = await provider.prompt(handle, session.sessionKey, entry.text, onChunk, TURN_TIMEOUT_MS, broken.signal));
        } catch (err) {
          turnError = err;
        }
        clearInterval(watch);
        await writes;
        await prisma.transcriptEntry.update({ where: { id: entry.id }, data: { delivery: 'sent' } });
        // A model failure with no successful answer since says why the turn ended (or, when the agent gave
        // up on its own and ended the turn, that it did not really complete).
        const failed = modelFailure();
        if (failed) throw new ProviderError('PromptFailed', describeModelFailure(failed), false, { cause: turnError ?? undefined });
        if (turnError) throw turnError;
        await prisma.$transaction(async (tx) => {
          await updateSession(tx, notifier, { sessionId, type: 'session.updated', dedupeKey: `${turnKey}:end`, patch: { status: 'ready', thinkingSince: null, unread: true } });
          await tx.sandbox.update({ where: { id: row.id }, data: { lastActiveAt: new Date() } });
        });
        return { stopReason };
      });
    },

    async endAgentSession({ sessionId }) {
      const session = await prisma.workbenchSession.findUniqueOrThrow({ where: { id: sessionId } });
      if (!session.sandboxId) return;
      const sandbox = await prisma.sandbox.findUnique({ where: { id: session.sandboxId } });
      if (!sandbox || sandbox.state === 'destroyed' || sandbox.state === 'lost') return;
      const { provider, handle } = await loadSandbox(prisma, deps.providers, session.sandboxId, deps.hostId);
      await provider.endSession(handle, session.sessionKey);
    },

    async releasePendingSessions({ taskId, outcome }) {
      const { taskQueue } = Context.current().info;
      // Tabs waiting for provisioning: pending, or in error because an earlier provisioning run failed.
      const waiting = await prisma.workbenchSession.findMany({
        where: { taskId, closed: false, sandboxId: null, status: { in: ['pending_provision', 'error'] } },
        select: { id: true },
      });
      for (const { id } of waiting) {
        const args: [WorkbenchSessionInput] = [{ taskId, sessionId: id }];
        const common = { workflowId: workbenchWorkflowId(id), taskQueue, args };
        // signalWithStart: the tab's run may not have been started yet by the request that created it.
        if (outcome.kind === 'ready') {
          await deps.temporal.workflow.signalWithStart<typeof workbenchSession, [{ sandboxId: string }]>(WORKBENCH_SESSION_WORKFLOW_TYPE, {
            ...common,
            signal: sandboxReadySignal,
            signalArgs: [{ sandboxId: outcome.sandboxId }],
          });
        } else {
          await deps.temporal.workflow.signalWithStart<typeof workbenchSession, [{ message: string }]>(WORKBENCH_SESSION_WORKFLOW_TYPE, {
            ...common,
            signal: provisioningFailedSignal,
            signalArgs: [{ message: outcome.message }],
          });
        }
      }
      return { signalled: waiting.length };
    },
  };
}
