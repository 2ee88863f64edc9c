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
 * Workflow code only: no I/O. The `provisionState` query reads workflow memory; step activities report
 * their attempt and sub-step through the `stepProgress` signal.
 */
import { ApplicationFailure, isCancellation, patched, proxyActivities, proxyLocalActivities, setHandler, workflowInfo, type ActivityOptions } from '@temporalio/workflow';
import type { StepTiming } from '../domain/records';
import { STEP_MESSAGES, type ProvisionStep, type TaskStatus } from '../domain/status';
import {
  provisionStateQuery,
  stepProgressSignal,
  type ProvisionActivities,
  type ProvisionState,
  type ProvisionTaskInput,
  type ProvisionTaskResult,
  type TransitionInput,
} from './provisionTask.contract';
import { outlastOutages } from './dependencyOutage';
import { describeActivityFailure, timeoutName } from './failures';
import { DEPENDENCY_PATIENCE_MS, MIRROR_ACTIVITY_OPTIONS, MIRROR_LOCAL_ACTIVITY_OPTIONS, STEP_ACTIVITY_OPTIONS } from './policies';
import type { SandboxOutcome, WorkbenchActivities } from './workbenchSession.contract';
import type { SandboxLifecycleActivities } from './sandboxLifecycle.contract';
import { SANDBOX_HOSTS_PATCH, type SandboxPlacementActivities } from './sandboxHosts.contract';

const { recordTransition } = proxyActivities<Pick<ProvisionActivities, 'recordTransition'>>(MIRROR_ACTIVITY_OPTIONS);
const { recordTransition: recordTransitionLocally } = proxyLocalActivities<Pick<ProvisionActivities, 'recordTransition'>>(MIRROR_LOCAL_ACTIVITY_OPTIONS);

/**
 * Patch id: the mirror write runs as a local activity (measured on the dev server: ~4 ms instead of
 * ~55-100 ms for a regular activity round trip, docs/BENCHMARKS.md). Runs recorded before it keep the
 * regular activity on replay.
 */
export const LOCAL_MIRROR_PATCH = 'mirror-as-local-activity';

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

/** Tells the task's tabs waiting in `pending_provision` how provisioning went (docs/PRODUCT.md#pending-tabs). */
async function releaseWaitingTabs(taskId: string, outcome: SandboxOutcome): Promise<void> {
  if (patched(RELEASE_SESSIONS_PATCH)) await releasePendingSessions({ taskId, outcome });
}

const { startSandboxLifecycle } = proxyActivities<Pick<SandboxLifecycleActivities, 'startSandboxLifecycle'>>(MIRROR_ACTIVITY_OPTIONS);

/**
 * Patch id: a running task's sandbox gets its `sandboxLifecycle` run (idle stop, resume, reconcile:
 * docs/PRODUCT.md#sandbox-lifecycle). Runs recorded before it did not start one.
 */
export const SANDBOX_LIFECYCLE_PATCH = 'start-sandbox-lifecycle';

const now = () => new Date().toISOString(); // workflow time: deterministic on replay

/** The provider step activities (the mirror write is proxied separately), and placement. */
type StepActivities = Omit<ProvisionActivities, 'recordTransition'> & Pick<SandboxPlacementActivities, 'placeSandbox'>;

export async function provisionTask(input: ProvisionTaskInput): Promise<ProvisionTaskResult> {
  const { taskId } = input;
  const options = (step: ProvisionStep) => stepOptions(step, input.stepTimeoutsMs);
  const runKey = workflowInfo().runId; // dedupe keys are per run: a later retry run writes its own events
  const state: ProvisionState = {
    taskId,
    status: 'init_enqueue_provision',
    statusMessage: 'provision queued',
    currentStep: null,
    steps: {},
    lastProgressAt: now(),
  };

  setHandler(provisionStateQuery, () => state);
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
  });

  const stepTimings = (): Record<string, StepTiming> =>
    Object.fromEntries(Object.entries(state.steps).map(([k, s]) => [k, { startedAt: s.startedAt, endedAt: s.endedAt, attempt: s.attempt }]));

  const transition = async (
    status: TaskStatus,
    statusMessage: string,
    event: Omit<TransitionInput['event'], 'dedupeKey'> & { key: string },
    fields?: TransitionInput['fields'],
  ) => {
    state.status = status;
    state.statusMessage = statusMessage;
    state.lastProgressAt = now();
    const mirror = patched(LOCAL_MIRROR_PATCH) ? recordTransitionLocally : recordTransition;
    await mirror({
      taskId,
      status,
      statusMessage,
      event: { type: event.type, payload: event.payload, dedupeKey: `${runKey}:${event.key}` },
      stepTimings: stepTimings(),
      fields,
    });
  };

  /**
   * Runs one step: marks it started, runs its activity (waiting out database outages without spending
   * the step's attempts: ./dependencyOutage.ts), marks it ended; failures end the task in `error`.
   */
  const step = async <T>(name: ProvisionStep, run: (activities: StepActivities, options: ActivityOptions) => Promise<T>): Promise<T> => {
    const policy = options(name);
    state.currentStep = name;
    state.steps[name] = { startedAt: now(), attempt: 1, startToCloseTimeoutMs: policy.startToCloseTimeout };
    await transition(name, STEP_MESSAGES[name], {
      type: 'task.step',
      payload: { step: name, status: 'started', message: STEP_MESSAGES[name] },
      key: `${name}:started`,
    });
    try {
      // Each schedule gets the step's policy with the attempts an outage left of its budget.
      const result = await outlastOutages(policy, (o) => run(proxyActivities<StepActivities>(o), o), {
        patienceMs: input.dependencyPatienceMs ?? DEPENDENCY_PATIENCE_MS,
        onWait: (wait) => {
          const s = state.steps[name]!;
          if (wait) {
            s.waitingFor = wait;
            s.subStep = `waiting_for_${wait.dependency}`;
            s.lastProgressMessage = `the ${wait.dependency} did not answer; waiting to try again`;
            s.lastProgressAt = now();
          } else {
            s.waitingFor = undefined;
          }
          state.lastProgressAt = now();
        },
      });
      state.steps[name]!.endedAt = now();
      return result;
    } catch (err) {
      state.steps[name]!.endedAt = now();
      if (isCancellation(err)) throw err; // killed: killTask records the outcome
      const { type, message } = describeFailure(err, name, policy.startToCloseTimeout);
      state.error = { step: name, type, message };
      await transition('error', message, { type: 'task.error', payload: { step: name, type, detail: message }, key: `${name}:error` });
      await releaseWaitingTabs(taskId, { kind: 'failed', message });
      throw ApplicationFailure.create({ type, message, nonRetryable: true, cause: err instanceof Error ? err : undefined });
    }
  };

  const named = await step('init_ensure_name', (a) => a.ensureName({ taskId }));
  await transition('init_ensure_name', `named "${named.title}"`, { type: 'task.named', payload: named, key: 'named' }, named);

  /** The sandbox's host queue once placed (null: a run recorded before placement, on the shared queue). */
  let hostQueue: string | null = null;
  /** Step activities on the sandbox's host. */
  const onHost = (a: StepActivities, o: ActivityOptions): StepActivities => (hostQueue ? proxyActivities<StepActivities>({ ...o, taskQueue: hostQueue }) : a);

  const sandbox = await step('init_create_sandbox', async (a, o) => {
    if (!patched(SANDBOX_HOSTS_PATCH)) return a.createSandbox({ taskId });
    // Placed on the least-loaded live host (waiting while none has room), then made there.
    const placed = await a.placeSandbox({ taskId });
    hostQueue = placed.taskQueue;
    return onHost(a, o).createSandbox({ taskId, sandboxId: placed.sandboxId });
  });
  await transition(
    'init_create_sandbox',
    'sandbox ready',
    {
      type: 'task.step',
      payload: { step: 'init_create_sandbox', status: 'completed', message: 'sandbox ready', sandboxId: sandbox.sandboxId },
      key: 'init_create_sandbox:completed',
    },
    { activeSandboxId: sandbox.sandboxId },
  );

  const agent = await step('init_ensure_agent', (a, o) => onHost(a, o).ensureAgent({ taskId, sandboxId: sandbox.sandboxId }));
  await transition('init_ensure_agent', 'sandbox-agent healthy', {
    type: 'task.step',
    payload: { step: 'init_ensure_agent', status: 'completed', message: 'sandbox-agent healthy', endpoint: agent.endpoint },
    key: 'init_ensure_agent:completed',
  });

  const session = await step('init_create_session', (a, o) => onHost(a, o).createSession({ taskId, sandboxId: sandbox.sandboxId }));
  state.currentStep = null;
  await transition(
    'running',
    'session ready',
    { type: 'task.initialized', payload: { provider: sandbox.provider, sandboxId: sandbox.sandboxId, sessionId: session.sessionId, agent: session.agent }, key: 'initialized' },
    { activeSessionId: session.sessionId },
  );
  // Tabs wait for the whole provisioning: the task's first tab shares the session just opened.
  await releaseWaitingTabs(taskId, { kind: 'ready', sandboxId: sandbox.sandboxId });
  // From here on the sandbox sleeps when idle and wakes on use (./sandboxLifecycle.ts).
  if (patched(SANDBOX_LIFECYCLE_PATCH)) await startSandboxLifecycle({ taskId, sandboxId: sandbox.sandboxId });
  return { status: 'running', sandboxId: sandbox.sandboxId, sessionId: session.sessionId };
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
