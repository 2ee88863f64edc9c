/**
 * BENCHMARK-ONLY activities, registered by the worker only with ENABLE_BENCHMARK_PROVIDERS=1 (never in
 * production): the no-op of the `provisioningFloor` workflow (src/workflows/provisioningFloor.ts).
 */
import type { FloorActivities } from '../workflows/provisioningFloor';

export function createBenchmarkActivities(): FloorActivities {
  return {
    async floorNoop() {},
  };
}
