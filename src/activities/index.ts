/**
 * Every activity the worker registers, built from one set of dependencies: the worker process and the
 * test services compose them here, so both run exactly the same activities.
 */
import type { Client } from '@temporalio/client';
import type { PrismaClient } from '../generated/prisma/client';
import type { Logger } from '../logger';
import type { ProviderRegistry } from '../providers/types';
import type { TaskEventNotifier } from '../realtime/notifier';
import type { ProvisionActivities } from '../workflows/contracts';
import type { KillActivities } from '../workflows/killContracts';
import type { WorkbenchActivities } from '../workflows/sessionContracts';
import { createActivities } from './createActivities';
import { createKillActivities } from './killActivities';
import { createStepProgressReporter } from './progress';
import { createSessionActivities } from './sessionActivities';

export interface WorkerActivityDeps {
  prisma: PrismaClient;
  providers: ProviderRegistry;
  notifier: TaskEventNotifier;
  /** For progress signals, tab signals and kill's cancellation. */
  temporal: Client;
  logger: Logger;
}

/** The activities of provisionTask, workbenchSession and killTask, as one object for `Worker.create`. */
export function createWorkerActivities(deps: WorkerActivityDeps): ProvisionActivities & WorkbenchActivities & KillActivities {
  return {
    ...createActivities({ ...deps, progress: createStepProgressReporter(deps.temporal, deps.logger) }),
    ...createSessionActivities(deps),
    ...createKillActivities(deps),
  };
}
