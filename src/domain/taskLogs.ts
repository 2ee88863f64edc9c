/**
 * Provisioning logs (docs/OBSERVABILITY.md#provisioning-logs): the provisioning steps' own output
 * (git's clone progress, sandbox-agent's start-up log, the service's sub-steps), one line at a time,
 * each tagged with its step, attempt and source, numbered per task (`seq`, from 1, with gaps where
 * old lines were dropped). Stored in `task_logs` (src/taskLogs), pushed as `task.log` to the task's
 * Socket.IO room, read with `GET /v1/tasks/:id/logs?after=`. The OpenAPI document's `TaskLogLine`
 * (src/api/openapi/taskLogs.ts) is checked against {@link TaskLogRecord} by `tsc`.
 */
import type { TaskLog } from '../generated/prisma/client';
import type { ProvisionStep } from './status';

/** Who wrote a line: the service's own account of a sub-step, host git, or the sandbox's sandbox-agent. */
export const TASK_LOG_SOURCES = ['service', 'git', 'sandbox-agent'] as const;
export type TaskLogSource = (typeof TASK_LOG_SOURCES)[number];

/** One log line as REST and Socket.IO send it; `createdAt` ISO-8601. */
export interface TaskLogRecord {
  taskId: string;
  /** Per task, increasing from 1; a gap means lines were dropped (the per-task bound) or are still being read. */
  seq: number;
  /** The provisioning step that wrote the line. */
  step: ProvisionStep;
  /** The step's attempt (1 = first). */
  attempt: number;
  source: TaskLogSource;
  /** The text: at most {@link TASK_LOG_LIMITS}.maxLineChars characters, control characters removed, secrets replaced by `***`. */
  line: string;
  createdAt: string;
}

/**
 * The bounds of a task's log. `maxLinesPerTask`: only the newest lines are kept (older ones are
 * deleted as new ones arrive). `rate`: a task may add at most `lines` lines per `perSeconds` seconds;
 * more are dropped, and one `service` line then says how many. `maxLineChars`: a longer line is cut.
 */
export const TASK_LOG_LIMITS: TaskLogLimits = {
  maxLinesPerTask: 2_000,
  maxLineChars: 1_000,
  rate: { lines: 200, perSeconds: 10 },
};

export interface TaskLogLimits {
  maxLinesPerTask: number;
  maxLineChars: number;
  rate: { lines: number; perSeconds: number };
}

/** A `task_logs` row as clients see it. */
export function toTaskLogRecord(row: TaskLog): TaskLogRecord {
  return {
    taskId: row.taskId,
    seq: row.seq,
    step: row.step as ProvisionStep,
    attempt: row.attempt,
    source: row.source as TaskLogSource,
    line: row.line,
    createdAt: row.createdAt.toISOString(),
  };
}
