/** The task's history as the watch applied it: every event once, in `seq` order. */
import type { TaskEventRecord } from '../../../client';
import { clock } from '../format';

/** One line of an event: its message, or what it is about. */
function summary(event: TaskEventRecord): string {
  const p = event.payload as Record<string, unknown>;
  if (typeof p.message === 'string') return p.message;
  if (typeof p.detail === 'string') return p.detail;
  const session = p.session as { name?: string; statusLabel?: string } | undefined;
  if (session) return `${session.name ?? 'tab'}: ${session.statusLabel ?? ''}`;
  const entry = p.entry as { role?: string; text?: string } | undefined;
  if (entry) return `${entry.role}: ${(entry.text ?? '').slice(0, 120)}`;
  return '';
}

export function History(props: { events: TaskEventRecord[] }) {
  return (
    <section className="history">
      <h2>History</h2>
      <ol data-testid="history">
        {props.events.map((e) => (
          <li key={e.seq} data-seq={e.seq} data-type={e.type}>
            <span className="seq">{e.seq}</span>
            <time dateTime={e.createdAt}>{clock(e.createdAt)}</time>
            <code>{e.type}</code>
            <span>{summary(e)}</span>
          </li>
        ))}
      </ol>
    </section>
  );
}
