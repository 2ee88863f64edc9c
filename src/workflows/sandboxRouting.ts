/**
 * Routing a run's sandbox activities to the task queue of the host that holds the sandbox
 * (docs/DEPLOYMENT.md#placement), for the runs that act on an existing sandbox (`workbenchSession`,
 * `sandboxLifecycle`). The host is looked up once per sandbox (`locateSandbox`) and can be handed on
 * at continue-as-new. Behind the `sandbox-host-task-queues` patch: a run recorded before it keeps the
 * shared queue. Workflow code only: no I/O.
 */
import { patched, proxyActivities, type ActivityOptions } from '@temporalio/workflow';
import { MIRROR_ACTIVITY_OPTIONS } from './policies';
import { SANDBOX_HOSTS_PATCH, type SandboxPlacementActivities } from './sandboxHosts.contract';

/** `locateSandbox` with a Web UI `summary` naming the sandbox (metadata only: no patch; test/replay). */
const locating = (sandboxId: string) =>
  proxyActivities<Pick<SandboxPlacementActivities, 'locateSandbox'>>({ ...MIRROR_ACTIVITY_OPTIONS, summary: `find the sandbox host of ${sandboxId}` });

export interface SandboxRouter {
  /**
   * `options` on the task queue of `sandboxId`'s host (looked up the first time). Options, not a
   * proxy: a proxy is thenable, so it cannot be what an async function returns.
   */
  route(sandboxId: string, options: ActivityOptions): Promise<ActivityOptions>;
  /** The host queue found for `sandboxId`, if any: what a run hands on at continue-as-new. */
  known(sandboxId: string): string | undefined;
}

/** A router that starts from `found` (the host queue a previous run handed on), if given. */
export function sandboxRouter(found: { sandboxId: string; taskQueue: string } | null): SandboxRouter {
  let host = found;
  return {
    async route(sandboxId, options) {
      if (host?.sandboxId !== sandboxId) {
        if (!patched(SANDBOX_HOSTS_PATCH)) return options;
        host = { sandboxId, taskQueue: (await locating(sandboxId).locateSandbox({ sandboxId })).taskQueue };
      }
      return { ...options, taskQueue: host.taskQueue };
    },
    known: (sandboxId) => (host?.sandboxId === sandboxId ? host.taskQueue : undefined),
  };
}
