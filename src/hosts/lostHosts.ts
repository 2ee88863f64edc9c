/**
 * The lost-host sweep (docs/DEPLOYMENT.md#a-host-that-goes-away). A sandbox host unseen for
 * SANDBOX_HOST_LOST_AFTER is recorded lost; each of its sandboxes then becomes `lost` (a
 * `sandbox.state` event, reason `host_lost`), its task goes to `error` saying so (a `task.error`
 * event; the user can retry it: a fresh sandbox from the task's branch on a live host), and its tabs
 * go to `error` without a sandbox, so the retry's provisioning hands them the new one.
 *
 * The runs that wait on the lost host's task queue (the task's provisioning run if it is still
 * running, the sandbox's lifecycle run, its tabs' runs) can never get their activity answered, so
 * they are terminated first, with the reason; a tab's run is started again when the retried task's
 * sandbox is ready (releasePendingSessions). Terminations are idempotent and come before the
 * database change, so a pass cut short is finished by the next one.
 *
 * Runs in every orchestration worker; two sweeps at once change each sandbox once (the state change
 * is taken under the row's lock, src/db/sandboxes.ts).
 */
import type { Client } from '@temporalio/client';
import { signalUnlessEnded } from '../temporal/client';
import type { PrismaClient } from '../generated/prisma/client';
import { changeSandboxState } from '../db/sandboxes';
import { updateSession } from '../db/sessions';
import { appendTaskEvent } from '../db/taskEvents';
import type { TaskEventNotifier } from '../db/notifier';
import { SANDBOX_STATES } from '../domain/sandboxLifecycle';
import { isProvisioningOver, type TaskStatus } from '../domain/status';
import type { Logger } from '../logger';
import { ROOMLESS_SANDBOX_STATES } from './registry';
import { sandboxLifecycleWorkflowId } from '../workflows/sandboxLifecycle.contract';

export interface LostHostSweepOptions {
  prisma: PrismaClient;
  notifier: TaskEventNotifier;
  temporal: Client;
  /** The deployment's shared task queue: only its hosts are swept. */
  orchestrationQueue: string;
  /** SANDBOX_HOST_LOST_AFTER, seconds. */
  lostAfterSeconds: number;
  logger: Logger;
}

/** The one sentence a task and its tabs show when their sandbox's host was lost. */
export function hostLostMessage(hostId: string): string {
  return `The sandbox host ${hostId} was lost, so work not pushed from it is gone; retry the task for a fresh sandbox.`;
}

/**
 * One pass: records newly lost hosts, then handles every sandbox of a lost host that is not `lost`
 * or `destroyed` yet.
 * @returns the ids of the sandboxes this pass recorded lost.
 */
export async function sweepLostHosts(opts: LostHostSweepOptions): Promise<string[]> {
  const { prisma, logger } = opts;
  const newlyLost = await prisma.$queryRaw<Array<{ id: string }>>`
    UPDATE sandbox_hosts SET lost_at = now()
     WHERE orchestration_queue = ${opts.orchestrationQueue} AND lost_at IS NULL
       AND last_seen_at < now() - make_interval(secs => ${opts.lostAfterSeconds}::int)
    RETURNING id`;
  for (const h of newlyLost) logger.warn({ hostId: h.id, lostAfterSeconds: opts.lostAfterSeconds }, 'sandbox host lost: unseen too long');
  // Warm pool members there can no longer be claimed or destroyed: their rows go, and their pools refill elsewhere.
  const dropped = await prisma.warmSandbox.deleteMany({ where: { host: { orchestrationQueue: opts.orchestrationQueue, lostAt: { not: null } } } });
  if (dropped.count > 0) logger.warn({ members: dropped.count }, 'warm sandboxes of lost hosts dropped from their pools');
  const orphans = await prisma.sandbox.findMany({
    where: { state: { notIn: [...ROOMLESS_SANDBOX_STATES] }, host: { orchestrationQueue: opts.orchestrationQueue, lostAt: { not: null } } },
    include: { task: { select: { id: true, status: true, workflowId: true, activeSandboxId: true } } },
  });
  const lost: string[] = [];
  for (const sandbox of orphans) {
    const hostId = sandbox.hostId!;
    const message = hostLostMessage(hostId);
    const tabs = await prisma.workbenchSession.findMany({ where: { sandboxId: sandbox.id, closed: false }, select: { id: true, workflowId: true } });
    const active = sandbox.task.activeSandboxId === sandbox.id || sandbox.task.activeSandboxId === null;
    // Runs waiting on the lost host's queue first (idempotent), so a pass cut short is redone.
    const runs = [sandboxLifecycleWorkflowId(sandbox.id), ...tabs.map((t) => t.workflowId), ...(active ? [sandbox.task.workflowId] : [])];
    for (const workflowId of runs) await signalUnlessEnded(opts.temporal, workflowId, (h) => h.terminate(message));
    const changed = await prisma.$transaction(async (tx) => {
      const from = SANDBOX_STATES.filter((s) => !(ROOMLESS_SANDBOX_STATES as readonly string[]).includes(s));
      if ((await changeSandboxState(tx, opts.notifier, { sandboxId: sandbox.id, from, to: 'lost', reason: 'host_lost' })) === null) return false;
      const [task] = await tx.$queryRaw<Array<{ status: TaskStatus }>>`SELECT status::text AS status FROM tasks WHERE id = ${sandbox.taskId}::uuid FOR UPDATE`;
      if (active && task && !isProvisioningOver(task.status)) {
        await appendTaskEvent(tx, opts.notifier, {
          taskId: sandbox.taskId,
          type: 'task.error',
          payload: { step: task.status, type: 'SandboxHostLost', detail: message, sandboxId: sandbox.id, hostId },
          dedupeKey: `host-lost:${sandbox.id}`,
          patch: { status: 'error', statusMessage: message },
        });
      }
      for (const tab of tabs) {
        await updateSession(tx, opts.notifier, {
          sessionId: tab.id,
          type: 'session.updated',
          dedupeKey: `host-lost:${sandbox.id}:${tab.id}`,
          patch: { status: 'error', errorMessage: message, sandboxId: null, sandboxSessionId: null, thinkingSince: null },
        });
      }
      return true;
    });
    if (changed) {
      lost.push(sandbox.id);
      logger.warn({ sandboxId: sandbox.id, taskId: sandbox.taskId, hostId, tabs: tabs.length }, 'sandbox recorded lost with its host');
    }
  }
  return lost;
}

/**
 * Runs {@link sweepLostHosts} every `intervalMs` until the returned stop function is called. A failed
 * pass (database or Temporal down) is logged; the next one tries again.
 */
export function runLostHostSweeper(opts: LostHostSweepOptions & { intervalMs: number }): () => Promise<void> {
  let running: Promise<unknown> = Promise.resolve();
  const timer = setInterval(() => {
    running = running.then(() => sweepLostHosts(opts)).catch((err) => opts.logger.error({ err }, 'lost-host sweep failed'));
  }, opts.intervalMs);
  return async () => {
    clearInterval(timer);
    await running;
  };
}
