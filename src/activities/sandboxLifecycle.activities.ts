/**
 * Activities of the `sandboxLifecycle` workflow (src/workflows/sandboxLifecycle.ts), and the two that
 * link provisioning and tabs to it. Every state change writes the sandbox row, the task's
 * `sandboxState` and a `sandbox.state` event in one transaction (src/db/sandboxes.ts); each change is
 * taken only from the state it expects, under the row's lock, so a retried activity, a turn that
 * starts at the same moment, or a second worker cannot make it twice.
 */
import { Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import type { Prisma, PrismaClient } from '../generated/prisma/client';
import { changeSandboxState } from '../db/sandboxes';
import type { TaskEventNotifier } from '../db/notifier';
import type { SandboxState, SandboxStateReason } from '../domain/sandboxLifecycle';
import type { EgressIssuer } from '../egress/sandboxEgress';
import type { Logger } from '../logger';
import type { ProviderRegistry } from '../providers/types';
import { SESSION_ACTIVITY_OPTIONS } from '../workflows/policies';
import type { SandboxLifecycleActivities, SandboxLifecycleInput } from '../workflows/sandboxLifecycle.contract';
import { signalSandboxLifecycle, startSandboxLifecycle, type SandboxLifecycleStart } from '../temporal/client';
import { asActivityErrors } from './errors';
import { withKeepAliveHeartbeat } from './progress';
import { withProvider, type LoadedSandbox } from './sandboxAccess';

export interface LifecycleActivityDeps {
  prisma: PrismaClient;
  providers: ProviderRegistry;
  notifier: TaskEventNotifier;
  temporal: Client;
  logger: Logger;
  /** This sandbox host's id: stop and resume refuse a sandbox it does not hold (./sandboxAccess.ts). */
  hostId: string;
  /** Idle stop after this long without a turn, in ms; 0 = never (SANDBOX_IDLE_STOP_MINUTES). */
  idleStopMs: number;
  /** Issues a woken agent's egress token (src/egress/sandboxEgress.ts); without it agents start with no model access. */
  egress?: EgressIssuer;
}

/** A turn whose tab says `running` for longer than the prompt activity may run has ended without saying so (a worker died). */
const TURN_LIMIT_MS = SESSION_ACTIVITY_OPTIONS.prompt.startToCloseTimeout;

export function createSandboxLifecycleActivities(deps: LifecycleActivityDeps): SandboxLifecycleActivities {
  const { prisma, notifier } = deps;

  /** One state change (see changeSandboxState); @returns whether it was made. */
  const change = async (sandboxId: string, from: readonly SandboxState[], to: SandboxState, reason: SandboxStateReason): Promise<boolean> =>
    (await prisma.$transaction((tx) => changeSandboxState(tx, notifier, { sandboxId, from, to, reason }))) !== null;

  const heartbeat = async (subStep: string, message: string) => {
    Context.current().heartbeat({ subStep, message });
  };

  /** Ends what runs in a `stopping` sandbox and records it `stopped`. */
  const finishStop = async ({ provider, handle }: Pick<LoadedSandbox, 'provider' | 'handle'>, reason: SandboxStateReason) => {
    await withKeepAliveHeartbeat(() => provider.stopSandbox(handle));
    await change(handle.sandboxKey, ['stopping'], 'stopped', reason);
  };

  /** The sandbox with its provider and handle, or null when its row is gone or destroyed. */
  const loadLive = async (sandboxId: string): Promise<LoadedSandbox | null> => {
    const row = await prisma.sandbox.findUnique({ where: { id: sandboxId } });
    return row && row.state !== 'destroyed' ? withProvider(deps.providers, row, deps.hostId) : null;
  };

  /** Where and how the lifecycle run of `sandboxId` is started: this queue, the idle setting, the task's workspace. */
  const lifecycleStart = async (taskId: string, sandboxId: string): Promise<SandboxLifecycleStart> => {
    const task = await prisma.task.findUniqueOrThrow({ where: { id: taskId }, select: { workspaceId: true } });
    const input: SandboxLifecycleInput = { taskId, sandboxId, idleStopMs: deps.idleStopMs };
    return { taskQueue: Context.current().info.taskQueue, input, workspaceId: task.workspaceId };
  };

  return {
    async stopSandbox({ sandboxId, reason, ifIdleForMs, ifAgentExited }) {
      return asActivityErrors(async () => {
        const sandbox = await loadLive(sandboxId);
        if (!sandbox) return { outcome: 'gone' as const };
        const { row, provider, handle } = sandbox;
        if (row.state !== 'stopping') {
          if (ifAgentExited) {
            if (row.state !== 'ready') return { outcome: 'unchanged' as const, state: row.state };
            if ((await provider.agentStatus(handle)).agent === 'running') return { outcome: 'unchanged' as const, state: row.state };
          }
          // A user's stop also ends a resume that failed half-way; the idle and agent checks only take `ready`.
          const from: SandboxState[] = ifIdleForMs !== undefined || ifAgentExited ? ['ready'] : ['ready', 'resuming'];
          const claim = await prisma.$transaction(async (tx): Promise<{ busy: number } | { claimed: boolean }> => {
            if (ifIdleForMs !== undefined) {
              const dueInMs = await idleDueIn(tx, sandboxId, ifIdleForMs);
              if (dueInMs > 0) return { busy: dueInMs };
            }
            return { claimed: (await changeSandboxState(tx, notifier, { sandboxId, from, to: 'stopping', reason })) !== null };
          });
          if ('busy' in claim) return { outcome: 'busy' as const, dueInMs: claim.busy };
          if (!claim.claimed) {
            const now = await prisma.sandbox.findUnique({ where: { id: sandboxId }, select: { state: true } });
            return now && now.state !== 'destroyed' ? { outcome: 'unchanged' as const, state: now.state } : { outcome: 'gone' as const };
          }
        }
        await finishStop(sandbox, reason);
        deps.logger.info({ sandboxId, reason }, 'sandbox stopped');
        return { outcome: 'stopped' as const };
      });
    },

    async resumeSandbox({ sandboxId, reason }) {
      return asActivityErrors(async () => {
        const sandbox = await loadLive(sandboxId);
        if (!sandbox) return { outcome: 'gone' as const };
        const { row, provider, handle } = sandbox;
        if (row.state === 'lost') return { outcome: 'lost' as const };
        let state = row.state;
        if (state === 'ready') {
          if ((await provider.agentStatus(handle)).agent === 'running') return { outcome: 'ready' as const };
          // Its agent is gone (crashed, killed, the machine restarted): recorded as a stop first.
          if (await change(sandboxId, ['ready'], 'stopping', 'agent_exited')) state = 'stopping';
        }
        if (state === 'stopping') {
          await finishStop(sandbox, 'agent_exited');
          state = 'stopped';
        }
        if (state !== 'resuming' && !(await change(sandboxId, ['stopped'], 'resuming', reason))) {
          const now = await prisma.sandbox.findUnique({ where: { id: sandboxId }, select: { state: true } });
          if (now?.state === 'ready') return { outcome: 'ready' as const };
          throw new Error(`the sandbox is ${now?.state ?? 'gone'}, not stopped`);
        }
        const resumed = await provider.resumeSandbox(handle.sandboxKey);
        if (!resumed) {
          await change(sandboxId, ['resuming'], 'lost', 'files_gone');
          return { outcome: 'lost' as const };
        }
        const { workspaceId } = await prisma.task.findUniqueOrThrow({ where: { id: row.taskId }, select: { workspaceId: true } });
        const egress = deps.egress?.({ sandboxId, workspaceId });
        const agent = await withKeepAliveHeartbeat(() => provider.ensureAgent(resumed, heartbeat, { egress }));
        await prisma.sandbox.update({
          where: { id: sandboxId },
          data: { agentEndpoint: agent.endpoint, details: { ...(row.details as object), ...agent.details } as Prisma.InputJsonValue, lastActiveAt: new Date() },
        });
        if (!(await change(sandboxId, ['resuming'], 'ready', reason))) {
          // Killed or archived while the agent started (its row is `destroyed`): what this made goes too,
          // so no agent outlives the kill.
          const now = await prisma.sandbox.findUnique({ where: { id: sandboxId }, select: { state: true } });
          if (!now || now.state === 'destroyed') {
            await provider.destroySandbox(resumed);
            return { outcome: 'gone' as const };
          }
          throw new Error(`the sandbox is ${now.state}, not resuming`);
        }
        deps.logger.info({ sandboxId, reason }, 'sandbox resumed');
        return { outcome: 'ready' as const };
      });
    },

    async startSandboxLifecycle({ taskId, sandboxId }) {
      await startSandboxLifecycle(deps.temporal, await lifecycleStart(taskId, sandboxId));
    },

    async requestSandboxResume({ taskId, sandboxId, requester }) {
      await signalSandboxLifecycle(deps.temporal, await lifecycleStart(taskId, sandboxId), { kind: 'resume', reason: 'use', requester });
    },
  };
}

/**
 * How long until sandbox `sandboxId` has had no turn for `idleMs` (ms; 0 or less = idle now). Takes
 * the sandbox row's lock, so a turn cannot start until the caller's transaction ends.
 */
async function idleDueIn(tx: Prisma.TransactionClient, sandboxId: string, idleMs: number): Promise<number> {
  const [row] = await tx.$queryRaw<Array<{ last_active_at: Date; turn_since: Date | null }>>`
    SELECT s.last_active_at,
           (SELECT max(w.thinking_since) FROM workbench_sessions w WHERE w.sandbox_id = s.id AND w.status = 'running' AND NOT w.closed) AS turn_since
      FROM sandboxes s WHERE s.id = ${sandboxId}::uuid FOR UPDATE`;
  if (!row) return 0;
  const now = Date.now();
  if (row.turn_since && now - row.turn_since.getTime() < TURN_LIMIT_MS) return idleMs; // a turn runs now
  return row.last_active_at.getTime() + idleMs - now;
}
