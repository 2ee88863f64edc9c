/**
 * The egress proxy's memory of recent model API failures per sandbox, so a turn that ended badly can
 * say why in one sentence (docs/PRODUCT.md#agents): the agent's own message is long, varies by agent,
 * and may not say whether the key, the network or a rate limit was at fault. In memory only: the proxy
 * and the turns of a sandbox run on the same sandbox host (the worker), and a failure matters only to
 * the turn it happened in.
 */

/** What went wrong with a model request. */
export type ModelFailureKind = 'no_key' | 'key_refused' | 'rate_limited' | 'unreachable' | 'timeout' | 'model_error';

export interface ModelFailure {
  kind: ModelFailureKind;
  /** HTTP status the agent got. */
  status: number;
  /** `anthropic` | `openai`. */
  provider: string;
  /** Epoch ms. */
  at: number;
  /** Epoch ms of the first failure since the sandbox's last successful model response. */
  streakStartedAt: number;
}

/** The one sentence a tab shows for a turn that ended after `failure` (names the provider and what happened). */
export function describeModelFailure(failure: Pick<ModelFailure, 'kind' | 'provider' | 'status'>): string {
  const api = failure.provider === 'openai' ? 'The OpenAI API' : 'The Anthropic API';
  switch (failure.kind) {
    case 'no_key':
      return `This workspace has no ${failure.provider === 'openai' ? 'OpenAI' : 'Anthropic'} key; set one with PUT /v1/workspaces/{workspaceId}/credentials/${failure.provider}.`;
    case 'key_refused':
      return `${api} refused the workspace's key (HTTP ${failure.status}).`;
    case 'rate_limited':
      return `${api} is rate-limiting this workspace (HTTP 429); try again later.`;
    case 'unreachable':
      return `${api} could not be reached from this host.`;
    case 'timeout':
      return `${api} did not answer in time.`;
    case 'model_error':
      return `${api} answered with an error (HTTP ${failure.status}).`;
  }
}

/** Classifies an upstream status; null for a success (or a client error that is the agent's own). */
export function failureOfStatus(status: number): ModelFailureKind | null {
  if (status === 401 || status === 403) return 'key_refused';
  if (status === 429) return 'rate_limited';
  if (status >= 500) return 'model_error';
  return null;
}

/** Bounded map sandboxId → its newest failure since its last successful model response. */
export class RecentModelFailures {
  private readonly bySandbox = new Map<string, ModelFailure>();

  constructor(private readonly max = 10_000) {}

  note(sandboxId: string, failure: Omit<ModelFailure, 'streakStartedAt'>): void {
    const streak = this.bySandbox.get(sandboxId);
    this.bySandbox.delete(sandboxId);
    this.bySandbox.set(sandboxId, { ...failure, streakStartedAt: streak?.streakStartedAt ?? failure.at });
    if (this.bySandbox.size > this.max) this.bySandbox.delete(this.bySandbox.keys().next().value!);
  }

  /** A successful model response: the sandbox's failure streak ends. */
  succeeded(sandboxId: string): void {
    this.bySandbox.delete(sandboxId);
  }

  /** The sandbox's newest failure at or after `sinceMs` (epoch ms) with no success after it, if any. */
  since(sandboxId: string, sinceMs: number): ModelFailure | null {
    const failure = this.bySandbox.get(sandboxId);
    return failure && failure.at >= sinceMs ? failure : null;
  }
}

/** Failures no retry by the agent can mend: the turn ends at once. */
const FINAL_FAILURES: ReadonlySet<ModelFailureKind> = new Set(['no_key', 'key_refused']);

/**
 * Whether a turn that started at `turnStartedAt` should end now because of `failure`: at once for a
 * missing or refused key, else once the agent's own retries have failed for `graceMs` in a row.
 */
export function turnShouldEnd(failure: ModelFailure | null, turnStartedAt: number, now: number, graceMs: number): boolean {
  if (!failure || failure.at < turnStartedAt) return false;
  return FINAL_FAILURES.has(failure.kind) || now - Math.max(failure.streakStartedAt, turnStartedAt) >= graceMs;
}
