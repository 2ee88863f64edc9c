/**
 * Typed client of the task-provisioning service, for frontends and scripts (no Node-only APIs):
 * - REST: {@link createTaskServiceClient}, openapi-fetch over types generated from the OpenAPI document;
 * - live: {@link createRealtimeClient} with `watchTask(taskId)` / `watchWorkspace(workspaceId)`;
 * - the pure reducers behind the live views ({@link reduceTaskView}, {@link reduceWorkspaceView}).
 */
export * from './rest';
export * from './realtime';
export * from './taskView';
export * from './taskLog';
export * from './types';
export * from './realtimeContract';
export type { paths, components, operations } from './schema';
