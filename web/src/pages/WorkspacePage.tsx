/**
 * `/`: the create form and the workspace's tasks, live (watchWorkspace: a first page of
 * `GET /v1/tasks` as the snapshot, then every pushed record). Archived tasks are hidden, as in the
 * API's default list.
 */
import { Link } from 'react-router';
import { createWorkspaceView } from '../../../client';
import { CreateTaskForm } from '../components/CreateTaskForm';
import { StatusPill } from '../components/StatusPill';
import { useConnection } from '../connection';
import { clock } from '../format';
import { useWatch } from '../useWatch';

export function WorkspacePage() {
  const { realtime, workspaceId } = useConnection();
  const { view, error } = useWatch(workspaceId, () => realtime.watchWorkspace(workspaceId), createWorkspaceView(workspaceId));
  const tasks = view.tasks.filter((t) => t.status !== 'archived');
  return (
    <div className="workspace-page">
      <CreateTaskForm />
      <section className="task-list">
        <h2>Tasks</h2>
        {error && <p className="error">{error.message}</p>}
        {tasks.length === 0 ? (
          <p className="muted">No tasks yet.</p>
        ) : (
          <ul data-testid="task-list">
            {tasks.map((task) => (
              <li key={task.id} data-task-id={task.id}>
                <Link to={`/tasks/${task.id}`}>
                  <span className="title">{task.title ?? task.prompt.split('\n')[0]}</span>
                  <StatusPill status={task.status} />
                  <span className="muted">{clock(task.createdAt)}</span>
                </Link>
              </li>
            ))}
          </ul>
        )}
      </section>
    </div>
  );
}
