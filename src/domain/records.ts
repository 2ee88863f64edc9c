/**
 * Client-facing shapes of a task and of a history event, shared by the REST API and the Socket.IO
 * relay so both always send the same thing.
 */
import type { Task, TaskEvent } from '../generated/prisma/client';
import type { TaskStatus } from './status';

/** History event types (reference/domain.md "History events"). */
export type TaskEventType = 'task.created' | 'task.named' | 'task.step' | 'task.initialized' | 'task.error';

/** Per-step timing as mirrored from the workflow; times are ISO-8601 strings. */
export interface StepTiming {
  startedAt: string;
  endedAt?: string;
  attempt: number;
}

export interface TaskRecord {
  id: string;
  workspaceId: string;
  repository: string;
  prompt: string;
  title: string | null;
  branchName: string | null;
  provider: string;
  agent: string;
  status: TaskStatus;
  statusMessage: string;
  activeSandboxId: string | null;
  activeSessionId: string | null;
  workflowId: string;
  /** Sequence number of the newest history event: a client that has seen it has seen everything. */
  lastEventSeq: number;
  stepTimings: Record<string, StepTiming>;
  createdAt: string;
  updatedAt: string;
  /** How a client follows this task: Socket.IO `subscribe` with `{ taskId }`, events named `task.event`. */
  realtime: { subscribe: { event: 'subscribe'; payload: { taskId: string } }; room: string; event: 'task.event' };
}

export interface TaskEventRecord {
  taskId: string;
  seq: number;
  type: TaskEventType;
  payload: Record<string, unknown>;
  createdAt: string;
}

/** Payload of every `task.event` Socket.IO message: the task as it is after the event, and the event. */
export interface TaskEventMessage {
  task: TaskRecord;
  event: TaskEventRecord;
}

export const taskRoom = (taskId: string) => `task:${taskId}`;
export const workspaceRoom = (workspaceId: string) => `workspace:${workspaceId}`;

export function toTaskRecord(t: Task): TaskRecord {
  return {
    id: t.id,
    workspaceId: t.workspaceId,
    repository: t.repository,
    prompt: t.prompt,
    title: t.title,
    branchName: t.branchName,
    provider: t.providerId,
    agent: t.agentType,
    status: t.status,
    statusMessage: t.statusMessage,
    activeSandboxId: t.activeSandboxId,
    activeSessionId: t.activeSessionId,
    workflowId: t.workflowId,
    lastEventSeq: t.lastEventSeq,
    stepTimings: (t.stepTimings ?? {}) as unknown as Record<string, StepTiming>,
    createdAt: t.createdAt.toISOString(),
    updatedAt: t.updatedAt.toISOString(),
    realtime: { subscribe: { event: 'subscribe', payload: { taskId: t.id } }, room: taskRoom(t.id), event: 'task.event' },
  };
}

export function toTaskEventRecord(e: TaskEvent): TaskEventRecord {
  return {
    taskId: e.taskId,
    seq: e.seq,
    type: e.type as TaskEventType,
    payload: e.payload as Record<string, unknown>,
    createdAt: e.createdAt.toISOString(),
  };
}
