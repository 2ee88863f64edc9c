/**
 * Every activity the worker registers, built from one set of dependencies: the worker process and the
 * test services compose them here, so both run exactly the same activities.
 */
import type { Client } from '@temporalio/client';
import type { PrismaClient } from '../generated/prisma/client';
import type { Logger } from '../logger';
import type { ProviderRegistry } from '../providers/types';
import type { TaskEventNotifier } from '../db/notifier';
import type { ProvisionActivities } from '../workflows/provisionTask.contract';
import type { KillActivities } from '../workflows/killTask.contract';
import type { WorkbenchActivities } from '../workflows/workbenchSession.contract';
import type { SandboxLifecycleActivities } from '../workflows/sandboxLifecycle.contract';
import { createSandboxLifecycleActivities } from './sandboxLifecycle.activities';
import { createProvisionActivities } from './provisionTask.activities';
import { createKillActivities } from './killTask.activities';
import { createStepProgressReporter } from './progress';
import { createWorkbenchActivities } from './workbenchSession.activities';

export interface WorkerActivityDeps {
  prisma: PrismaClient;
  providers: ProviderRegistry;
  notifier: TaskEventNotifier;
  /** For progress signals, tab signals and kill's cancellation. */
  temporal: Client;
  logger: Logger;
  /** Idle stop of sandboxes after this long without a turn, in ms; 0 = never (SANDBOX_IDLE_STOP_MINUTES). */
  idleStopMs: number;
}

/** The activities of provisionTask, workbenchSession, killTask and sandboxLifecycle, as one object for `Worker.create`. */
export function createWorkerActivities(deps: WorkerActivityDeps): ProvisionActivities & WorkbenchActivities & KillActivities & SandboxLifecycleActivities {
  return {
    ...createSandboxLifecycleActivities(deps),
    ...createProvisionActivities({ ...deps, progress: createStepProgressReporter(deps.temporal, deps.logger) }),
    ...createWorkbenchActivities(deps),
    ...createKillActivities(deps),
  };
}
