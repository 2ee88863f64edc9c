/**
 * `provisionTask`: provisions one task in the background after the API has committed its row.
 *
 * Steps, in order (status names: docs/PRODUCT.md#statuses): init_ensure_name -> init_create_sandbox (placed on a
 * sandbox host, then made there) -> init_ensure_agent -> init_create_session -> running, then the sandbox's lifecycle run takes over (./sandboxLifecycle.ts); `error` on a failure no retry fixes, with a message naming the
 * step. Each step is one activity with its own timeout and retry policy (./policies.ts); the sandbox's
 * steps run on the task queue of the host it was placed on (docs/DEPLOYMENT.md#placement). Every
 * transition runs the mirror activity, which writes the task row and a history event in one
 * transaction and notifies realtime clients.
 *
 * Since the lean-provision-history patch a clean run records at most 35 history events
 * (docs/BENCHMARKS.md): the short orchestration steps (naming, placement) and every mirror write are
 * local activities; a step's end and the next step's start are mirrored in one write; the hand-over at
 * `running` (transition, waiting tabs, lifecycle run) is one local activity; and step activities
 * report their sub-steps onto the task row (docs/ARCHITECTURE.md#step-progress) instead of signalling.
 *
 * Workflow code only: no I/O. The `provisionState` query reads workflow memory (steps, their times,
 * outage waits); the API adds the running step's latest report (src/services/provisioningProgress.ts).
 * Runs recorded before the patch keep their path: the `stepProgress` signal handler stays for them.
 */
import {
  ApplicationFailure,
  isCancellation,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
  type ActivityOptions,
} from '@temporalio/workflow';
import type { StepTiming } from '../domain/records';
import type { NewTaskEvent, TaskEventPayloads } from '../domain/events';
import { STEP_MESSAGES, type ProvisionStep, type TaskStatus } from '../domain/status';
import {
  provisionStateQuery,
  stepProgressSignal,
  PROVISION_START_STATUS,
  type ProvisionActivities,
  type ProvisionState,
  type ProvisionTaskInput,
  type ProvisionTaskResult,
  type TransitionInput,
} from './provisionTask.contract';
import { currentDetailsOf } from './currentDetails';
import { outlastOutages } from './dependencyOutage';
import { describeActivityFailure, retryableByPolicy, timeoutName } from './failures';
import { DEPENDENCY_PATIENCE_MS, MIRROR_ACTIVITY_OPTIONS, MIRROR_LOCAL_ACTIVITY_OPTIONS, STEP_ACTIVITY_OPTIONS, afterFirstAttempt, firstAttemptOnly } from './policies';
import type { SandboxOutcome, WorkbenchActivities } from './workbenchSession.contract';
import type { SandboxLifecycleActivities } from './sandboxLifecycle.contract';
import { SANDBOX_HOSTS_PATCH, type SandboxPlacementActivities } from './sandboxHosts.contract';
import { TASK_STATUS_ATTRIBUTE } from './searchAttributes';

const { recordTransition } = proxyActivities<Pick<ProvisionActivities, 'recordTransition'>>(MIRROR_ACTIVITY_OPTIONS);
const {
  recordTransition: recordTransitionLocally,
  recordTransitions,
  handOverProvisioning,
} = proxyLocalActivities<Pick<ProvisionActivities, 'recordTransition' | 'recordTransitions' | 'handOverProvisioning'>>(MIRROR_LOCAL_ACTIVITY_OPTIONS);

/**
 * Patch id: the lean history (see the header). It implies every earlier patch of this workflow, so a
 * new run checks it alone and records one marker; runs recorded before it take the path they took.
 */
export const LEAN_HISTORY_PATCH = 'lean-provision-history';

/**
 * Patch id: the mirror write runs as a local activity (measured on the dev server: ~4 ms instead of
 * ~55-100 ms for a regular activity round trip, docs/BENCHMARKS.md). Runs recorded before it keep the
 * regular activity on replay.
 */
export const LOCAL_MIRROR_PATCH = 'mirror-as-local-activity';

/**
 * Patch id: every activity call of the run carries a one-line `summary` naming its step and object
 * (`init_create_sandbox: clone the repository onto <branch>`, `mirror: init_ensure_agent started`),
 * so the Temporal Web UI's timeline reads like the step list (docs/OBSERVABILITY.md). Costs one marker;
 * runs recorded before it replay without summaries.
 */
export const ACTIVITY_SUMMARIES_PATCH = 'web-ui-activity-summaries';

/**
 * Patch id: the run keeps its `TaskStatus` search attribute current (./searchAttributes.ts). It implies
 * the lean and summaries patches, so a new run checks it alone: one marker and the SDK's own
 * `TemporalChangeVersion` upsert instead of two of each. The status is upserted when the run may rest
 * in it (with a mirror write of its own, before a step leaves its local first attempt, while a step
 * waits out an outage, at the end), not for a status the same workflow task passes through: a
 * workflow task's commands are committed together, so such an upsert would never be seen. Naming
 * writes its own start (`ensureName`'s `started`), which keeps a clean run at 35 events with four upserts.
 */
export const TASK_STATUS_PATCH = 'task-status-search-attribute';

/** Step options of this run: the policy, with the per-attempt limit of `overrides` where given (ms). */
function stepOptions(step: ProvisionStep, overrides: ProvisionTaskInput['stepTimeoutsMs']) {
  const limit = overrides?.[step];
  return limit ? { ...STEP_ACTIVITY_OPTIONS[step], startToCloseTimeout: limit } : STEP_ACTIVITY_OPTIONS[step];
}

const { releasePendingSessions } = proxyActivities<Pick<WorkbenchActivities, 'releasePendingSessions'>>(MIRROR_ACTIVITY_OPTIONS);

/**
 * Patch id: runs recorded before workbench tabs existed did not release waiting tabs; `patched` keeps
 * their replay deterministic while new runs do.
 */
export const RELEASE_SESSIONS_PATCH = 'release-workbench-sessions';

const { releasePendingSessions: releasePendingSessionsLocally } = proxyLocalActivities<Pick<WorkbenchActivities, 'releasePendingSessions'>>(MIRROR_LOCAL_ACTIVITY_OPTIONS);

/**
 * Tells the task's tabs waiting in `pending_provision` how provisioning went (docs/PRODUCT.md#pending-tabs);
 * a local activity in a lean run.
 */
async function releaseWaitingTabs(taskId: string, outcome: SandboxOutcome, lean: boolean, summary?: string): Promise<void> {
  if (lean)
    await (
      summary
        ? proxyLocalActivities<Pick<WorkbenchActivities, 'releasePendingSessions'>>({ ...MIRROR_LOCAL_ACTIVITY_OPTIONS, summary }).releasePendingSessions
        : releasePendingSessionsLocally
    )({ taskId, outcome });
  else if (patched(RELEASE_SESSIONS_PATCH)) await releasePendingSessions({ taskId, outcome });
}

const { startSandboxLifecycle } = proxyActivities<Pick<SandboxLifecycleActivities, 'startSandboxLifecycle'>>(MIRROR_ACTIVITY_OPTIONS);

/**
 * Patch id: a running task's sandbox gets its `sandboxLifecycle` run (idle stop, resume, reconcile:
 * docs/PRODUCT.md#sandbox-lifecycle). Runs recorded before it did not start one.
 */
export const SANDBOX_LIFECYCLE_PATCH = 'start-sandbox-lifecycle';

const now = () => new Date().toISOString(); // workflow time: deterministic on replay

/** The event of a transition without its dedupe key's suffix (`{ type, payload }`, in that order). */
const eventOf = (e: NewTaskEvent & { key: string }): NewTaskEvent => ({ type: e.type, payload: e.payload }) as NewTaskEvent;

/** The provider step activities (the mirror writes are proxied separately), and placement. */
type StepActivities = Omit<ProvisionActivities, 'recordTransition' | 'recordTransitions' | 'handOverProvisioning'> &
  Pick<SandboxPlacementActivities, 'placeSandbox' | 'tryPlaceSandbox'>;

export async function provisionTask(input: ProvisionTaskInput): Promise<ProvisionTaskResult> {
  const { taskId } = input;
  const options = (step: ProvisionStep) => stepOptions(step, input.stepTimeoutsMs);
  const runKey = workflowInfo().runId; // dedupe keys are per run: a later retry run writes its own events
  const indexed = patched(TASK_STATUS_PATCH); // first, before any command
  const lean = indexed || patched(LEAN_HISTORY_PATCH);
  const summarized = indexed || (lean && patched(ACTIVITY_SUMMARIES_PATCH));
  /** `o` with a Web UI `summary` in a run that summarizes its activities; `o` unchanged otherwise. */
  const about = <O extends ActivityOptions>(o: O, summary: string): O => (summarized ? { ...o, summary } : o);
  /** The lean mirror writes, each with a summary of what it writes in a run that summarizes. */
  const mirror = (summary: string) =>
    summarized
      ? proxyLocalActivities<Pick<ProvisionActivities, 'recordTransitions' | 'handOverProvisioning'>>({ ...MIRROR_LOCAL_ACTIVITY_OPTIONS, summary })
      : { recordTransitions, handOverProvisioning };
  const state: ProvisionState = {
    taskId,
    status: PROVISION_START_STATUS,
    statusMessage: 'provision queued',
    currentStep: null,
    steps: {},
    lastProgressAt: now(),
  };

  /** The run's `TaskStatus` as last set (at start by the starter, src/temporal/client.ts, or by an upsert). */
  let shownStatus = workflowInfo().typedSearchAttributes.get(TASK_STATUS_ATTRIBUTE);
  /** Upserts `TaskStatus` when the run's status changed since it was last set (a run since the task-status patch). */
  const showStatus = () => {
    if (!indexed || shownStatus === state.status) return;
    shownStatus = state.status;
    upsertSearchAttributes([{ key: TASK_STATUS_ATTRIBUTE, value: state.status }]);
  };

  /** Shows the run's memory as the Web UI's Current Details (memory only: no command, no history event). */
  const showDetails = () => setCurrentDetails(currentDetailsOf(state, Date.now()));
  setHandler(provisionStateQuery, () => state);
  showDetails();
  // Runs recorded before the lean history got their activities' reports as signals.
  setHandler(stepProgressSignal, (p) => {
    const step = state.steps[p.step];
    if (!step || step.endedAt) return; // late report of a finished step
    // After an outage the step is scheduled again and its attempts count from 1: add those spent before.
    const attempt = p.attempt + (step.waitingFor?.attemptsSpent ?? 0);
    if (attempt > step.attempt || !step.attemptStartedAt) {
      step.attempt = attempt;
      step.attemptStartedAt = p.at;
    }
    step.subStep = p.subStep;
    step.lastProgressMessage = p.message;
    step.lastProgressAt = p.at;
    state.lastProgressAt = p.at;
    showDetails();
  });

  const stepTimings = (): Record<string, StepTiming> =>
    Object.fromEntries(Object.entries(state.steps).map(([k, s]) => [k, { startedAt: s.startedAt, endedAt: s.endedAt, attempt: s.attempt }]));

  /** Transitions made but not yet written (lean runs write a step's end with the next one's start). */
  let unwritten: TransitionInput[] = [];
  const takeUnwritten = () => {
    const taken = unwritten;
    unwritten = [];
    return taken;
  };

  /**
   * Records a transition in workflow memory and mirrors it (task row, history event, notification).
   * `deferred`: in a lean run, written with the next transition instead of on its own.
   */
  const transition = async (status: TaskStatus, statusMessage: string, event: NewTaskEvent & { key: string }, fields?: TransitionInput['fields'], deferred = false) => {
    state.status = status;
    state.statusMessage = statusMessage;
    state.lastProgressAt = now();
    showDetails();
    const input: TransitionInput = {
      taskId,
      status,
      statusMessage,
      event: { ...eventOf(event), dedupeKey: `${runKey}:${event.key}` },
      stepTimings: stepTimings(),
      fields,
    };
    if (lean) {
      unwritten.push(input);
      if (!deferred) {
        const transitions = takeUnwritten();
        await mirror(`mirror: ${transitions.map(transitionLabel).join(', ')}`).recordTransitions({ transitions });
        showStatus();
      }
      return;
    }
    await (patched(LOCAL_MIRROR_PATCH) ? recordTransitionLocally : recordTransition)(input);
  };

  /**
   * Calls a short orchestration step. In a lean run its first attempt is a local activity (one marker,
   * no round trip through the task queue); a failure a retry may fix hands the step to a regular
   * activity with the attempts left, so a step that keeps failing is visible in the Web UI as a pending
   * activity with its last failure and heartbeats, as before. A final failure ends the step at once.
   */
  const orchestration = async <T>(o: ActivityOptions, call: (a: StepActivities) => Promise<T>): Promise<T> => {
    if (!lean) return call(proxyActivities<StepActivities>(o));
    try {
      return await call(proxyLocalActivities<StepActivities>(firstAttemptOnly(o)));
    } catch (err) {
      if (!retryableByPolicy(err, o)) throw err;
      showStatus(); // the step now waits on the task queue: its status is what the run shows
      return call(proxyActivities<StepActivities>(afterFirstAttempt(o)));
    }
  };

  /**
   * Runs one step: marks it started, runs its activity (waiting out database outages without spending
   * the step's attempts: ./dependencyOutage.ts), marks it ended; failures end the task in `error`.
   * `writesOwnStart`: in a run since the task-status patch, the step's activity writes its start (handed
   * to `run` as `started`); otherwise the start is mirrored before the activity runs and `started` is empty.
   */
  const step = async <T>(name: ProvisionStep, run: (options: ActivityOptions, started: TransitionInput[]) => Promise<T>, writesOwnStart = false): Promise<T> => {
    const policy = options(name);
    state.currentStep = name;
    state.steps[name] = { startedAt: now(), attempt: 1, startToCloseTimeoutMs: policy.startToCloseTimeout };
    const ownStart = writesOwnStart && indexed;
    await transition(
      name,
      STEP_MESSAGES[name],
      { type: 'task.step', payload: { step: name, status: 'started', message: STEP_MESSAGES[name] }, key: `${name}:started` },
      undefined,
      ownStart,
    );
    const started = ownStart ? takeUnwritten() : [];
    try {
      // Each schedule gets the step's policy with the attempts an outage left of its budget.
      const result = await outlastOutages(policy, (o) => run(o, started), {
        patienceMs: input.dependencyPatienceMs ?? DEPENDENCY_PATIENCE_MS,
        patched: lean,
        onWait: (wait) => {
          const s = state.steps[name]!;
          if (wait) {
            showStatus(); // the run rests in this step until the outage ends
            s.waitingFor = wait;
            s.subStep = `waiting_for_${wait.dependency}`;
            s.lastProgressMessage = `the ${wait.dependency} did not answer; waiting to try again`;
            s.lastProgressAt = now();
          } else {
            s.waitingFor = undefined;
          }
          state.lastProgressAt = now();
          showDetails();
        },
      });
      state.steps[name]!.endedAt = now();
      return result;
    } catch (err) {
      state.steps[name]!.endedAt = now();
      if (isCancellation(err)) throw err; // killed: killTask records the outcome
      const { type, message } = describeFailure(err, name, policy.startToCloseTimeout);
      state.error = { step: name, type, message };
      unwritten.unshift(...started); // a start the step's activity may not have written goes with the error (written once)
      await transition('error', message, { type: 'task.error', payload: { step: name, type, detail: message }, key: `${name}:error` });
      await releaseWaitingTabs(taskId, { kind: 'failed', message }, lean, summarized ? 'release waiting tabs: provisioning failed' : undefined);
      throw ApplicationFailure.create({ type, message, nonRetryable: true, cause: err instanceof Error ? err : undefined });
    }
  };

  /** A step's `task.step {status: completed}` transition (in a lean run, written with the next step's start). */
  const completed = (name: ProvisionStep, message: string, payload: Pick<TaskEventPayloads['task.step'], 'sandboxId' | 'endpoint'>, fields?: TransitionInput['fields']) =>
    transition(name, message, { type: 'task.step', payload: { step: name, status: 'completed', message, ...payload }, key: `${name}:completed` }, fields, true);

  const named = await step(
    'init_ensure_name',
    (o, started) => orchestration(about(o, 'init_ensure_name: a title and a branch from the prompt'), (a) => a.ensureName({ taskId, started })),
    true,
  );
  await transition('init_ensure_name', `named "${named.title}"`, { type: 'task.named', payload: named, key: 'named' }, named, true);

  /** The sandbox's host queue once placed (null: a run recorded before placement, on the shared queue). */
  let hostQueue: string | null = null;
  /** Step activities on the sandbox's host. */
  const onHost = (o: ActivityOptions): StepActivities => proxyActivities<StepActivities>(hostQueue ? { ...o, taskQueue: hostQueue } : o);

  const sandbox = await step('init_create_sandbox', async (o) => {
    if (!lean && !patched(SANDBOX_HOSTS_PATCH)) return onHost(o).createSandbox({ taskId });
    // Placed on the least-loaded live host (waiting, as a regular activity, while none has room), then made there.
    const placing = about(o, 'init_create_sandbox: place the sandbox on a live sandbox host');
    const placed = (lean ? await orchestration(placing, (a) => a.tryPlaceSandbox({ taskId })) : null) ?? (await proxyActivities<StepActivities>(placing).placeSandbox({ taskId }));
    hostQueue = placed.taskQueue;
    return onHost(about(o, `init_create_sandbox: clone the repository onto ${named.branchName} on ${placed.hostId}`)).createSandbox({ taskId, sandboxId: placed.sandboxId });
  });
  await completed('init_create_sandbox', 'sandbox ready', { sandboxId: sandbox.sandboxId }, { activeSandboxId: sandbox.sandboxId });

  const agent = await step('init_ensure_agent', (o) =>
    onHost(about(o, `init_ensure_agent: start sandbox-agent in ${sandbox.sandboxId}`)).ensureAgent({ taskId, sandboxId: sandbox.sandboxId }),
  );
  await completed('init_ensure_agent', 'sandbox-agent healthy', { endpoint: agent.endpoint });

  const session = await step('init_create_session', (o) =>
    onHost(about(o, `init_create_session: open the first agent session in ${sandbox.sandboxId}`)).createSession({ taskId, sandboxId: sandbox.sandboxId }),
  );
  state.currentStep = null;
  await transition(
    'running',
    'session ready',
    { type: 'task.initialized', payload: { provider: sandbox.provider, sandboxId: sandbox.sandboxId, sessionId: session.sessionId, agent: session.agent }, key: 'initialized' },
    { activeSessionId: session.sessionId },
    lean, // lean: written by the hand-over below
  );
  if (lean) {
    // One local activity: `running` written, the tabs waiting for it released (the first shares the
    // session just opened), and the sandbox's lifecycle run started (./sandboxLifecycle.ts).
    await mirror('hand-over: running written, waiting tabs released, sandbox lifecycle started').handOverProvisioning({
      transitions: takeUnwritten(),
      taskId,
      sandboxId: sandbox.sandboxId,
    });
    showStatus();
  } else {
    await releaseWaitingTabs(taskId, { kind: 'ready', sandboxId: sandbox.sandboxId }, lean);
    if (patched(SANDBOX_LIFECYCLE_PATCH)) await startSandboxLifecycle({ taskId, sandboxId: sandbox.sandboxId });
  }
  return { status: 'running', sandboxId: sandbox.sandboxId, sessionId: session.sessionId };
}

/** What a transition writes, for a mirror write's summary: `init_create_sandbox started`, `task.named`. */
function transitionLabel(t: TransitionInput): string {
  return t.event.type === 'task.step' ? `${t.event.payload.step} ${t.event.payload.status}` : t.event.type;
}

/** A step failure as `{type, message}`; the message names the step and, for timeouts, the limit. */
function describeFailure(err: unknown, step: ProvisionStep, limitMs: number): { type: string; message: string } {
  const { type, message, timeout } = describeActivityFailure(err);
  if (timeout) {
    const attempts = STEP_ACTIVITY_OPTIONS[step].retry?.maximumAttempts;
    return { type, message: `${step} failed: timed out (${timeoutName(timeout.timeoutType)}, limit ${limitMs / 1000}s per attempt${attempts ? `, ${attempts} attempts` : ''})` };
  }
  return { type, message: `${step} failed: ${message}` };
}
