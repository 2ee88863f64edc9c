/**
 * What a task's runs show in the Temporal Web UI before anyone opens their history: a one-line
 * `staticSummary` (the run's kind and the task's title, or its prompt's first line until it is named)
 * and `staticDetails` (a Markdown table: task, workspace, repository, branch, provider, agent, where
 * the task's record and page are), and the `TaskId` / `WorkspaceId` search attributes, so
 * `TaskId = "<id>"` lists every run of a task (provisioning, tabs, kill, archive, sandbox lifecycle),
 * plus a provisioning run's first `TaskStatus` (../workflows/searchAttributes.ts).
 * Set at start only: nothing here adds a history event.
 */
import type { WorkflowStartOptions } from '@temporalio/client';
import { TypedSearchAttributes } from '@temporalio/common';
import type { Task } from '../generated/prisma/client';
import { markdownCell as cell } from '../domain/markdown';
import type { TaskStatus } from '../domain/status';
import { TASK_ID_ATTRIBUTE, TASK_STATUS_ATTRIBUTE, WORKSPACE_ID_ATTRIBUTE } from '../workflows/searchAttributes';

export { TASK_ID_ATTRIBUTE, TASK_STATUS_ATTRIBUTE, WORKSPACE_ID_ATTRIBUTE };

/** The task fields a run's metadata is made of. */
export type TaskRunSubject = Pick<Task, 'id' | 'workspaceId' | 'repository' | 'prompt' | 'title' | 'branchName' | 'requestedBranch' | 'providerId' | 'agentType'>;

/** Longest summary the Web UI shows on one line, characters. */
const SUMMARY_LENGTH = 120;

/** `text`'s first line, cut to `max` characters with an ellipsis. */
function firstLine(text: string, max: number): string {
  const line = text.split('\n', 1)[0]!.trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

/**
 * Start options of run `kind` (e.g. `Provisioning`, `Tab "Tab 2"`, `Kill`) of `task`: summary, details
 * and search attributes (`TaskId`, `WorkspaceId`, and `TaskStatus` when `status` is given: the status a
 * provisioning run starts from, ../workflows/searchAttributes.ts).
 */
export function taskRunMetadata(task: TaskRunSubject, kind: string, status?: TaskStatus): Pick<WorkflowStartOptions, 'staticSummary' | 'staticDetails' | 'typedSearchAttributes'> {
  const branch = task.branchName ?? task.requestedBranch ?? '(named by init_ensure_name)';
  const rows: Array<[string, string]> = [
    ['task', `\`${task.id}\``],
    ['workspace', cell(task.workspaceId)],
    ['repository', cell(task.repository)],
    ['branch', cell(branch)],
    ['provider', cell(task.providerId)],
    ['agent', cell(task.agentType)],
    ['record', `\`GET /v1/tasks/${task.id}\``],
    ['page', `\`/tasks/${task.id}\``],
  ];
  return {
    staticSummary: `${kind}: ${firstLine(task.title ?? task.prompt, SUMMARY_LENGTH - kind.length - 2)}`,
    staticDetails: ['| | |', '| --- | --- |', ...rows.map(([k, v]) => `| ${k} | ${v} |`)].join('\n'),
    typedSearchAttributes: new TypedSearchAttributes([
      { key: TASK_ID_ATTRIBUTE, value: task.id },
      { key: WORKSPACE_ID_ATTRIBUTE, value: task.workspaceId },
      ...(status ? [{ key: TASK_STATUS_ATTRIBUTE, value: status }] : []),
    ]),
  };
}
