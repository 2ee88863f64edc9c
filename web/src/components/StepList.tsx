/**
 * The provisioning steps in run order: state, attempt and duration from the task's events and step
 * timings (the watch's view), and, while the task provisions, the live side of the running step from
 * `GET /v1/tasks/:id/provisioning` (the run's `provisionState` query): sub-step, time of last progress,
 * when the attempt times out, and a wait on an unavailable dependency. That read is repeated every
 * 2 s while the status is `init_*`, and at once when another step starts. While it cannot be answered
 * (503: Temporal or the database not answering, or no connection), the running step says so instead
 * of showing live values that have stopped changing.
 */
import { useEffect, useState } from 'react';
import type { components, StepView, TaskStatus } from '../../../client';
import { useConnection } from '../connection';
import { clock, duration, isProvisioning, STEP_LABELS } from '../format';

type ProvisionState = components['schemas']['ProvisionState'];

const POLL_MS = 2000;

export function StepList(props: { taskId: string; status: TaskStatus; steps: StepView[] }) {
  const { rest } = useConnection();
  const [live, setLive] = useState<ProvisionState | null>(null);
  // Why the live side cannot be read right now (the API's one sentence), or null while it can.
  const [liveUnavailable, setLiveUnavailable] = useState<string | null>(null);
  const provisioning = isProvisioning(props.status);
  const runningStep = props.steps.find((s) => s.state === 'running')?.step ?? null;

  useEffect(() => {
    if (!provisioning) return;
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const read = async () => {
      const answer = await rest.GET('/v1/tasks/{id}/provisioning', { params: { path: { id: props.taskId } } }).catch(() => null);
      if (stopped) return;
      if (answer?.data) {
        setLive(answer.data);
        setLiveUnavailable(null);
      } else if (!answer || answer.response.status === 503) {
        const code = (answer?.error as { error?: { code?: string } } | undefined)?.error?.code;
        setLiveUnavailable(
          code === 'workflow_unavailable' ? 'Temporal is not answering' : code === 'database_unavailable' ? 'the database is not answering' : 'the service cannot be reached',
        );
      }
      timer = setTimeout(() => void read(), POLL_MS);
    };
    void read();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [rest, props.taskId, provisioning, runningStep]);

  return (
    <section className="steps">
      <h2>Provisioning</h2>
      <ol data-testid="steps">
        {props.steps.map((step) => {
          const running = step.state === 'running';
          // Stale live values are not shown as if they were current.
          const state = provisioning && !(running && liveUnavailable) ? live?.steps[step.step] : undefined;
          const timesOutAt = running && state?.attemptStartedAt ? new Date(Date.parse(state.attemptStartedAt) + state.startToCloseTimeoutMs).toISOString() : null;
          return (
            <li key={step.step} className={`step step-${step.state}`} data-step={step.step} data-state={step.state}>
              <div className="step-head">
                <span className="step-state">{step.state}</span>
                <span className="step-label">{STEP_LABELS[step.step]}</span>
                <code className="muted">{step.step}</code>
              </div>
              <dl>
                {(state?.attempt ?? step.attempt) !== null && (
                  <>
                    <dt>attempt</dt>
                    <dd data-testid="attempt">{state?.attempt ?? step.attempt}</dd>
                  </>
                )}
                {step.durationMs !== null && (
                  <>
                    <dt>took</dt>
                    <dd>{duration(step.durationMs)}</dd>
                  </>
                )}
                {running && step.startedAt && (
                  <>
                    <dt>started</dt>
                    <dd>{clock(step.startedAt)}</dd>
                  </>
                )}
                {running && state?.subStep && (
                  <>
                    <dt>now</dt>
                    <dd data-testid="sub-step">{state.subStep}</dd>
                  </>
                )}
                {running && (state?.lastProgressAt || state?.lastProgressMessage) && (
                  <>
                    <dt>last progress</dt>
                    <dd>
                      {clock(state.lastProgressAt)} {state.lastProgressMessage}
                    </dd>
                  </>
                )}
                {timesOutAt && (
                  <>
                    <dt>times out</dt>
                    <dd data-testid="times-out">{clock(timesOutAt)}</dd>
                  </>
                )}
                {running && state?.waitingFor && (
                  <>
                    <dt>waiting</dt>
                    <dd>
                      for the {state.waitingFor.dependency} since {clock(state.waitingFor.since)} (no attempt is spent)
                    </dd>
                  </>
                )}
              </dl>
              {running && liveUnavailable && (
                <p className="muted" data-testid="live-unavailable">
                  Live progress cannot be read right now ({liveUnavailable}); the step goes on.
                </p>
              )}
              {step.message && <p className="step-message">{step.message}</p>}
              {step.error && (
                <p className="error" data-testid="step-error">
                  {step.error}
                </p>
              )}
            </li>
          );
        })}
      </ol>
    </section>
  );
}
