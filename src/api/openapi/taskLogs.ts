/**
 * Provisioning logs in the OpenAPI document (src/domain/taskLogs.ts is the one statement):
 * `TaskLogLine`, the page `GET /v1/tasks/{id}/logs` answers, and the Socket.IO `task.log` message.
 * {@link LOG_SCHEMAS_MATCH_DOMAIN} stops the type check when the line schema and the domain differ.
 */
import { z } from 'zod';
import { TASK_LOG_LIMITS, TASK_LOG_SOURCES, type TaskLogRecord } from '../../domain/taskLogs';
import type { Same } from './events';
import { provisionStep } from './responses';

export const taskLogLine = z
  .object({
    taskId: z.string(),
    seq: z
      .number()
      .int()
      .min(1)
      .meta({ description: 'Per task, increasing from 1; a gap means older lines were dropped (a task keeps its newest lines) or are still on their way.' }),
    step: provisionStep.meta({ description: 'The provisioning step that wrote the line.' }),
    attempt: z.number().int().min(1).meta({ description: 'The step’s attempt (1 = first).' }),
    source: z.enum(TASK_LOG_SOURCES).meta({
      description:
        '`service`: the service’s account of a sub-step (and `failed: …` when the step failed); `git`: host git’s output; `sandbox-agent`: what sandbox-agent wrote while it started.',
    }),
    line: z
      .string()
      .meta({ description: `At most ${TASK_LOG_LIMITS.maxLineChars} characters; control characters removed; secrets (credentials in URLs, tokens, keys) replaced by \`***\`.` }),
    createdAt: z.string().meta({ description: 'ISO-8601, when the line was stored.' }),
  })
  .meta({ id: 'TaskLogLine', description: 'One line of a task’s provisioning log.' });

/** A page of log lines (GET /v1/tasks/{id}/logs). */
export const taskLogPage = z
  .object({ items: z.array(taskLogLine), nextCursor: z.number().int().nullable().meta({ description: 'Pass as `after` for the next page; null on the last.' }) })
  .meta({ id: 'TaskLogPage', description: 'A page of a task’s provisioning log, oldest first.' });

/** Payload of a Socket.IO `task.log` message. */
export const taskLogMessage = z
  .object({ taskId: z.string(), lines: z.array(taskLogLine).meta({ description: 'Lines just written, by seq; may repeat lines sent before after an outage (match on seq).' }) })
  .meta({ id: 'TaskLogMessage', description: 'Payload of every `task.log` message: new lines of the task’s provisioning log.' });

/** `true`; does not compile when the line schema's output is not exactly the domain's TaskLogRecord. */
export const LOG_SCHEMAS_MATCH_DOMAIN: Same<z.output<typeof taskLogLine>, TaskLogRecord> = true;
