/**
 * The "Current Details" of a provisionTask run in the Temporal Web UI: a short Markdown table of its
 * steps (state, attempt, duration, sub-step, last progress, when the current attempt times out), made
 * from the run's memory (./provisionTask.contract.ts `ProvisionState`) and set with
 * `setCurrentDetails` whenever that memory changes. Pure: workflow code. Setting current details
 * issues no command and adds no history event, so it needs no patch: recorded histories replay
 * unchanged (test/replay).
 */
import { markdownCell as cell } from '../domain/markdown';
import { PROVISION_STEPS } from '../domain/status';
import type { ProvisionState, StepState } from './provisionTask.contract';

/** Milliseconds as `1.2 s` / `3 min 4 s`. */
function duration(ms: number): string {
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

/** One step's row; `now` is workflow time (ms). */
function row(name: string, step: StepState | undefined, state: ProvisionState, now: number): string {
  if (!step) return `| ${name} | pending | | | | | |`;
  const failed = state.error?.step === name;
  const status = failed ? 'failed' : step.endedAt ? 'completed' : step.waitingFor ? `waiting for the ${step.waitingFor.dependency}` : 'running';
  const took = duration((step.endedAt ? Date.parse(step.endedAt) : now) - Date.parse(step.startedAt));
  const timesOut = !step.endedAt && step.attemptStartedAt ? new Date(Date.parse(step.attemptStartedAt) + step.startToCloseTimeoutMs).toISOString() : '';
  return `| ${name} | ${status} | ${step.attempt} | ${took} | ${cell(step.subStep ?? '')} | ${cell(step.lastProgressMessage ?? '')} | ${timesOut} |`;
}

/** The table, with the task's status and message above it; `now` is workflow time (ms). */
export function currentDetailsOf(state: ProvisionState, now: number): string {
  return [
    `**${state.status}**: ${cell(state.statusMessage)}`,
    '',
    '| step | state | attempt | duration | sub-step | last progress | attempt times out |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...PROVISION_STEPS.map((name) => row(name, state.steps[name], state, now)),
  ].join('\n');
}
