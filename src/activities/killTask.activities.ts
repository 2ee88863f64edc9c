/**
 * Activities of the `killTask` workflow, built from their dependencies.
 */
import { CancelledFailure, Context } from '@temporalio/activity';
import { WorkflowNotFoundError, type Client, type WorkflowHandle } from '@temporalio/client';
import type { PrismaClient, Sandbox } from '../generated/prisma/client';
import { updateSession } from '../db/sessions';
import { appendTaskEvent } from '../db/taskEvents';
import type { Logger } from '../logger';
import { handleOfStored, type ProviderRegistry } from '../providers/types';
import type { TaskEventNotifier } from '../db/notifier';
import type { KillActivities } from '../workflows/killTask.contract';
import { closeSessionSignal } from '../workflows/workbenchSession.contract';
import { sandboxDestroyedSignal, sandboxLifecycleWorkflowId } from '../workflows/sandboxLifecycle.contract';
import { signalUnlessEnded } from '../temporal/client';
import { withKeepAliveHeartbeat } from './progress';
import { assertOnThisHost, providerFor } from './sandboxAccess';

export interface KillActivityDeps {
  prisma: PrismaClient;
  providers: ProviderRegistry;
  notifier: TaskEventNotifier;
  temporal: Client;
  logger: Logger;
  /** This sandbox host's id: `destroySandbox` refuses a sandbox it does not hold (./sandboxAccess.ts). */
  hostId: string;
}

export function createKillActivities(deps: KillActivityDeps): KillActivities {
  const { prisma, notifier } = deps;

  /**
   * Records sandbox `sandboxId` of task `taskId` destroyed, first of all: a provisioning activity still
   * in flight sees it when its provider call returns and destroys what it made
   * (src/activities/provisionTask.activities.ts), so nothing outlives the kill.
   */
  const markDestroyed = async (taskId: string, sandboxId: string) => {
    await prisma.sandbox.update({ where: { id: sandboxId }, data: { state: 'destroyed', agentEndpoint: null } });
    await prisma.task.updateMany({ where: { id: taskId, activeSandboxId: sandboxId }, data: { sandboxState: 'destroyed' } });
  };
  /** Ends the sandbox's lifecycle run (idle timer, resumes). */
  const endLifecycle = (sandboxId: string) => signalUnlessEnded(deps.temporal, sandboxLifecycleWorkflowId(sandboxId), (h) => h.signal(sandboxDestroyedSignal));
  /** Stops and removes what the provider holds of `row` (made or half-made). */
  const removeSandbox = async (row: Sandbox) => {
    const provider = providerFor(deps.providers, row.providerId);
    const handle = handleOfStored(row) ?? (await provider.resumeSandbox(row.id));
    if (handle) await provider.destroySandbox(handle);
  };

  /**
   * Waits, heartbeating, until the run of `handle` has ended. A worker shutting down cancels the wait
   * (that run may need this very worker to end): it throws CancelledFailure and the kill is retried.
   */
  const untilRunEnds = (handle: WorkflowHandle) => withKeepAliveHeartbeat(() => Promise.race([handle.result(), Context.current().cancelled]));

  return {
    async cancelProvisioning({ taskId }) {
      const task = await prisma.task.findUniqueOrThrow({ where: { id: taskId } });
      const handle = deps.temporal.workflow.getHandle(task.workflowId);
      try {
        const { status } = await handle.describe();
        if (status.name !== 'RUNNING') return { wasRunning: false };
        await handle.cancel();
        // Closes as cancelled once in-flight activities are done.
        await untilRunEnds(handle).catch((err: unknown) => {
          if (err instanceof CancelledFailure) throw err;
        });
        return { wasRunning: true };
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) return { wasRunning: false };
        throw err;
      }
    },

    async closeTaskSessions({ taskId }) {
      const open = await prisma.workbenchSession.findMany({ where: { taskId, closed: false } });
      for (const s of open) {
        await prisma.$transaction((tx) =>
          updateSession(tx, notifier, { sessionId: s.id, type: 'session.closed', patch: { closed: true, closedAt: new Date() }, dedupeKey: `session:${s.id}:closed` }),
        );
        try {
          // The run ends its agent session once a turn in progress is over (up to the prompt
          // activity's limit): heartbeat meanwhile, well inside this activity's heartbeat timeout.
          // `result()` follows the tab's runs across continue-as-new to the last one.
          const run = deps.temporal.workflow.getHandle(s.workflowId);
          await run.signal(closeSessionSignal);
          await untilRunEnds(run);
        } catch (err) {
          if (err instanceof CancelledFailure) throw err; // this worker is shutting down: the kill is retried
          if (!(err instanceof WorkflowNotFoundError)) deps.logger.warn({ err, sessionId: s.id }, 'tab run did not close cleanly');
        }
      }
      return { closed: open.length };
    },

    async destroyTaskSandboxes({ taskId }) {
      const rows = await prisma.sandbox.findMany({ where: { taskId, state: { not: 'destroyed' } } });
      for (const row of rows) {
        await markDestroyed(taskId, row.id);
        await removeSandbox(row);
        await endLifecycle(row.id);
      }
      return { destroyed: rows.length };
    },

    async markSandboxesDestroyed({ taskId }) {
      const rows = await prisma.sandbox.findMany({ where: { taskId, state: { not: 'destroyed' } }, include: { host: { select: { taskQueue: true, lostAt: true } } } });
      for (const row of rows) {
        await markDestroyed(taskId, row.id);
        await endLifecycle(row.id);
      }
      // A lost host's sandboxes cannot be reached; if it comes back, it removes them itself (src/recovery/sandboxAgents.ts).
      return { sandboxes: rows.map((r) => ({ sandboxId: r.id, taskQueue: r.host && !r.host.lostAt && r.state !== 'lost' ? r.host.taskQueue : null })) };
    },

    async destroySandbox({ sandboxId }) {
      const row = await prisma.sandbox.findUniqueOrThrow({ where: { id: sandboxId } });
      assertOnThisHost(row, deps.hostId);
      await withKeepAliveHeartbeat(() => removeSandbox(row));
    },

    async markKilled({ taskId, dedupeKey, summary, outcome = 'killed' }) {
      await prisma.$transaction(async (tx) => {
        // The row lock orders this against a concurrent kill or archive: an archive wins over a kill
        // that ends after it (a task once archived stays archived), an archive of a killed task flips it.
        const [row] = await tx.$queryRaw<Array<{ status: string }>>`SELECT status::text AS status FROM tasks WHERE id = ${taskId}::uuid FOR UPDATE`;
        if (outcome === 'killed' && row?.status === 'archived') return;
        const type = outcome === 'archived' ? 'task.archive' : 'task.kill';
        await appendTaskEvent(tx, notifier, { taskId, type, payload: summary, dedupeKey, patch: { status: outcome, statusMessage: outcome } });
      });
    },
  };
}
