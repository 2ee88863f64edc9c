/**
 * A task's history as a trail of labels (`task.step:<step>:<status>` for step events, the type for
 * the others), and the trail of a clean provisioning run, for tests that assert the order of events.
 */

/** The history of a task provisioned without a failure, from create to `running`. */
export const CLEAN_PROVISIONING_TRAIL = [
  'task.created',
  'task.step:init_ensure_name:started',
  'task.named',
  'task.step:init_create_sandbox:started',
  'task.step:init_create_sandbox:completed',
  'task.step:init_ensure_agent:started',
  'task.step:init_ensure_agent:completed',
  'task.step:init_create_session:started',
  'task.initialized',
];

/** `events` (in sequence order) as labels. */
export function provisioningTrail(events: ReadonlyArray<{ type: string; payload: unknown }>): string[] {
  return events.map((e) => {
    const p = e.payload as { step?: string; status?: string };
    return e.type === 'task.step' ? `task.step:${p.step}:${p.status}` : e.type;
  });
}
