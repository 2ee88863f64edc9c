/**
 * Kill, Retry and Archive (`POST /v1/tasks/:id/kill|retry|archive`, each answered 202 while the run
 * works in the background: the page follows the outcome through pushed events), and the link to the
 * provisioning run in the Temporal Web UI.
 */
import { useState } from 'react';
import type { TaskRecord } from '../../../client';
import { useConnection } from '../connection';
import { call, type ShownError } from '../errors';

type Action = 'kill' | 'retry' | 'archive';

export function TaskActions(props: { task: TaskRecord; temporalUiUrl: string | null }) {
  const { rest } = useConnection();
  const { task } = props;
  const [busy, setBusy] = useState<Action | null>(null);
  const [error, setError] = useState<ShownError | null>(null);
  const closed = task.status === 'killed' || task.status === 'archived';

  const run = async (action: Action) => {
    setBusy(action);
    setError(null);
    const params = { params: { path: { id: task.id } } };
    try {
      if (action === 'kill') await call(rest.POST('/v1/tasks/{id}/kill', params));
      else if (action === 'retry') await call(rest.POST('/v1/tasks/{id}/retry', params));
      else await call(rest.POST('/v1/tasks/{id}/archive', params));
    } catch (err) {
      setError(err as ShownError);
    } finally {
      setBusy(null);
    }
  };

  return (
    <div className="actions">
      <button type="button" onClick={() => void run('retry')} disabled={task.status !== 'error' || busy !== null}>
        Retry
      </button>
      <button type="button" className="danger" onClick={() => void run('kill')} disabled={closed || busy !== null}>
        Kill
      </button>
      <button type="button" onClick={() => void run('archive')} disabled={task.status === 'archived' || busy !== null}>
        Archive
      </button>
      {props.temporalUiUrl && (
        <a href={props.temporalUiUrl} target="_blank" rel="noreferrer" data-testid="temporal-link">
          Run in Temporal Web UI
        </a>
      )}
      {error && (
        <span className="error" role="alert">
          {error.message}
        </span>
      )}
    </div>
  );
}
