/**
 * How the page names statuses, steps, agents and times. The pill's six states are the issue's: provisioning
 * (any `init_*` but the last), creating session (`init_create_session`), running (also `idle`), error,
 * killed, archived; the exact status name is always shown beside it (docs/PRODUCT.md#statuses).
 */
import type { ProvisionStep, TaskStatus } from '../../client';

/** The pill of a task status. */
export type Pill = 'provisioning' | 'creating session' | 'running' | 'error' | 'killed' | 'archived';

/** The pill of `status`. */
export function pillOf(status: TaskStatus): Pill {
  switch (status) {
    case 'init_create_session':
      return 'creating session';
    case 'running':
    case 'idle':
      return 'running';
    case 'error':
    case 'killed':
    case 'archived':
      return status;
    default:
      return 'provisioning';
  }
}

/** True while the task's provisionTask run is working (an `init_*` status). */
export const isProvisioning = (status: TaskStatus | undefined): boolean => !!status && status.startsWith('init_');

/** What each provisioning step does, as the task page lists it. */
export const STEP_LABELS: Record<ProvisionStep, string> = {
  init_ensure_name: 'Name the task and its branch',
  init_create_sandbox: 'Create the sandbox and check out the repository',
  init_ensure_agent: 'Start sandbox-agent',
  init_create_session: 'Open the agent session',
};

/** `1.2 s`, `340 ms`, `2 min 5 s`; an empty string for null. */
export function duration(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms)) return '';
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const min = Math.floor(ms / 60_000);
  return `${min} min ${Math.round((ms - min * 60_000) / 1000)} s`;
}

/** Local wall-clock time of an ISO-8601 instant (`14:03:07`); an empty string for null. */
export function clock(iso: string | null | undefined): string {
  if (!iso) return '';
  const t = new Date(iso);
  return Number.isNaN(t.getTime()) ? '' : t.toLocaleTimeString([], { hour12: false });
}

/** How an agent id is shown: the offline agent says what it is (docs/PRODUCT.md#agents). */
export const agentLabel = (agent: string): string => (agent === 'offline' ? 'offline agent (no model)' : agent);
