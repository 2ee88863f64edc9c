/**
 * One open tab: its state, its transcript as it streams in (`session.transcript` events), and the
 * composer, enabled only when the API says a message may be sent (`composerEnabled`). The draft is
 * saved as it is typed (`PUT …/draft`, 400 ms after the last key) and read back from the tab
 * (`GET …/sessions/:sessionId`) when the tab is shown, so it survives a reload. While
 * the tab is in view its unread mark is cleared (`POST …/read`).
 */
import { useEffect, useRef, useState, type FormEvent } from 'react';
import type { TabView, TranscriptEntryRecord } from '../../../client';
import { useConnection } from '../connection';
import { call, type ShownError } from '../errors';
import { agentLabel, clock } from '../format';

const DRAFT_SAVE_DELAY_MS = 400;

const WHO = { user: 'You', agent: 'Agent', system: 'Service' } as const;

/** The transcript as turns: each user message alone, an agent's consecutive entries answering the same message together (they arrive as it streams). */
function turns(transcript: TranscriptEntryRecord[]): TranscriptEntryRecord[][] {
  const out: TranscriptEntryRecord[][] = [];
  for (const entry of transcript) {
    const last = out[out.length - 1];
    if (last && entry.role === 'agent' && last[0]!.role === 'agent' && last[0]!.replyTo === entry.replyTo) last.push(entry);
    else out.push([entry]);
  }
  return out;
}

export function TabPanel(props: { taskId: string; tab: TabView }) {
  const { rest } = useConnection();
  const { session, transcript } = props.tab;
  const path = { id: props.taskId, sessionId: session.id };
  const [draft, setDraft] = useState(session.draft);
  const [error, setError] = useState<ShownError | null>(null);
  const saveTimer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const readAt = useRef(-1);
  const typed = useRef(false);

  // Saving a draft writes no history event, so the record in the view may hold an older one: the tab's
  // own read has the saved draft (unless the user started typing meanwhile).
  useEffect(() => {
    rest.GET('/v1/tasks/{id}/sessions/{sessionId}', { params: { path: { id: props.taskId, sessionId: session.id }, query: { limit: 1 } } }).then(
      (answer) => {
        if (answer.data && !typed.current) setDraft(answer.data.session.draft);
      },
      () => undefined,
    );
  }, [rest, props.taskId, session.id]);

  useEffect(() => {
    if (!session.unread || readAt.current === session.lastEntryIndex) return;
    readAt.current = session.lastEntryIndex;
    void rest.POST('/v1/tasks/{id}/sessions/{sessionId}/read', { params: { path } }).catch(() => (readAt.current = -1));
  });
  useEffect(() => () => clearTimeout(saveTimer.current), []);

  const saveDraft = (text: string) => {
    clearTimeout(saveTimer.current);
    saveTimer.current = setTimeout(() => {
      void rest.PUT('/v1/tasks/{id}/sessions/{sessionId}/draft', { params: { path }, body: { draft: text } }).catch(() => undefined);
    }, DRAFT_SAVE_DELAY_MS);
  };
  const send = async (e: FormEvent) => {
    e.preventDefault();
    const text = draft;
    setError(null);
    try {
      await call(rest.POST('/v1/tasks/{id}/sessions/{sessionId}/messages', { params: { path }, body: { text } }));
      setDraft('');
      saveDraft('');
    } catch (err) {
      setError(err as ShownError);
    }
  };
  const retry = async () => {
    setError(null);
    await call(rest.POST('/v1/tasks/{id}/sessions/{sessionId}/retry', { params: { path } })).catch((err: ShownError) => setError(err));
  };

  return (
    <div className="tab-panel" role="tabpanel" data-testid="tab-panel" data-session-id={session.id} data-status={session.status}>
      <p className={`tab-state state-${session.status}`} data-testid="tab-state">
        {session.statusLabel}
        {session.agent && <span className="muted"> · {agentLabel(session.agent)}</span>}
        {session.model && <span className="muted"> · {session.model}</span>}
        {(session.usage.inputTokens > 0 || session.usage.outputTokens > 0) && (
          <span className="muted" data-testid="tab-usage">
            {' '}
            · {session.usage.inputTokens} tokens in, {session.usage.outputTokens} out
          </span>
        )}
      </p>
      {session.status === 'error' && (
        <p className="error" role="alert">
          {session.errorMessage ?? 'The tab failed.'}{' '}
          <button type="button" onClick={() => void retry()}>
            Retry tab
          </button>
        </p>
      )}
      <ol className="transcript" data-testid="transcript">
        {turns(transcript).map((turn) => (
          <li key={turn[0]!.index} className={`entry ${turn[0]!.role}`} data-role={turn[0]!.role} data-index={turn[0]!.index}>
            <span className="who">{WHO[turn[0]!.role]}</span>
            <time dateTime={turn[0]!.createdAt}>{clock(turn[0]!.createdAt)}</time>
            {turn.map((entry) => (
              <p key={entry.index}>{entry.text}</p>
            ))}
          </li>
        ))}
      </ol>
      <form className="composer" onSubmit={(e) => void send(e)}>
        <textarea
          name="message"
          data-testid="composer"
          value={draft}
          onChange={(e) => {
            typed.current = true;
            setDraft(e.target.value);
            saveDraft(e.target.value);
          }}
          placeholder={session.composerEnabled ? 'Message the agent' : `${session.statusLabel}…`}
          disabled={!session.composerEnabled}
          rows={3}
        />
        <button type="submit" disabled={!session.composerEnabled || !draft.trim()}>
          Send
        </button>
      </form>
      {error && (
        <p className="error" role="alert">
          {error.message}
        </p>
      )}
    </div>
  );
}
