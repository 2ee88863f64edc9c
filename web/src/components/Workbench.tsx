/**
 * The workbench tabs of a task (seeds/04): "+" opens a tab at once (`POST /v1/tasks/:id/sessions`
 * answers a placeholder before any sandbox exists); a pending tab shows its label ("Preparing
 * environment", "Creating session") and a disabled composer, and becomes usable through pushed
 * `session.*` events alone. A tab not in view shows an unread mark when the agent finished a turn;
 * viewing it clears the mark (`POST …/read`). The first open tab is shown until another is chosen.
 * Closing works in every state (`DELETE …`).
 */
import { useState } from 'react';
import type { SessionRecord, TabView, TaskRecord } from '../../../client';
import { useConnection } from '../connection';
import { call, type ShownError } from '../errors';
import { TabPanel } from './TabPanel';

export function Workbench(props: { task: TaskRecord; tabs: TabView[] }) {
  const { rest } = useConnection();
  const { task } = props;
  const [selected, setSelected] = useState<string | null>(null);
  // Tabs answered by "+" whose session.created event has not arrived yet, and tabs closed here.
  const [opened, setOpened] = useState<SessionRecord[]>([]);
  const [closedHere, setClosedHere] = useState<ReadonlySet<string>>(new Set());
  const [error, setError] = useState<ShownError | null>(null);
  const taskClosed = task.status === 'killed' || task.status === 'archived';

  const known = new Set(props.tabs.map((t) => t.session.id));
  const tabs: TabView[] = [...props.tabs, ...opened.filter((s) => !known.has(s.id)).map((session) => ({ session, transcript: [] }))].filter(
    (t) => !t.session.closed && !closedHere.has(t.session.id),
  );
  // The tab chosen here; until one is (and after the chosen one closes), the first open tab.
  const current = tabs.find((t) => t.session.id === selected) ?? tabs[0] ?? null;

  const openTab = async () => {
    setError(null);
    try {
      const session = await call(rest.POST('/v1/tasks/{id}/sessions', { params: { path: { id: task.id }, header: { 'Idempotency-Key': crypto.randomUUID() } }, body: {} }));
      setOpened((list) => [...list, session]);
      setSelected(session.id);
    } catch (err) {
      setError(err as ShownError);
    }
  };
  const closeTab = async (sessionId: string) => {
    setError(null);
    setClosedHere((set) => new Set([...set, sessionId]));
    if (selected === sessionId) setSelected(null);
    try {
      await call(rest.DELETE('/v1/tasks/{id}/sessions/{sessionId}', { params: { path: { id: task.id, sessionId } } }));
    } catch (err) {
      setClosedHere((set) => new Set([...set].filter((id) => id !== sessionId)));
      setError(err as ShownError);
    }
  };

  return (
    <section className="workbench">
      <div className="tab-strip" role="tablist">
        {tabs.map(({ session }) => {
          const active = session.id === current?.session.id;
          return (
            <div
              key={session.id}
              className={`tab${active ? ' active' : ''}${session.unread && !active ? ' unread' : ''}`}
              data-testid="tab"
              data-session-id={session.id}
              data-status={session.status}
              data-unread={session.unread && !active}
            >
              <button type="button" role="tab" aria-selected={active} onClick={() => setSelected(session.id)}>
                <span className="tab-name">{session.name}</span>
                <small className="tab-label">{session.statusLabel}</small>
                {session.unread && !active && <span className="dot" aria-label="unread" />}
              </button>
              <button type="button" className="close" aria-label={`Close ${session.name}`} onClick={() => void closeTab(session.id)}>
                ×
              </button>
            </div>
          );
        })}
        <button type="button" className="new-tab" aria-label="Open a tab" title="Open a tab" onClick={() => void openTab()} disabled={taskClosed}>
          +
        </button>
      </div>
      {error && (
        <p className="error" role="alert">
          {error.message}
        </p>
      )}
      {current ? (
        <TabPanel key={current.session.id} taskId={task.id} tab={current} />
      ) : (
        <p className="muted empty-tab">{taskClosed ? 'This task is closed.' : '“+” opens a tab, even before the sandbox exists.'}</p>
      )}
    </section>
  );
}
