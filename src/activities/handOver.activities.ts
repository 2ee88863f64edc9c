/**
 * The hand-over at the end of a lean `provisionTask` run (src/workflows/provisionTask.ts), built from
 * the three activities it strings together so the run records one local-activity marker instead of
 * three: the `running` transition, the release of the task's waiting tabs, and the start of the
 * sandbox's `sandboxLifecycle` run. Each part is idempotent (deduplicated event, tabs released once,
 * lifecycle run started under its fixed workflow id), so a retried hand-over repeats nothing.
 */
import type { ProvisionActivities } from '../workflows/provisionTask.contract';
import type { SandboxLifecycleActivities } from '../workflows/sandboxLifecycle.contract';
import type { WorkbenchActivities } from '../workflows/workbenchSession.contract';

export interface HandOverParts {
  recordTransitions: ProvisionActivities['recordTransitions'];
  releasePendingSessions: WorkbenchActivities['releasePendingSessions'];
  startSandboxLifecycle: SandboxLifecycleActivities['startSandboxLifecycle'];
}

export function createHandOverActivities(parts: HandOverParts): Pick<ProvisionActivities, 'handOverProvisioning'> {
  return {
    async handOverProvisioning({ transitions, taskId, sandboxId }) {
      await parts.recordTransitions({ transitions });
      await parts.releasePendingSessions({ taskId, outcome: { kind: 'ready', sandboxId } });
      await parts.startSandboxLifecycle({ taskId, sandboxId });
    },
  };
}
