/**
 * Every activity the worker registers, built from one set of dependencies: the worker process and the
 * test services compose them here, so both run exactly the same activities.
 */
import type { ProvisionActivities } from '../workflows/provisionTask.contract';
import type { KillActivities } from '../workflows/killTask.contract';
import type { WorkbenchActivities } from '../workflows/workbenchSession.contract';
import type { SandboxLifecycleActivities } from '../workflows/sandboxLifecycle.contract';
import { createSandboxLifecycleActivities, type LifecycleActivityDeps } from './sandboxLifecycle.activities';
import { createProvisionActivities, type ActivityDeps } from './provisionTask.activities';
import { createKillActivities, type KillActivityDeps } from './killTask.activities';
import { createStepProgressReporter } from './progress';
import { createWorkbenchActivities, type SessionActivityDeps } from './workbenchSession.activities';

/**
 * What every activity is built from, together: Prisma, the providers, the notifier, the Temporal
 * client (progress signals, tab and lifecycle signals, kill's cancellation), the logger and the idle
 * stop setting. The step progress reporter is made here from the client.
 */
export interface WorkerActivityDeps extends Omit<ActivityDeps, 'progress'>, SessionActivityDeps, KillActivityDeps, LifecycleActivityDeps {}

/** The activities of provisionTask, workbenchSession, killTask and sandboxLifecycle, as one object for `Worker.create`. */
export function createWorkerActivities(deps: WorkerActivityDeps): ProvisionActivities & WorkbenchActivities & KillActivities & SandboxLifecycleActivities {
  return {
    ...createSandboxLifecycleActivities(deps),
    ...createProvisionActivities({ ...deps, progress: createStepProgressReporter(deps.temporal, deps.logger) }),
    ...createWorkbenchActivities(deps),
    ...createKillActivities(deps),
  };
}
