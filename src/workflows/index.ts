/** Workflow entry point bundled for the worker: every workflow type this service registers. */
export { provisionTask } from './provisionTask';
export { workbenchSession } from './workbenchSession';
export { killTask } from './killTask';
export { sandboxLifecycle } from './sandboxLifecycle';
export { sandboxPool } from './sandboxPool';
export { provisioningFloor } from './provisioningFloor'; // benchmark-only (npm run bench)
