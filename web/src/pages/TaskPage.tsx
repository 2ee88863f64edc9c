/**
 * `/tasks/:id`: one task, live (watchTask: the subscribe ack as the snapshot, pushed events ordered
 * by seq, gaps filled over REST, resumed with `afterSeq` after a reconnect). Shows the status pill,
 * the error with its step, the actions, the link to the run in the Temporal Web UI, the steps with
 * their live progress, the provisioning log, the workbench tabs and the history. A task the token cannot see is a 404 page.
 */
import { useEffect, useState } from 'react';
import { useParams } from 'react-router';
import { createTaskView, type TaskRecord } from '../../../client';
import { History } from '../components/History';
import { ProvisioningLog } from '../components/ProvisioningLog';
import { StatusPill } from '../components/StatusPill';
import { StepList } from '../components/StepList';
import { SandboxState } from '../components/SandboxState';
import { TaskActions } from '../components/TaskActions';
import { Workbench } from '../components/Workbench';
import { useConnection } from '../connection';
import { call, type ShownError } from '../errors';
import { STEP_LABELS, agentLabel } from '../format';
import { useWatch } from '../useWatch';
import { NotFoundPage } from './NotFoundPage';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function TaskPage() {
  const taskId = (useParams().taskId ?? '').toLowerCase();
  return UUID.test(taskId) ? <TaskPageOf key={taskId} taskId={taskId} /> : <NotFoundPage what="task" />;
}

function TaskPageOf({ taskId }: { taskId: string }) {
  const { rest, realtime } = useConnection();
  const { view, error } = useWatch(taskId, () => realtime.watchTask(taskId), createTaskView(taskId));
  const [detail, setDetail] = useState<{ temporalUiUrl: string } | null>(null);
  const [loadError, setLoadError] = useState<ShownError | null>(null);

  useEffect(() => {
    call(rest.GET('/v1/tasks/{id}', { params: { path: { id: taskId } } })).then(setDetail, setLoadError);
  }, [rest, taskId]);

  if (loadError?.code === 'task_not_found' || error?.code === 'task_not_found') return <NotFoundPage what="task" />;
  const task: TaskRecord | null = view.task;
  if (!task) return <p className="notice">{loadError ? loadError.message : 'Loading the task…'}</p>;
  const failedStep = view.steps.find((s) => s.state === 'failed');

  return (
    <article className="task-page" data-testid="task-page" data-task-id={task.id}>
      <header className="task-head">
        <div>
          <h1 data-testid="task-title">{task.title ?? 'Naming the task…'}</h1>
          <p className="muted">
            {task.repository}
            {task.branchName && (
              <>
                {' '}
                · branch <code>{task.branchName}</code>
              </>
            )}{' '}
            · agent {agentLabel(task.agent)} · provider {task.provider}
            <span data-testid="task-usage">
              {' '}
              · model usage {task.usage.inputTokens} tokens in, {task.usage.outputTokens} out
            </span>
          </p>
        </div>
        <StatusPill status={task.status} />
      </header>
      {task.status === 'error' ? (
        // The status message names the failed step (`<step> failed: …`); the label says what it was doing.
        <p className="error" role="alert" data-testid="task-error" data-step={failedStep?.step ?? ''}>
          {failedStep ? `${STEP_LABELS[failedStep.step]}: ` : ''}
          {task.statusMessage}
        </p>
      ) : (
        <p className="status-message" data-testid="status-message">
          {task.statusMessage}
        </p>
      )}
      <TaskActions task={task} temporalUiUrl={detail?.temporalUiUrl ?? null} />
      <SandboxState task={task} />
      {error && <p className="error">{error.message}</p>}
      <div className="task-body">
        <div className="left">
          <StepList taskId={task.id} status={task.status} steps={view.steps} />
          <ProvisioningLog taskId={task.id} status={task.status} />
          <History events={view.events} />
        </div>
        <Workbench task={task} tabs={view.tabs} />
      </div>
    </article>
  );
}
