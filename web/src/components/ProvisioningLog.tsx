/**
 * The task's provisioning log (followTaskLog, client/taskLog.ts): every line the steps wrote, by seq,
 * with its step, attempt and source; open while the task provisions or after it failed, folded
 * otherwise. The newest line stays in view while lines arrive.
 */
import { useEffect, useRef, useState } from 'react';
import { followTaskLog, type TaskLogLine, type TaskStatus } from '../../../client';
import { useConnection } from '../connection';
import { clock, isProvisioning } from '../format';

export function ProvisioningLog(props: { taskId: string; status: TaskStatus }) {
  const { rest, realtime } = useConnection();
  const [lines, setLines] = useState<TaskLogLine[]>([]);
  const list = useRef<HTMLOListElement>(null);

  useEffect(() => followTaskLog({ socket: realtime.socket, rest, taskId: props.taskId, onChange: setLines }), [realtime, rest, props.taskId]);
  useEffect(() => {
    list.current?.lastElementChild?.scrollIntoView({ block: 'nearest' });
  }, [lines]);

  const open = isProvisioning(props.status) || props.status === 'error';
  return (
    <details className="provisioning-log" open={open} data-testid="provisioning-log">
      <summary>
        <h2>Provisioning log</h2> <span className="muted">{lines.length} lines</span>
      </summary>
      <ol ref={list}>
        {lines.map((l) => (
          <li key={l.seq} data-seq={l.seq} data-step={l.step} data-source={l.source}>
            <time dateTime={l.createdAt}>{clock(l.createdAt)}</time>
            <span className="log-step" title={`${l.step}, attempt ${l.attempt}`}>
              {l.step}
              {l.attempt > 1 ? ` #${l.attempt}` : ''}
            </span>
            <span className={`log-source log-source-${l.source}`}>{l.source}</span>
            <code>{l.line}</code>
          </li>
        ))}
      </ol>
    </details>
  );
}
