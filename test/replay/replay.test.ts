/**
 * Replays histories recorded from real runs (test/fixtures/histories/<version>/, written by
 * `npm run record-histories`) against the current workflow code: a change that would break runs
 * already in flight fails here. `before-tabs/`: provisionTask runs from before the
 * release-workbench-sessions patch; `before-local-mirror/`: runs from before the
 * mirror-as-local-activity patch (tabs included); `before-sandbox-lifecycle/`: runs from before the
 * start-sandbox-lifecycle and workbench-wake-sandbox patches (including one that waited out a database
 * outage behind the wait-out-dependency-outages patch, and the three runs of a tab that continued as
 * new twice behind the workbench-continue-as-new patch); `before-sandbox-hosts/`: the same paths from
 * before the sandbox-host-task-queues patch, plus a tab that woke its sandbox and the
 * `sandboxLifecycle` runs of a woken and an idle-stopped sandbox, every activity on the shared queue;
 * `before-lean-history/`: the same paths from before the lean-provision-history patch, where a sandbox
 * is placed on a host and every activity on it is scheduled on that host's task queue, with every
 * patch marker, regular naming and placement activities and `stepProgress` signals;
 * `before-activity-summaries/`: the same paths from before the web-ui-activity-summaries patch (lean,
 * one patch marker, no activity summaries);
 * `before-task-status/`: the same paths from before the task-status-search-attribute patch (two patch
 * markers, every activity with a Web UI summary, no `TaskStatus` upserts);
 * `current/`: all of them recorded with today's code (a clean provisioning run in at most 35 events:
 * one patch marker, every activity with a Web UI summary, `TaskStatus` upserted per status the run
 * rested in), and a warm sandbox pool's `sandboxPool` run.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Resource } from '@opentelemetry/resources';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import { readStack } from '../../src/dev/stack/stackFile';
import { workflowTracingSinks } from '../../src/worker/tracing';
import { localActivityTypes } from '../support/histories';

const DIR = path.join(__dirname, '../fixtures/histories');

interface HistoryJson {
  events: Array<{
    eventType: string;
    activityTaskScheduledEventAttributes?: { activityType: { name: string }; taskQueue?: { name?: string } };
    activityTaskStartedEventAttributes?: { attempt: number };
    workflowExecutionStartedEventAttributes?: { input?: { payloads: Array<{ data: string }> }; taskQueue?: { name?: string } };
    markerRecordedEventAttributes?: { markerName: string; details?: Record<string, { payloads: Array<{ data: string }> }> };
  }>;
}

const load = (name: string): HistoryJson => JSON.parse(readFileSync(path.join(DIR, `${name}.json`), 'utf8'));
const listFixtures = (): string[] =>
  readdirSync(DIR, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .flatMap((d) =>
      readdirSync(path.join(DIR, d.name))
        .filter((f) => f.endsWith('.json'))
        .map((f) => `${d.name}/${f.replace(/\.json$/, '')}`),
    )
    .sort();
/** True when the run recorded the patch marker `patchId` (payload data is base64 JSON). */
const hasPatchMarker = (h: HistoryJson, patchId: string) =>
  h.events.some((e) => {
    const marker = e.markerRecordedEventAttributes;
    return (
      marker?.markerName === 'core_patch' &&
      Buffer.from(marker.details?.['patch-data']?.payloads[0]?.data ?? '', 'base64')
        .toString()
        .includes(`"${patchId}"`)
    );
  });
/** The Web UI summaries of the run's activities, scheduled or local, in history order (payload data is base64 JSON). */
const summariesOf = (h: HistoryJson): string[] =>
  h.events.flatMap((e) => {
    const data = (e as { userMetadata?: { summary?: { data?: string } } }).userMetadata?.summary?.data;
    const scheduledOrMarker = e.activityTaskScheduledEventAttributes || e.markerRecordedEventAttributes?.markerName === 'core_local_activity';
    return scheduledOrMarker && data ? [JSON.parse(Buffer.from(data, 'base64').toString()) as string] : [];
  });
/** The `TaskStatus` values the run upserted, in order (payload data is base64 JSON). */
const taskStatusUpserts = (h: HistoryJson): string[] =>
  h.events.flatMap((e) => {
    const field = (e as { upsertWorkflowSearchAttributesEventAttributes?: { searchAttributes?: { indexedFields?: Record<string, { data: string }> } } })
      .upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields?.TaskStatus;
    return field ? [JSON.parse(Buffer.from(field.data, 'base64').toString()) as string] : [];
  });
const activities = (h: HistoryJson) => h.events.flatMap((e) => (e.activityTaskScheduledEventAttributes ? [e.activityTaskScheduledEventAttributes.activityType.name] : []));
const signals = (h: HistoryJson) =>
  h.events.flatMap((e) => {
    const attrs = (e as { workflowExecutionSignaledEventAttributes?: { signalName: string } }).workflowExecutionSignaledEventAttributes;
    return attrs ? [attrs.signalName] : [];
  });
/** The task queue each scheduling of activity `name` named. */
const queuesOf = (h: HistoryJson, name: string) =>
  h.events.flatMap((e) => {
    const a = e.activityTaskScheduledEventAttributes;
    return a?.activityType.name === name ? [a.taskQueue!.name!] : [];
  });
const workflowQueue = (h: HistoryJson) => h.events[0]!.workflowExecutionStartedEventAttributes!.taskQueue!.name!;
const workflowType = (h: HistoryJson) => (h.events[0]!.workflowExecutionStartedEventAttributes as { workflowType?: { name?: string } } | undefined)?.workflowType?.name;
const lastType = (h: HistoryJson) => h.events[h.events.length - 1]!.eventType;
/** The run's input (its first argument; payload data is base64 JSON). */
const inputOf = (h: HistoryJson): any => JSON.parse(Buffer.from(h.events[0]!.workflowExecutionStartedEventAttributes!.input!.payloads[0]!.data, 'base64').toString());

describe('replay of recorded provisionTask histories', () => {
  // The bundle the workers run, with its workflow interceptors (tracing, src/worker/tracing.ts) and their sink.
  const options = () => ({ workflowBundle: { codePath: readStack().workflowBundlePath }, sinks: workflowTracingSinks() });

  beforeAll(() => {
    try {
      Runtime.install({ logger: new DefaultLogger('ERROR') });
    } catch {
      // already installed by another suite in this process
    }
  });

  it('has fixtures for every recorded path, each a real run of that path', () => {
    const provisioning = ['error-branch-taken', 'error-repository-not-found', 'running', 'running-after-agent-retry'];
    const tabs = [
      'tab-closed-while-pending',
      'tab-error-then-retry',
      'tab-first-prompt-message-close-tab',
      'tab-first-prompt-message-close-task',
      'task-killed-when-running',
      'task-retried-after-error',
    ];
    const laterPaths = [...provisioning, ...tabs, 'running-after-database-outage', ...['run1', 'run2', 'run3'].map((r) => `tab-continued-as-new-${r}`)];
    expect(listFixtures()).toEqual(
      [
        ...provisioning.map((n) => `before-tabs/${n}`),
        ...[...provisioning, ...tabs].map((n) => `before-local-mirror/${n}`),
        ...laterPaths.map((n) => `before-sandbox-lifecycle/${n}`),
        ...['before-sandbox-hosts', 'before-lean-history', 'before-activity-summaries', 'before-task-status', 'current'].flatMap((version) =>
          [...laterPaths, 'sandbox-woken-by-a-tab-tab', 'sandbox-woken-by-a-tab-lifecycle', 'sandbox-idle-stop'].map((n) => `${version}/${n}`),
        ),
        'current/sandbox-pool',
      ].sort(),
    );
    const steps = ['ensureName', 'createSandbox', 'ensureAgent', 'createSession'];
    const bookkeeping = ['recordTransition', 'recordTransitions', 'handOverProvisioning', 'releasePendingSessions', 'startSandboxLifecycle', 'placeSandbox', 'tryPlaceSandbox'];
    /** The provider steps the run ran, scheduled or local, in order of their records. */
    const stepsOf = (h: HistoryJson) =>
      [...localActivityTypes(h.events), ...activities(h)].filter((a) => !bookkeeping.includes(a)).sort((a, b) => steps.indexOf(a) - steps.indexOf(b));
    for (const version of ['before-tabs', 'before-local-mirror', 'before-sandbox-lifecycle', 'before-sandbox-hosts', 'before-lean-history']) {
      const ok = load(`${version}/running`);
      expect(stepsOf(ok)).toEqual(steps);
      expect(lastType(ok)).toBe('EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED');
      expect(hasPatchMarker(ok, 'release-workbench-sessions')).toBe(version !== 'before-tabs');
      expect(hasPatchMarker(ok, 'mirror-as-local-activity')).toBe(['before-sandbox-lifecycle', 'before-sandbox-hosts', 'before-lean-history'].includes(version));
      // The mirror writes are regular activities before the patch, local activities (markers) after it.
      expect(activities(ok).includes('recordTransition')).toBe(version === 'before-tabs' || version === 'before-local-mirror');
      // Since the lifecycle patch a running task's sandbox gets its lifecycle run, as the last activity.
      expect(hasPatchMarker(ok, 'start-sandbox-lifecycle')).toBe(version === 'before-lean-history' || version === 'before-sandbox-hosts');
      expect(activities(ok).at(-1) === 'startSandboxLifecycle').toBe(version === 'before-lean-history' || version === 'before-sandbox-hosts');
      // Since the hosts patch the sandbox is placed first (on the shared queue), then every step on it
      // runs on the host's own queue; before it, everything ran on the shared queue.
      const hosted = version === 'before-lean-history';
      expect(hasPatchMarker(ok, 'sandbox-host-task-queues')).toBe(hosted);
      expect(activities(ok).includes('placeSandbox')).toBe(hosted);
      for (const onSandbox of ['createSandbox', 'ensureAgent', 'createSession']) {
        expect(queuesOf(ok, onSandbox)).toEqual([hosted ? `${workflowQueue(ok)}-host-${queuesOf(ok, 'createSandbox')[0]!.split('-host-')[1]}` : workflowQueue(ok)]);
      }
      if (hosted) expect(queuesOf(ok, 'createSandbox')[0]).not.toBe(workflowQueue(ok));
      const retried = load(`${version}/running-after-agent-retry`);
      expect(retried.events.some((e) => (e.activityTaskStartedEventAttributes?.attempt ?? 1) > 1)).toBe(true);
      for (const failed of ['error-branch-taken', 'error-repository-not-found']) {
        expect(stepsOf(load(`${version}/${failed}`))).toEqual(['ensureName']);
        expect(lastType(load(`${version}/${failed}`))).toBe('EVENT_TYPE_WORKFLOW_EXECUTION_FAILED');
      }
    }
    // Since the lean-history patch: one patch marker (two since the summaries patch), naming, placement
    // and every mirror write as local activities (a step's end written with the next one's start), the
    // hand-over one local activity, no progress signals; only the three steps on the sandbox are
    // scheduled, on its host's queue.
    const beforeSummaries = load('before-activity-summaries/running');
    expect(beforeSummaries.events.filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_patch')).toHaveLength(1);
    expect(summariesOf(beforeSummaries)).toEqual([]);
    const beforeStatus = load('before-task-status/running');
    expect(beforeStatus.events.filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_patch')).toHaveLength(2);
    expect(hasPatchMarker(beforeStatus, 'web-ui-activity-summaries')).toBe(true);
    expect(taskStatusUpserts(beforeStatus)).toEqual([]);
    expect(summariesOf(beforeStatus)[0]).toBe('mirror: init_ensure_name started');
    // Since the task-status patch: its one marker implies the lean and summaries patches; TaskStatus is
    // upserted once per status the run rested in (naming passes within the first workflow task), and
    // naming writes its own start, so a clean run stays within 35 events.
    const lean = load('current/running');
    expect(lean.events.length).toBeLessThanOrEqual(35);
    expect(lean.events.filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_patch')).toHaveLength(1);
    expect(hasPatchMarker(lean, 'task-status-search-attribute')).toBe(true);
    expect(taskStatusUpserts(lean)).toEqual(['init_create_sandbox', 'init_ensure_agent', 'init_create_session', 'running']);
    expect(taskStatusUpserts(load('current/error-repository-not-found'))).toEqual(['error']);
    // Since the summaries patch every activity, scheduled or local, names its step and object, in the
    // order of the step list.
    expect(summariesOf(lean).map((summary) => summary.split(':')[0])).toEqual([
      'init_ensure_name',
      'mirror',
      'init_create_sandbox',
      'init_create_sandbox',
      'mirror',
      'init_ensure_agent',
      'mirror',
      'init_create_session',
      'hand-over',
    ]);
    expect(summariesOf(lean)).toContain('mirror: task.named, init_create_sandbox started');
    expect(signals(lean)).toEqual([]);
    expect(activities(lean)).toEqual(['createSandbox', 'ensureAgent', 'createSession']);
    for (const onSandbox of ['createSandbox', 'ensureAgent', 'createSession']) expect(queuesOf(lean, onSandbox)[0]).toMatch(new RegExp(`^${workflowQueue(lean)}-host-`));
    expect(localActivityTypes(lean.events)).toEqual(['ensureName', 'recordTransitions', 'tryPlaceSandbox', 'recordTransitions', 'recordTransitions', 'handOverProvisioning']);
    expect(lastType(lean)).toBe('EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED');
    const leanRetried = load('current/running-after-agent-retry');
    expect(leanRetried.events.some((e) => (e.activityTaskStartedEventAttributes?.attempt ?? 1) > 1)).toBe(true);
    for (const failed of ['error-branch-taken', 'error-repository-not-found']) {
      expect(stepsOf(load(`current/${failed}`))).toEqual(['ensureName']);
      expect(activities(load(`current/${failed}`))).toEqual([]);
      expect(lastType(load(`current/${failed}`))).toBe('EVENT_TYPE_WORKFLOW_EXECUTION_FAILED');
    }
    // A warm pool's run: planned, its member placed and warmed on the host's queue, refilled after the
    // claim (woken by its signal), then drained when turned off; it ends once the pool is off and empty.
    const pool = load('current/sandbox-pool');
    expect(workflowType(pool)).toBe('sandboxPool');
    expect(activities(pool)).toEqual(['warmSandbox', 'warmSandbox', 'destroyWarmSandbox']);
    for (const onHost of ['warmSandbox', 'destroyWarmSandbox']) expect(queuesOf(pool, onHost)[0]).toMatch(new RegExp(`^${workflowQueue(pool)}-host-`));
    expect(localActivityTypes(pool.events).filter((a) => a === 'placeWarmSandbox')).toHaveLength(2);
    expect(signals(pool).filter((s) => s === 'refillSandboxPool').length).toBeGreaterThanOrEqual(2);
    expect(lastType(pool)).toBe('EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED');
    const tab = load('current/tab-first-prompt-message-close-tab');
    expect(activities(tab).filter((a) => a === 'promptAgent')).toHaveLength(2); // the first prompt once, then one message
    expect(activities(tab)).toContain('endAgentSession');
    expect(tab.events.filter((e) => e.eventType === 'EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED').length).toBeGreaterThanOrEqual(3); // sandboxReady, sendMessage, closeSession
    expect(localActivityTypes(load('current/tab-first-prompt-message-close-task').events)).toContain('handOverProvisioning');
    expect(activities(load('current/tab-closed-while-pending'))).not.toContain('openAgentSession');
    expect(activities(load('current/tab-error-then-retry')).filter((a) => a === 'openAgentSession')).toHaveLength(2);
    expect(activities(load('before-sandbox-hosts/task-killed-when-running'))).toEqual(['cancelProvisioning', 'closeTaskSessions', 'destroyTaskSandboxes', 'markKilled']);
    // Since the hosts patch: recorded destroyed on the shared queue, removed by the sandbox's own host.
    const kill = load('current/task-killed-when-running');
    expect(activities(kill)).toEqual(['cancelProvisioning', 'closeTaskSessions', 'markSandboxesDestroyed', 'destroySandbox', 'markKilled']);
    expect(queuesOf(kill, 'destroySandbox')[0]).toMatch(new RegExp(`^${workflowQueue(kill)}-host-`));
    // Two schedules of createSandbox hit a database outage; the run waited (timers) and scheduled it again.
    const outage = load('current/running-after-database-outage');
    expect(hasPatchMarker(outage, 'task-status-search-attribute')).toBe(true); // implies lean-provision-history, which implies wait-out-dependency-outages
    expect(activities(outage).filter((a) => a === 'createSandbox')).toHaveLength(3);
    expect(outage.events.filter((e) => e.eventType === 'EVENT_TYPE_TIMER_STARTED')).toHaveLength(2);
    expect(lastType(outage)).toBe('EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED');
    const retriedRun = load('current/task-retried-after-error'); // the second run of the task's workflow id
    expect(stepsOf(retriedRun)).toEqual(steps);
    // A tab forced to continue as new after every turn: the first run opens the session and serves the
    // first message, the second message queued behind it is carried to the second run, which sends it
    // (opening nothing, recording nothing again); the third run is closed and ends the session.
    const [run1, run2, run3] = ['run1', 'run2', 'run3'].map((r) => load(`current/tab-continued-as-new-${r}`));
    expect(activities(run1!).filter((a) => a !== 'recordSessionTransition')).toEqual([
      'resolveSessionSandbox',
      'locateSandbox',
      'openAgentSession',
      'undeliveredMessages',
      'promptAgent',
    ]);
    expect(queuesOf(run1!, 'promptAgent')[0]).toMatch(/-host-/);
    expect(hasPatchMarker(run1!, 'workbench-continue-as-new')).toBe(true);
    expect(lastType(run1!)).toBe('EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW');
    // The host's queue is handed over too: the next run looks nothing up.
    expect(inputOf(run2!)).toMatchObject({
      continueAsNewAfterTurns: 1,
      continued: { sessionOpen: true, queuedMessages: [expect.any(Number)], hostTaskQueue: queuesOf(run1!, 'promptAgent')[0] },
    });
    expect(activities(run2!)).toEqual(['promptAgent']);
    expect(lastType(run2!)).toBe('EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW');
    expect(inputOf(run3!)).toMatchObject({ continued: { sessionOpen: true, queuedMessages: [] } });
    expect(activities(run3!)).toEqual(['endAgentSession']);
    expect(hasPatchMarker(run3!, 'workbench-non-cancellable-cleanup')).toBe(true);
    expect(lastType(run3!)).toBe('EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED');
    // A tab whose message found the agent dead: the turn was refused before the claim, the opening
    // found the sandbox asleep, the tab asked the lifecycle run to wake it, was told (sandboxAwake),
    // opened the session again and sent the message: three openings, three prompts, one wake.
    const woke = load('current/sandbox-woken-by-a-tab-tab');
    expect(hasPatchMarker(woke, 'workbench-wake-sandbox')).toBe(true);
    expect(activities(woke).filter((a) => a === 'requestSandboxResume')).toHaveLength(1);
    expect(activities(woke).filter((a) => a === 'openAgentSession')).toHaveLength(3);
    expect(activities(woke).filter((a) => a === 'promptAgent')).toHaveLength(3);
    expect(signals(woke)).toContain('sandboxAwake');
    // Its sandbox's lifecycle run: the tab's resume, a user's stop and resume, then destroyed by the kill.
    const lifecycle = load('current/sandbox-woken-by-a-tab-lifecycle');
    expect(activities(lifecycle)).toEqual(['locateSandbox', 'resumeSandbox', 'stopSandbox', 'resumeSandbox']);
    expect(new Set(queuesOf(lifecycle, 'stopSandbox'))).toEqual(new Set(queuesOf(woke, 'promptAgent')));
    expect(signals(lifecycle)).toEqual(['resumeSandbox', 'stopSandbox', 'resumeSandbox', 'sandboxDestroyed']);
    expect(lastType(lifecycle)).toBe('EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED');
    // An idle sandbox: the durable idle timer fired and the run stopped it; the archive ended the run.
    const idle = load('current/sandbox-idle-stop');
    expect(idle.events.filter((e) => e.eventType === 'EVENT_TYPE_TIMER_FIRED').length).toBeGreaterThanOrEqual(1);
    expect(activities(idle)).toEqual(['locateSandbox', 'stopSandbox']);
    expect(signals(idle)).toEqual(['sandboxDestroyed']);
    expect(lastType(idle)).toBe('EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED');
  });

  it('replays every fixture with no error', async () => {
    const names = listFixtures();
    const histories = names.map((n) => ({ workflowId: n, history: load(n) }));
    const results: Array<{ workflowId: string; error?: unknown }> = [];
    for await (const result of Worker.runReplayHistories(options(), histories)) results.push({ workflowId: result.workflowId, error: result.error });
    expect(results.map((r) => r.workflowId).sort()).toEqual(names);
    for (const r of results) expect({ workflowId: r.workflowId, error: r.error }).toEqual({ workflowId: r.workflowId, error: undefined });
  });

  it('replays with the tracing interceptors the workers run: the recorded run makes its workflow and activity spans again', async () => {
    // A replay worker calls no sink unless it asks to be called during replay: this one does, to see the spans.
    const exporter = new InMemorySpanExporter();
    const { exporter: sink } = workflowTracingSinks({ spanProcessor: new SimpleSpanProcessor(exporter), resource: Resource.empty() });
    await Worker.runReplayHistory({ ...options(), sinks: { exporter: { export: { ...sink.export, callDuringReplay: true } } } }, load('current/running'), 'traced');
    const spans = exporter.getFinishedSpans();
    const run = spans.filter((s) => s.name === 'RunWorkflow:provisionTask');
    expect(run).toHaveLength(1);
    const scheduled = spans.filter((s) => s.name.startsWith('StartActivity:') && s.parentSpanId === run[0]!.spanContext().spanId).map((s) => s.name);
    expect(scheduled).toEqual(expect.arrayContaining(['ensureName', 'createSandbox', 'ensureAgent', 'createSession', 'recordTransitions'].map((a) => `StartActivity:${a}`)));
  });

  it('detects a history the code would not produce (the check has teeth)', async () => {
    const history = load('current/running');
    const scheduled = history.events.find((e) => e.activityTaskScheduledEventAttributes?.activityType.name === 'createSandbox')!;
    scheduled.activityTaskScheduledEventAttributes!.activityType.name = 'ensureAgent';
    await expect(Worker.runReplayHistory(options(), history, 'tampered')).rejects.toThrow(DeterminismViolationError);
  });
});
