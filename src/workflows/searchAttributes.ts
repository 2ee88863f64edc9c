/**
 * The custom search attributes of a task's runs (registered with the dev server by temporal-dev.yaml),
 * so the Temporal Web UI and `temporal workflow list --query` find them:
 * - `TaskId` / `WorkspaceId` (Keyword): set at start on every run of a task (src/temporal/runMetadata.ts);
 *   `TaskId = "<id>"` lists a task's provisioning, tab, kill, archive and sandbox lifecycle runs.
 * - `TaskStatus` (Keyword): the provisioning run's status (docs/PRODUCT.md#statuses), set at start and
 *   upserted by `provisionTask` whenever the status the run shows changes (./provisionTask.ts), so
 *   `TaskStatus = "init_create_sandbox" AND ExecutionStatus = "Running"` lists the runs in that step.
 *
 * Workflow-safe: definitions only, no I/O.
 */
import { SearchAttributeType, defineSearchAttributeKey } from '@temporalio/common';

export const TASK_ID_ATTRIBUTE = defineSearchAttributeKey('TaskId', SearchAttributeType.KEYWORD);
export const WORKSPACE_ID_ATTRIBUTE = defineSearchAttributeKey('WorkspaceId', SearchAttributeType.KEYWORD);
export const TASK_STATUS_ATTRIBUTE = defineSearchAttributeKey('TaskStatus', SearchAttributeType.KEYWORD);

/** Every custom search attribute the service sets: the namespace must have them all, or Temporal refuses the starts and upserts. */
export const TASK_SEARCH_ATTRIBUTES = [TASK_ID_ATTRIBUTE, WORKSPACE_ID_ATTRIBUTE, TASK_STATUS_ATTRIBUTE] as const;
