/**
 * Every activity the workers register, built from one set of dependencies, and split by where it
 * runs (docs/DEPLOYMENT.md#worker-roles): the orchestration worker runs the ones that touch only
 * Postgres and Temporal on the shared task queue; a sandbox host runs the ones that touch a sandbox,
 * {@link SANDBOX_HOST_ACTIVITY_NAMES}, on its own queue. The worker process and the test services
 * compose them here, so both run exactly the same activities.
 */
import type { ProvisionActivities } from '../workflows/provisionTask.contract';
import type { KillActivities } from '../workflows/killTask.contract';
import type { WorkbenchActivities } from '../workflows/workbenchSession.contract';
import type { SandboxLifecycleActivities } from '../workflows/sandboxLifecycle.contract';
import type { SandboxPlacementActivities } from '../workflows/sandboxHosts.contract';
import type { SandboxPoolActivities } from '../workflows/sandboxPool.contract';
import { createSandboxPoolActivities } from './sandboxPool.activities';
import { createSandboxLifecycleActivities, type LifecycleActivityDeps } from './sandboxLifecycle.activities';
import { createProvisionActivities, type ActivityDeps } from './provisionTask.activities';
import { createKillActivities, type KillActivityDeps } from './killTask.activities';
import { createHandOverActivities } from './handOver.activities';
import { createStepProgressReporter } from './progress';
import { createSandboxPlacementActivities } from './sandboxHosts.activities';
import { createWorkbenchActivities, type SessionActivityDeps } from './workbenchSession.activities';

/**
 * What every activity is built from, together: Prisma, the providers, the notifier, the Temporal
 * client (tab and lifecycle signals, kill's cancellation), the logger, the idle
 * stop setting and this host's id. The step progress reporter is made here from the client.
 */
export interface WorkerActivityDeps extends Omit<ActivityDeps, 'progress'>, SessionActivityDeps, KillActivityDeps, LifecycleActivityDeps {}

/** All activities of the five workflows and of placement. */
export type AllActivities = ProvisionActivities & WorkbenchActivities & KillActivities & SandboxLifecycleActivities & SandboxPlacementActivities & SandboxPoolActivities;

/** The activities that act on a sandbox: scheduled on the task queue of the host that holds it. */
export const SANDBOX_HOST_ACTIVITY_NAMES = [
  'createSandbox',
  'ensureAgent',
  'createSession',
  'openAgentSession',
  'promptAgent',
  'endAgentSession',
  'stopSandbox',
  'resumeSandbox',
  'destroySandbox',
  'warmSandbox',
  'destroyWarmSandbox',
] as const satisfies ReadonlyArray<keyof AllActivities>;

type HostActivityName = (typeof SANDBOX_HOST_ACTIVITY_NAMES)[number];
export type SandboxHostActivities = Pick<AllActivities, HostActivityName>;
export type OrchestrationActivities = Omit<AllActivities, HostActivityName>;

function createAllActivities(deps: WorkerActivityDeps): AllActivities {
  const progress = createStepProgressReporter(deps.prisma, deps.logger);
  const lifecycle = createSandboxLifecycleActivities(deps);
  const provision = createProvisionActivities({ ...deps, progress });
  const workbench = createWorkbenchActivities(deps);
  return {
    ...lifecycle,
    ...provision,
    ...workbench,
    ...createHandOverActivities({ ...provision, ...workbench, ...lifecycle }),
    ...createKillActivities(deps),
    ...createSandboxPlacementActivities({ prisma: deps.prisma, progress, temporal: deps.temporal, logger: deps.logger }),
    ...createSandboxPoolActivities(deps),
  };
}

/**
 * The activities split by role: `orchestration` for the shared queue, `sandboxHost` for the host's own.
 * @param deps.hostId the host whose sandboxes `sandboxHost` acts on (the orchestration ones ignore it).
 */
export function createWorkerActivities(deps: WorkerActivityDeps): { orchestration: OrchestrationActivities; sandboxHost: SandboxHostActivities } {
  const all = createAllActivities(deps);
  const hostNames = new Set<string>(SANDBOX_HOST_ACTIVITY_NAMES);
  const pick = (keep: (name: string) => boolean) => Object.fromEntries(Object.entries(all).filter(([name]) => keep(name)));
  return { orchestration: pick((n) => !hostNames.has(n)) as OrchestrationActivities, sandboxHost: pick((n) => hostNames.has(n)) as SandboxHostActivities };
}
