/**
 * BENCHMARK-ONLY workflow `provisioningFloor` (started only by `npm run bench`, scripts/bench.ts; its
 * activity is registered only with ENABLE_BENCHMARK_PROVIDERS=1): Temporal's own floor for a
 * provisioning run. It issues the same commands as a clean `provisionTask` run of today
 * (./provisionTask.ts, since the task-status patch): one patch check, then local and regular activities
 * in the same order and number (6 local, 3 regular), each doing nothing, and the same four `TaskStatus`
 * upserts, so the benchmark can set what the service adds beside what Temporal itself costs on the same
 * dev server and worker.
 *
 * Workflow code only: no I/O.
 */
import { patched, proxyActivities, proxyLocalActivities, upsertSearchAttributes } from '@temporalio/workflow';
import type { TaskStatus } from '../domain/status';
import { TASK_STATUS_ATTRIBUTE } from './searchAttributes';

export const PROVISIONING_FLOOR_WORKFLOW_TYPE = 'provisioningFloor';

/** The floor's one activity: returns at once. */
export interface FloorActivities {
  floorNoop(): Promise<void>;
}

const local = proxyLocalActivities<FloorActivities>({ startToCloseTimeout: 15_000 });

/**
 * @param input.taskQueue where the three regular activities go (the benchmark names the sandbox host's
 *   queue, as provisioning's host steps do).
 */
export async function provisioningFloor(input: { taskQueue: string }): Promise<void> {
  patched('provisioning-floor');
  const remote = proxyActivities<FloorActivities>({ startToCloseTimeout: 15_000, taskQueue: input.taskQueue });
  const status = (value: TaskStatus) => upsertSearchAttributes([{ key: TASK_STATUS_ATTRIBUTE, value }]);
  await local.floorNoop(); // ensureName, writing init_ensure_name started first
  await local.floorNoop(); // named, init_create_sandbox started
  status('init_create_sandbox');
  await local.floorNoop(); // tryPlaceSandbox
  await remote.floorNoop(); // createSandbox
  await local.floorNoop(); // sandbox ready, init_ensure_agent started
  status('init_ensure_agent');
  await remote.floorNoop(); // ensureAgent
  await local.floorNoop(); // agent healthy, init_create_session started
  status('init_create_session');
  await remote.floorNoop(); // createSession
  await local.floorNoop(); // handOverProvisioning
  status('running');
}
