/**
 * `sandboxLifecycle`: keeps one provisioned sandbox in the state its use calls for
 * (docs/PRODUCT.md#sandbox-lifecycle; contract: ./sandboxLifecycle.contract.ts).
 *
 *   ready --no turn for idleStopMs (durable timer) / stopSandbox--> stopping --> stopped
 *   stopped --resumeSandbox (a tab needs the agent, or a user asks)--> resuming --> ready | lost
 *   ready --agentExited (reconcile found its agent dead)--> stopped
 *   sandboxDestroyed (kill, archive) --> the run ends
 *
 * Commands run one at a time in arrival order; every state change is an activity that writes the
 * sandbox row and a `sandbox.state` event. Tabs that asked for a resume are told how it went with
 * `sandboxAwake`. The run lives as long as the sandbox and continues as new when Temporal suggests it.
 *
 * Workflow code only: no I/O.
 */
import { condition, continueAsNew, getExternalWorkflowHandle, log, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { SandboxStateReason } from '../domain/sandboxLifecycle';
import { outlastOutages } from './dependencyOutage';
import { describeActivityFailure } from './failures';
import { DEPENDENCY_PATIENCE_MS, LIFECYCLE_ACTIVITY_OPTIONS } from './policies';
import { sandboxRouter } from './sandboxRouting';
import {
  agentExitedSignal,
  resumeSandboxSignal,
  sandboxAwakeSignal,
  sandboxDestroyedSignal,
  sandboxLifecycleStateQuery,
  stopSandboxSignal,
  type ResumeOutcome,
  type SandboxLifecycleActivities,
  type SandboxLifecycleInput,
  type SandboxLifecycleState,
  type StopOutcome,
} from './sandboxLifecycle.contract';

type Command = { kind: 'stop'; reason: SandboxStateReason } | { kind: 'resume'; reason: SandboxStateReason; requester?: string } | { kind: 'check_agent' };

/** Serves sandbox `input.sandboxId` until it is destroyed. */
export async function sandboxLifecycle(input: SandboxLifecycleInput): Promise<void> {
  const { sandboxId, idleStopMs } = input;
  const commands: Command[] = [];
  let destroyed = false;
  const state: SandboxLifecycleState = { sandboxId, state: 'unknown', idleStopAt: null, running: null, queued: 0 };

  setHandler(sandboxLifecycleStateQuery, () => ({ ...state, queued: commands.length }));
  setHandler(stopSandboxSignal, ({ reason }) => void commands.push({ kind: 'stop', reason }));
  setHandler(resumeSandboxSignal, ({ reason, requester }) => void commands.push({ kind: 'resume', reason, requester }));
  setHandler(agentExitedSignal, () => void commands.push({ kind: 'check_agent' }));
  setHandler(sandboxDestroyedSignal, () => {
    destroyed = true;
  });

  /** The sandbox's host (src/hosts): looked up at the first command, handed on at continue-as-new. */
  const router = sandboxRouter(input.hostTaskQueue ? { sandboxId, taskQueue: input.hostTaskQueue } : null);
  /** Runs one lifecycle activity, waiting out database outages (./dependencyOutage.ts). */
  const stop = (args: Parameters<SandboxLifecycleActivities['stopSandbox']>[0]): Promise<StopOutcome> =>
    outlastOutages(
      LIFECYCLE_ACTIVITY_OPTIONS.stop,
      async (o) =>
        proxyActivities<SandboxLifecycleActivities>({
          ...(await router.route(sandboxId, o)),
          summary: `lifecycle: put sandbox ${sandboxId} to sleep (${args.reason})`,
        }).stopSandbox(args),
      { patienceMs: DEPENDENCY_PATIENCE_MS },
    );
  const resume = (reason: SandboxStateReason): Promise<ResumeOutcome> =>
    outlastOutages(
      LIFECYCLE_ACTIVITY_OPTIONS.resume,
      async (o) =>
        proxyActivities<SandboxLifecycleActivities>({ ...(await router.route(sandboxId, o)), summary: `lifecycle: wake sandbox ${sandboxId} (${reason})` }).resumeSandbox({
          sandboxId,
          reason,
        }),
      {
        patienceMs: DEPENDENCY_PATIENCE_MS,
      },
    );

  const afterStop = (r: StopOutcome) => {
    if (r.outcome === 'stopped') state.state = 'stopped';
    else if (r.outcome === 'unchanged') state.state = r.state;
    else if (r.outcome === 'gone') destroyed = true;
  };

  /** Tells each tab run that asked how the resume went; a run that has ended is skipped. */
  const tellRequesters = async (requesters: string[], ok: boolean, message?: string) => {
    for (const id of new Set(requesters)) {
      try {
        await getExternalWorkflowHandle(id).signal(sandboxAwakeSignal, { ok, ...(message ? { message } : {}) });
      } catch (err) {
        log.info('tab run not told about the resume (it has ended)', { requester: id, error: describeActivityFailure(err).message });
      }
    }
  };

  // Until a command or a timer says otherwise the sandbox is taken as provisioned: ready.
  state.state = 'ready';
  let idleDueMs = idleStopMs;
  while (!destroyed) {
    const idleTimer = idleStopMs > 0 && state.state === 'ready';
    state.idleStopAt = idleTimer ? new Date(Date.now() + idleDueMs).toISOString() : null;
    const woken = idleTimer ? await condition(() => destroyed || commands.length > 0, idleDueMs) : (await condition(() => destroyed || commands.length > 0), true);
    state.idleStopAt = null;
    if (destroyed) break;
    if (!woken) {
      // The idle timer fired: stop unless a turn ran meanwhile (then wait the rest of the idle time).
      state.running = 'idle_stop';
      const r = await stop({ sandboxId, reason: 'idle', ifIdleForMs: idleStopMs }).catch(reportFailure('idle stop'));
      state.running = null;
      if (r) afterStop(r);
      idleDueMs = r?.outcome === 'busy' ? Math.max(1_000, r.dueInMs) : idleStopMs;
      continue;
    }
    idleDueMs = idleStopMs;
    const command = commands.shift()!;
    if (command.kind === 'resume') {
      // The resumes queued right behind this one are answered by it.
      const requesters = [command.requester, ...takeResumes(commands)].filter((r): r is string => typeof r === 'string');
      state.running = 'resume';
      try {
        const r = await resume(command.reason);
        state.state = r.outcome === 'ready' ? 'ready' : r.outcome === 'lost' ? 'lost' : 'destroyed';
        if (r.outcome === 'gone') destroyed = true;
        await tellRequesters(requesters, r.outcome === 'ready', r.outcome === 'ready' ? undefined : MESSAGES[r.outcome]);
      } catch (err) {
        const message = `waking the sandbox failed: ${describeActivityFailure(err).message}`;
        // What the failed attempts left (an agent half started) is stopped; the next use tries again.
        const r = await stop({ sandboxId, reason: command.reason }).catch(reportFailure('stop after a failed resume'));
        if (r) afterStop(r);
        await tellRequesters(requesters, false, message);
      }
    } else {
      state.running = command.kind;
      const r = await stop(command.kind === 'stop' ? { sandboxId, reason: command.reason } : { sandboxId, reason: 'agent_exited', ifAgentExited: true }).catch(
        reportFailure(command.kind),
      );
      if (r) afterStop(r);
    }
    state.running = null;
    if (!destroyed && commands.length === 0 && workflowInfo().continueAsNewSuggested) {
      const hostTaskQueue = router.known(sandboxId);
      await continueAsNew<typeof sandboxLifecycle>({ ...input, ...(hostTaskQueue ? { hostTaskQueue } : {}) });
    }
  }
}

const MESSAGES = { lost: 'the sandbox is gone: its files could not be found', gone: 'the sandbox was removed' } as const;

/** Removes the resume commands queued right behind the current one and returns their requesters. */
function takeResumes(commands: Command[]): Array<string | undefined> {
  const requesters: Array<string | undefined> = [];
  while (commands[0]?.kind === 'resume') requesters.push((commands.shift() as Extract<Command, { kind: 'resume' }>).requester);
  return requesters;
}

/** A command that failed for good is logged (the run goes on with the next one). */
function reportFailure(what: string) {
  return (err: unknown): null => {
    log.warn(`sandbox ${what} failed`, { error: describeActivityFailure(err).message });
    return null;
  };
}
