/** Shown for an address that is no page, and for a task the token cannot see (the API answers 404 for both a missing task and another workspace's). */
import { Link } from 'react-router';

export function NotFoundPage(props: { what: 'task' | 'page' }) {
  return (
    <section className="not-found" data-testid="not-found">
      <h1>{props.what === 'task' ? 'Task not found' : 'Page not found'}</h1>
      <p>{props.what === 'task' ? 'There is no such task in this workspace.' : 'Nothing lives at this address.'}</p>
      <Link to="/">Back to the tasks</Link>
    </section>
  );
}
