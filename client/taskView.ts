/**
 * The pure side of the realtime client: what a frontend shows of one task (its record, the step list
 * with timings, the tabs with their transcripts, the history) as a reducer over what arrives — the
 * `subscribe` ack (a snapshot), pushed `task.event` messages and history pages read over REST. No I/O:
 * ./realtime.ts feeds it and acts on the gaps it reports.
 *
 * Sequence rules (the realtime contract): `seq` is dense per task from 1. Everything up to
 * `view.lastSeq` is in the view, applied or covered by a snapshot; an event at or below it is dropped
 * (duplicate, or already in the snapshot). The next one is applied, and so are the buffered ones that
 * follow it. One further ahead is buffered in `pending` and reported as `gap` until the missing ones
 * arrive (pushed, replayed after a resubscribe, or read over REST).
 */
import type { TaskEventMessage } from './realtimeContract';
import { PROVISION_STEPS, type ProvisionStep, type SessionRecord, type TaskEventRecord, type TaskRecord, type TranscriptEntryRecord } from './types';

/** State of one provisioning step: `cancelled` when the task was killed or archived while it ran. */
export type StepState = 'pending' | 'running' | 'completed' | 'failed' | 'cancelled';

/** One provisioning step as shown: times are ISO-8601 strings, `durationMs` in milliseconds. */
export interface StepView {
  step: ProvisionStep;
  state: StepState;
  /** Attempt number of the step (1 = first), null before it started. */
  attempt: number | null;
  startedAt: string | null;
  endedAt: string | null;
  /** endedAt − startedAt in ms; null until both are known. */
  durationMs: number | null;
  /** The message of its latest `task.step` event. */
  message: string | null;
  /** The detail of the `task.error` that failed it (cleared by a `task.retry`). */
  error: string | null;
}

/** One workbench tab: the latest record (closed tabs stay, with `closed: true`) and its transcript ordered by `index`, each entry once. */
export interface TabView {
  session: SessionRecord;
  transcript: TranscriptEntryRecord[];
}

/** Events `afterSeq + 1 .. beforeSeq - 1` are missing; `beforeSeq` and maybe later ones wait in `pending`. */
export interface SeqGap {
  afterSeq: number;
  beforeSeq: number;
}

/** Everything known about one task. Treat as immutable: the reducer returns a new object on change. */
export interface TaskView {
  taskId: string;
  /** The newest task record seen (snapshot or message); null before the first. */
  task: TaskRecord | null;
  /** Every event with seq ≤ lastSeq is in the view (applied, or covered by a snapshot). */
  lastSeq: number;
  /** Applied events, ascending `seq`, each once (those covered only by a snapshot are not listed). */
  events: TaskEventRecord[];
  /** The provisioning steps in run order. */
  steps: StepView[];
  /** Tabs in creation order. */
  tabs: TabView[];
  /** The first hole in the sequence, or null when nothing waits. */
  gap: SeqGap | null;
  /** Events received beyond a gap (ascending `seq`), applied once the gap is filled. */
  pending: Array<{ event: TaskEventRecord; task: TaskRecord | null }>;
}

/** What the reducer consumes. */
export type TaskViewInput =
  /** A `subscribe` ack's task: replaces the record and covers every seq ≤ task.lastEventSeq. */
  | { kind: 'snapshot'; task: TaskRecord }
  /** A pushed or replayed `task.event` message. */
  | { kind: 'event'; message: TaskEventMessage }
  /** Events read over REST (`GET /v1/tasks/:id/events`), e.g. to fill a gap; they carry no task record. */
  | { kind: 'history'; events: TaskEventRecord[] };

/** The empty view of a task nothing is known about yet. */
export function createTaskView(taskId: string): TaskView {
  const view: TaskView = { taskId: taskId.toLowerCase(), task: null, lastSeq: 0, events: [], steps: [], tabs: [], gap: null, pending: [] };
  return { ...view, steps: deriveSteps(view) };
}

/**
 * Applies one input to `view` and returns the new view, or `view` itself when nothing changed (an
 * event of another task, a duplicate, an event the snapshot covers, an older snapshot).
 */
export function reduceTaskView(view: TaskView, input: TaskViewInput): TaskView {
  switch (input.kind) {
    case 'snapshot': {
      if (input.task.id.toLowerCase() !== view.taskId) return view;
      if (view.task && input.task.lastEventSeq < view.task.lastEventSeq && input.task.lastEventSeq <= view.lastSeq) return view;
      const task = !view.task || input.task.lastEventSeq >= view.task.lastEventSeq ? input.task : view.task;
      return finish({ ...view, task, lastSeq: Math.max(view.lastSeq, input.task.lastEventSeq) });
    }
    case 'event':
      return receive(view, [{ event: input.message.event, task: input.message.task }]);
    case 'history':
      return receive(
        view,
        input.events.map((event) => ({ event, task: null })),
      );
  }
}

/** The `subscribe` payload that resumes `view` after a reconnect: every event after `lastSeq` is replayed. */
export function resumePayload(view: TaskView): { taskId: string; afterSeq: number } {
  return { taskId: view.taskId, afterSeq: view.lastSeq };
}

function receive(view: TaskView, items: TaskView['pending']): TaskView {
  let pending = view.pending;
  let changed = false;
  for (const item of items) {
    const seq = item.event.seq;
    if (item.event.taskId.toLowerCase() !== view.taskId || !Number.isInteger(seq) || seq <= view.lastSeq) continue;
    if (pending.some((p) => p.event.seq === seq)) continue;
    pending = [...pending, item].sort((a, b) => a.event.seq - b.event.seq);
    changed = true;
  }
  return changed ? finish({ ...view, pending }) : view;
}

/** Applies the pending events that follow lastSeq, drops covered ones, recomputes gap and steps. */
function finish(view: TaskView): TaskView {
  let next = view;
  let pending = view.pending.filter((p) => p.event.seq > view.lastSeq);
  while (pending.length > 0 && pending[0].event.seq === next.lastSeq + 1) {
    next = applyEvent(next, pending[0].event, pending[0].task);
    pending = pending.slice(1);
  }
  const gap = pending.length > 0 ? { afterSeq: next.lastSeq, beforeSeq: pending[0].event.seq } : null;
  next = { ...next, pending, gap };
  return { ...next, steps: deriveSteps(next) };
}

function applyEvent(view: TaskView, event: TaskEventRecord, task: TaskRecord | null): TaskView {
  const next: TaskView = { ...view, lastSeq: event.seq, events: [...view.events, event] };
  if (task && (!view.task || task.lastEventSeq >= view.task.lastEventSeq)) next.task = task;
  if (event.type === 'session.created' || event.type === 'session.updated' || event.type === 'session.closed') {
    const { session } = event.payload;
    const at = view.tabs.findIndex((t) => t.session.id === session.id);
    next.tabs = at < 0 ? [...view.tabs, { session, transcript: [] }] : view.tabs.map((t, i) => (i === at ? { ...t, session } : t));
  } else if (event.type === 'session.transcript') {
    const { sessionId, entry } = event.payload;
    const at = view.tabs.findIndex((t) => t.session.id === sessionId);
    // A transcript entry of a tab opened before what this view has seen is not shown (the tab is unknown).
    if (at < 0 || view.tabs[at].transcript.some((e) => e.index === entry.index)) return next;
    const transcript = [...view.tabs[at].transcript, entry].sort((a, b) => a.index - b.index);
    next.tabs = view.tabs.map((t, i) => (i === at ? { ...t, transcript } : t));
  }
  return next;
}

function deriveSteps(view: TaskView): StepView[] {
  const messages = new Map<string, string>();
  const started = new Map<string, string>();
  const completed = new Map<string, string>();
  const errors = new Map<string, string>();
  for (const e of view.events) {
    if (e.type === 'task.step') {
      const { step, status, message } = e.payload;
      messages.set(step, message);
      if (status === 'started') {
        started.set(step, e.createdAt);
        completed.delete(step);
        errors.delete(step);
      } else completed.set(step, e.createdAt);
    } else if (e.type === 'task.error') {
      errors.set(e.payload.step, e.payload.detail);
    } else if (e.type === 'task.retry') {
      errors.clear();
      completed.clear();
      started.clear();
    }
  }
  const status = view.task?.status;
  return PROVISION_STEPS.map((step) => {
    const timing = view.task?.stepTimings[step];
    const startedAt = timing?.startedAt ?? started.get(step) ?? null;
    const endedAt = timing?.endedAt ?? completed.get(step) ?? null;
    const error = errors.get(step) ?? null;
    let state: StepState = 'pending';
    // A failed step has an end time too (the run records when it ended); its task.error decides.
    if (error) state = 'failed';
    else if (endedAt) state = 'completed';
    else if (startedAt) state = status === 'killed' || status === 'archived' ? 'cancelled' : 'running';
    const durationMs = startedAt && endedAt ? Date.parse(endedAt) - Date.parse(startedAt) : null;
    return { step, state, attempt: timing?.attempt ?? null, startedAt, endedAt, durationMs, message: messages.get(step) ?? null, error };
  });
}

/** The tasks of one workspace as a list, newest first; each record is the newest seen (highest `lastEventSeq`). */
export interface WorkspaceView {
  workspaceId: string;
  tasks: TaskRecord[];
}

/** What the workspace reducer consumes: a page of `GET /v1/tasks` (a snapshot of those tasks), or a pushed message. */
export type WorkspaceViewInput = { kind: 'snapshot'; tasks: TaskRecord[] } | { kind: 'event'; message: TaskEventMessage };

/** The empty view of a workspace. */
export function createWorkspaceView(workspaceId: string): WorkspaceView {
  return { workspaceId, tasks: [] };
}

/**
 * Applies a snapshot page or a message: a task record replaces the one held when its `lastEventSeq`
 * is at least as high (each message carries the whole record, so a missed event leaves no hole in a
 * list); records of other workspaces are ignored. Returns `view` itself when nothing changed.
 */
export function reduceWorkspaceView(view: WorkspaceView, input: WorkspaceViewInput): WorkspaceView {
  const incoming = input.kind === 'snapshot' ? input.tasks : [input.message.task];
  let tasks = view.tasks;
  for (const task of incoming) {
    if (task.workspaceId !== view.workspaceId) continue;
    const at = tasks.findIndex((t) => t.id === task.id);
    if (at >= 0 && (tasks[at].lastEventSeq > task.lastEventSeq || tasks[at] === task)) continue;
    if (at >= 0) {
      // A task keeps its place: createdAt and id, the sort keys, never change.
      tasks = tasks.map((t, i) => (i === at ? task : t));
    } else {
      const before = tasks.findIndex((t) => newestFirst(task, t) < 0);
      tasks = before < 0 ? [...tasks, task] : [...tasks.slice(0, before), task, ...tasks.slice(before)];
    }
  }
  return tasks === view.tasks ? view : { ...view, tasks };
}

/** The list's order: newest first, by id among equal creation times. */
function newestFirst(a: TaskRecord, b: TaskRecord): number {
  return b.createdAt.localeCompare(a.createdAt) || b.id.localeCompare(a.id);
}
