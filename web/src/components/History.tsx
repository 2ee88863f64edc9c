/** The task's history as the watch applied it: every event once, in `seq` order. */
import type { TaskEventRecord } from '../../../client';
import { clock } from '../format';

/** One line of an event: its message, or what it is about (the payload's shape follows `event.type`). */
function summary(event: TaskEventRecord): string {
  switch (event.type) {
    case 'task.step':
    case 'sandbox.state':
      return event.payload.message;
    case 'task.error':
      return event.payload.detail;
    case 'task.named':
      return `named "${event.payload.title}" (${event.payload.branchName})`;
    case 'task.retry':
      return `retried after: ${event.payload.previousStatusMessage}`;
    case 'session.created':
    case 'session.updated':
    case 'session.closed':
      return `${event.payload.session.name}: ${event.payload.session.statusLabel}`;
    case 'session.transcript':
      return `${event.payload.entry.role}: ${event.payload.entry.text.slice(0, 120)}`;
    case 'task.usage':
      return `${event.payload.model ?? event.payload.provider}: ${event.payload.inputTokens} in, ${event.payload.outputTokens} out`;
    default:
      return '';
  }
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
