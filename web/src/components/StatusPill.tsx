/** The status pill: one of the six pill states, with the exact task status beside it (../format.ts). */
import type { TaskStatus } from '../../../client';
import { pillOf } from '../format';

export function StatusPill(props: { status: TaskStatus }) {
  const pill = pillOf(props.status);
  return (
    <span className={`pill pill-${pill.replace(' ', '-')}`} data-testid="status-pill" data-status={props.status} title={props.status}>
      {pill}
      {pill !== props.status && <small>{props.status}</small>}
    </span>
  );
}
