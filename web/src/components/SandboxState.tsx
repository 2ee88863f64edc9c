/**
 * The running task's sandbox lifecycle (docs/PRODUCT.md#sandbox-lifecycle): what state it is in, in
 * one sentence, and Stop / Resume (`POST /v1/tasks/:id/stop|resume`, answered 202; the change arrives
 * as `sandbox.state` events that update `task.sandboxState`).
 */
import { useState } from 'react';
import type { TaskRecord } from '../../../client';
import { useConnection } from '../connection';
import { call, type ShownError } from '../errors';

const SENTENCES: Record<NonNullable<TaskRecord['sandboxState']>, string> = {
  creating: 'Creating the sandbox.',
  ready: 'Sandbox running.',
  stopping: 'Putting the sandbox to sleep…',
  stopped: 'Sandbox asleep, it wakes when you send a message.',
  resuming: 'Waking the sandbox…',
  lost: 'The sandbox is gone: its files or its host were lost.',
  destroyed: 'The sandbox was removed.',
  error: 'The sandbox failed.',
};

export function SandboxState(props: { task: TaskRecord }) {
  const { rest } = useConnection();
  const { task } = props;
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ShownError | null>(null);
  const state = task.sandboxState;
  if (!state || (task.status !== 'running' && task.status !== 'idle')) return null;

  const send = async (action: 'stop' | 'resume') => {
    setBusy(true);
    setError(null);
    try {
      const params = { params: { path: { id: task.id } } };
      await call(action === 'stop' ? rest.POST('/v1/tasks/{id}/stop', params) : rest.POST('/v1/tasks/{id}/resume', params));
    } catch (err) {
      setError(err as ShownError);
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className={`sandbox-state ${state}`} data-testid="sandbox-state" data-state={state}>
      <span>{SENTENCES[state]}</span>
      {state === 'ready' && (
        <button type="button" onClick={() => void send('stop')} disabled={busy}>
          Stop sandbox
        </button>
      )}
      {state === 'stopped' && (
        <button type="button" onClick={() => void send('resume')} disabled={busy}>
          Wake now
        </button>
      )}
      {error && (
        <span className="error" role="alert">
          {error.message}
        </span>
      )}
    </div>
  );
}
