/** Unit tests of the pure task-view reducer (client/taskView.ts): no server, hand-made messages. */
import { createTaskView, reduceTaskView, resumePayload, type TaskView, type TaskViewInput } from '../../client/taskView';
import { createWorkspaceView, reduceWorkspaceView } from '../../client/taskView';
import type { SessionRecord, TaskEventPayload, TaskEventRecord, TaskRecord } from '../../client/types';
import type { TaskEventMessage } from '../../client/realtimeContract';

const TASK_ID = '0f8fad5b-d9cb-469f-a165-70867728950e';
const at = (seq: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, seq)).toISOString();

function task(lastEventSeq: number, over: Partial<TaskRecord> = {}): TaskRecord {
  return {
    id: TASK_ID,
    workspaceId: 'ws',
    repository: '/repo',
    prompt: 'p',
    title: null,
    branchName: null,
    provider: 'local',
    agent: 'claude',
    status: 'init_ensure_name',
    statusMessage: '',
    activeSandboxId: null,
    activeSessionId: null,
    sandboxState: null,
    workflowId: `provision-task-${TASK_ID}`,
    lastEventSeq,
    stepTimings: {},
    usage: { inputTokens: 0, outputTokens: 0 },
    createdAt: at(0),
    updatedAt: at(lastEventSeq),
    realtime: { subscribe: { event: 'subscribe', payload: { taskId: TASK_ID } }, room: `task:${TASK_ID}`, event: 'task.event' },
    ...over,
  };
}

/** An event of `type` with that type's payload (a `task.step` start by default). */
function event(seq: number): TaskEventRecord;
function event<K extends TaskEventRecord['type']>(seq: number, type: K, payload: TaskEventPayload<K>): TaskEventRecord;
function event(seq: number, type: TaskEventRecord['type'] = 'task.step', payload: unknown = { step: 'init_ensure_name', status: 'started', message: `m${seq}` }): TaskEventRecord {
  return { taskId: TASK_ID, seq, type, payload, createdAt: at(seq) } as TaskEventRecord;
}
const msg = (seq: number, e: TaskEventRecord = event(seq)): TaskViewInput => ({ kind: 'event', message: { task: task(seq), event: e } satisfies TaskEventMessage });
const run = (inputs: TaskViewInput[], from: TaskView = createTaskView(TASK_ID)) => inputs.reduce(reduceTaskView, from);
const seqs = (v: TaskView) => v.events.map((e) => e.seq);

describe('reduceTaskView', () => {
  it('applies events in seq order whatever order they arrive in', () => {
    const v = run([msg(2), msg(3), msg(1)]);
    expect(seqs(v)).toEqual([1, 2, 3]);
    expect(v.lastSeq).toBe(3);
    expect(v.task?.lastEventSeq).toBe(3);
    expect(v.gap).toBeNull();
    expect(v.pending).toEqual([]);
  });

  it('applies a duplicate once and returns the same view for it', () => {
    const once = run([msg(1), msg(2)]);
    expect(reduceTaskView(once, msg(2))).toBe(once);
    expect(reduceTaskView(once, msg(1))).toBe(once);
    const buffered = run([msg(1), msg(3)]);
    expect(reduceTaskView(buffered, msg(3))).toBe(buffered);
    expect(seqs(run([msg(1), msg(1), msg(2), msg(2)]))).toEqual([1, 2]);
  });

  it('reports a gap and applies nothing beyond it until it is filled', () => {
    const v = run([msg(1), msg(2), msg(5), msg(6)]);
    expect(v.gap).toEqual({ afterSeq: 2, beforeSeq: 5 });
    expect(seqs(v)).toEqual([1, 2]);
    expect(v.task?.lastEventSeq).toBe(2); // the record of a buffered message is not shown yet
    expect(v.pending.map((p) => p.event.seq)).toEqual([5, 6]);

    const half = reduceTaskView(v, { kind: 'history', events: [event(3)] });
    expect(half.gap).toEqual({ afterSeq: 3, beforeSeq: 5 });
    const filled = reduceTaskView(half, { kind: 'history', events: [event(3), event(4), event(5)] });
    expect(filled.gap).toBeNull();
    expect(seqs(filled)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(filled.task?.lastEventSeq).toBe(6);
  });

  it('drops what the snapshot covers and applies what follows it', () => {
    const snap = run([{ kind: 'snapshot', task: task(4, { status: 'init_create_sandbox' }) }]);
    expect(snap.lastSeq).toBe(4);
    expect(snap.task?.status).toBe('init_create_sandbox');
    expect(reduceTaskView(snap, msg(3))).toBe(snap);
    expect(reduceTaskView(snap, msg(4))).toBe(snap);
    const v = run([msg(5), msg(4), msg(6)], snap);
    expect(seqs(v)).toEqual([5, 6]);
    expect(v.gap).toBeNull();

    // Events buffered beyond a gap the snapshot then covers are applied or dropped, not left waiting.
    const buffered = run([msg(1), msg(3), msg(5)]);
    expect(buffered.gap).toEqual({ afterSeq: 1, beforeSeq: 3 });
    const covered = reduceTaskView(buffered, { kind: 'snapshot', task: task(4) });
    expect(covered.gap).toBeNull();
    expect(seqs(covered)).toEqual([1, 5]);
    expect(covered.lastSeq).toBe(5);
    // An older snapshot changes nothing.
    expect(reduceTaskView(covered, { kind: 'snapshot', task: task(2) })).toBe(covered);
  });

  it('after a reconnect, resubscribing with afterSeq replays exactly the missing events', () => {
    // Connected: 1..3 arrive; then the socket drops while 4..6 happen.
    const before = run([msg(1), msg(2), msg(3)]);
    expect(resumePayload(before)).toEqual({ taskId: TASK_ID, afterSeq: 3 });
    // The resubscribe replays 4..6 before its ack (snapshot at 6); a live 6 also arrives on the new socket, then 7.
    const after = run([msg(4), msg(5), msg(6), { kind: 'snapshot', task: task(6, { status: 'running' }) }, msg(6), msg(7)], before);
    expect(seqs(after)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(after.gap).toBeNull();
    // With a gap open at the disconnect, the resume point is the last contiguous seq: the replay fills it.
    const holed = run([msg(1), msg(3)]);
    expect(resumePayload(holed).afterSeq).toBe(1);
    expect(seqs(run([msg(2), msg(3), msg(4)], holed))).toEqual([1, 2, 3, 4]);
  });

  it('ignores events of other tasks and accepts the task id in any letter case', () => {
    const other = { ...event(1), taskId: '11111111-1111-4111-8111-111111111111' };
    const v = createTaskView(TASK_ID.toUpperCase());
    expect(reduceTaskView(v, { kind: 'event', message: { task: task(1), event: other } })).toBe(v);
    expect(seqs(reduceTaskView(v, msg(1)))).toEqual([1]);
  });

  it('derives the step list with timings from the record and task.step / task.error events', () => {
    // As the service mirrors them: a failed step has an end time too.
    const timings = { init_ensure_name: { startedAt: at(1), endedAt: at(3), attempt: 1 }, init_create_sandbox: { startedAt: at(4), endedAt: at(6), attempt: 2 } };
    const v = run([
      { kind: 'event', message: { task: task(1), event: event(1, 'task.step', { step: 'init_ensure_name', status: 'started', message: 'naming task' }) } },
      {
        kind: 'event',
        message: { task: task(2, { stepTimings: timings, status: 'error' }), event: event(2, 'task.error', { step: 'init_create_sandbox', type: 'X', detail: 'clone failed' }) },
      },
    ]);
    expect(v.steps.map((s) => [s.step, s.state])).toEqual([
      ['init_ensure_name', 'completed'],
      ['init_create_sandbox', 'failed'],
      ['init_ensure_agent', 'pending'],
      ['init_create_session', 'pending'],
    ]);
    expect(v.steps[0]).toMatchObject({ attempt: 1, startedAt: at(1), endedAt: at(3), durationMs: 2000, message: 'naming task' });
    expect(v.steps[1]).toMatchObject({ attempt: 2, error: 'clone failed', endedAt: at(6), durationMs: 2000 });
  });

  it('keeps tabs in creation order with their transcripts, each entry once', () => {
    const session = (over: Partial<SessionRecord> = {}): SessionRecord => ({
      id: 'session-1',
      taskId: TASK_ID,
      name: 'Tab 1',
      agent: 'claude',
      model: null,
      status: 'pending_provision',
      statusLabel: 'Preparing environment',
      composerEnabled: false,
      errorMessage: null,
      sandboxSessionId: null,
      unread: false,
      draft: '',
      closed: false,
      thinkingSince: null,
      lastEntryIndex: 0,
      usage: { inputTokens: 0, outputTokens: 0 },
      createdAt: at(1),
      updatedAt: at(1),
      ...over,
    });
    const entry = (index: number) => ({ index, role: 'agent' as const, text: `t${index}`, replyTo: null, delivery: null, createdAt: at(index) });
    const v = run([
      msg(1, event(1, 'session.created', { session: session() })),
      msg(2, event(2, 'session.updated', { session: session({ status: 'ready', composerEnabled: true }) })),
      msg(4, event(4, 'session.transcript', { sessionId: 'session-1', entry: entry(1) })),
      msg(3, event(3, 'session.transcript', { sessionId: 'session-1', entry: entry(2) })),
      msg(5, event(5, 'session.transcript', { sessionId: 'session-1', entry: entry(2) })),
      msg(6, event(6, 'session.created', { session: session({ id: 'session-2', name: 'Tab 2' }) })),
    ]);
    expect(v.tabs.map((t) => t.session.id)).toEqual(['session-1', 'session-2']);
    expect(v.tabs[0].session.composerEnabled).toBe(true);
    expect(v.tabs[0].transcript.map((e) => e.index)).toEqual([1, 2]);
    const closed = reduceTaskView(v, msg(7, event(7, 'session.closed', { session: session({ closed: true }) })));
    expect(closed.tabs[0].session.closed).toBe(true);
  });
});

describe('reduceWorkspaceView', () => {
  it('keeps the newest record per task, newest task first, and ignores other workspaces', () => {
    const a = task(3, { id: 'a', createdAt: at(1) });
    const b = task(1, { id: 'b', createdAt: at(2) });
    let v = reduceWorkspaceView(createWorkspaceView('ws'), { kind: 'snapshot', tasks: [a, b] });
    expect(v.tasks.map((t) => t.id)).toEqual(['b', 'a']);
    const stale = reduceWorkspaceView(v, { kind: 'event', message: { task: task(2, { id: 'a', createdAt: at(1) }), event: event(2) } });
    expect(stale).toBe(v);
    v = reduceWorkspaceView(v, { kind: 'event', message: { task: task(4, { id: 'a', createdAt: at(1), status: 'running' }), event: event(4) } });
    expect(v.tasks.find((t) => t.id === 'a')?.status).toBe('running');
    expect(v.tasks.map((t) => t.id)).toEqual(['b', 'a']); // an update keeps the task's place
    // New tasks go to their place: newest first, by id (descending) among equal creation times.
    v = reduceWorkspaceView(v, { kind: 'event', message: { task: task(1, { id: 'c', createdAt: at(3) }), event: event(1) } });
    v = reduceWorkspaceView(v, { kind: 'event', message: { task: task(1, { id: 'd', createdAt: at(2) }), event: event(1) } });
    v = reduceWorkspaceView(v, { kind: 'event', message: { task: task(1, { id: 'a0', createdAt: at(0) }), event: event(1) } });
    expect(v.tasks.map((t) => t.id)).toEqual(['c', 'd', 'b', 'a', 'a0']);
    expect(reduceWorkspaceView(v, { kind: 'snapshot', tasks: [task(1, { id: 'c', workspaceId: 'other' })] })).toBe(v);
  });
});
