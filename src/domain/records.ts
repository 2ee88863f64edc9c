/**
 * Client-facing shapes of a task, a tab and a transcript entry, shared by the REST API and the
 * Socket.IO relay so both always send the same thing. History events are in ./events.ts.
 */
import type { Task, TranscriptEntry, WorkbenchSession } from '../generated/prisma/client';
import type { SandboxState } from './sandboxLifecycle';
import type { ProvisionStep, TaskStatus } from './status';

/** Per-step timing as mirrored from the workflow; times are ISO-8601 strings. */
export interface StepTiming {
  startedAt: string;
  endedAt?: string;
  attempt: number;
}

/**
 * A running step's latest progress report, written by its activity onto the task row
 * (`tasks.step_progress`, src/activities/progress.ts) and merged into the run's live state by
 * src/services/provisioningProgress.ts. Times are ISO-8601 on the activity's clock.
 */
export interface StepProgressReport {
  step: ProvisionStep;
  /** The activity's attempt (1-based) as Temporal counts it for this schedule. */
  attempt: number;
  /** When this attempt made its first report. */
  attemptStartedAt: string;
  /** e.g. `cloning`, `waiting_for_sandbox_host`. */
  subStep: string;
  message: string;
  at: string;
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
  /** Lifecycle state of the active sandbox (docs/PRODUCT.md#sandbox-lifecycle); null before it exists. */
  sandboxState: SandboxState | null;
  workflowId: string;
  /** Sequence number of the newest history event: a client that has seen it has seen everything. */
  lastEventSeq: number;
  stepTimings: Record<string, StepTiming>;
  /** Model tokens its agents used, over every tab (recorded by the egress proxy; `task.usage` events). */
  usage: ModelUsageTotals;
  createdAt: string;
  updatedAt: string;
  /** How a client follows this task: Socket.IO `subscribe` with `{ taskId }`, events named `task.event`. */
  realtime: { subscribe: { event: 'subscribe'; payload: { taskId: string } }; room: string; event: 'task.event' };
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
    sandboxState: t.sandboxState,
    workflowId: t.workflowId,
    lastEventSeq: t.lastEventSeq,
    stepTimings: (t.stepTimings ?? {}) as unknown as Record<string, StepTiming>,
    usage: { inputTokens: t.inputTokens, outputTokens: t.outputTokens },
    createdAt: t.createdAt.toISOString(),
    updatedAt: t.updatedAt.toISOString(),
    realtime: { subscribe: { event: 'subscribe', payload: { taskId: t.id } }, room: taskRoom(t.id), event: 'task.event' },
  };
}

/** A workbench tab as clients see it (docs/PRODUCT.md#tab-statuses). */
export interface SessionRecord {
  id: string;
  taskId: string;
  name: string;
  agent: string;
  model: string | null;
  /** Stored status: pending_provision | pending_session_create | ready | running | error. */
  status: WorkbenchSession['status'];
  /** What the UI shows: "Preparing environment", "Creating session", or the status itself. */
  statusLabel: string;
  /** True only when a message may be sent (status `ready`, not closed). */
  composerEnabled: boolean;
  errorMessage: string | null;
  sandboxSessionId: string | null;
  unread: boolean;
  draft: string;
  closed: boolean;
  thinkingSince: string | null;
  lastEntryIndex: number;
  /** Model tokens used during this tab's turns. */
  usage: ModelUsageTotals;
  createdAt: string;
  updatedAt: string;
}

/** Model tokens, as the model APIs reported them. */
export interface ModelUsageTotals {
  inputTokens: number;
  outputTokens: number;
}

export interface TranscriptEntryRecord {
  index: number;
  /** `system`: a notice of the service in the tab, e.g. "session restarted" after the sandbox woke. */
  role: 'user' | 'agent' | 'system';
  text: string;
  replyTo: number | null;
  delivery: string | null;
  createdAt: string;
}

const STATUS_LABELS: Record<WorkbenchSession['status'], string> = {
  pending_provision: 'Preparing environment',
  pending_session_create: 'Creating session',
  ready: 'Ready',
  running: 'Agent working',
  error: 'Error',
};

export function toSessionRecord(s: WorkbenchSession): SessionRecord {
  return {
    id: s.id,
    taskId: s.taskId,
    name: s.name,
    agent: s.agent,
    model: s.model,
    status: s.status,
    statusLabel: s.closed ? 'Closed' : STATUS_LABELS[s.status],
    composerEnabled: !s.closed && s.status === 'ready',
    errorMessage: s.errorMessage,
    sandboxSessionId: s.sandboxSessionId,
    unread: s.unread,
    draft: s.draft,
    closed: s.closed,
    thinkingSince: s.thinkingSince?.toISOString() ?? null,
    lastEntryIndex: s.lastEntryIndex,
    usage: { inputTokens: s.inputTokens, outputTokens: s.outputTokens },
    createdAt: s.createdAt.toISOString(),
    updatedAt: s.updatedAt.toISOString(),
  };
}

export function toTranscriptEntryRecord(e: TranscriptEntry): TranscriptEntryRecord {
  return { index: e.index, role: e.role as TranscriptEntryRecord['role'], text: e.text, replyTo: e.replyTo, delivery: e.delivery, createdAt: e.createdAt.toISOString() };
}
