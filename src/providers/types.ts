import type { FinalErrorType } from '../domain/failures';
import type { TaskLogSource } from '../domain/taskLogs';

/**
 * The seam between provisioning and where sandboxes live. The workflow never sees a provider; the
 * activities call one through this interface, chosen by the task's `provider` field. The local
 * provider (./local) implements it on this machine; a remote one (Daytona, E2B, ...) can implement it
 * later without touching the workflow.
 *
 * Every method must be idempotent for the same `sandboxKey`: a retried or replayed activity calls it
 * again and must find and reuse what an earlier attempt made.
 */

/**
 * Called by long operations to report a sub-step (e.g. `cloning`); becomes a heartbeat and live
 * progress, and a `service` line of the task's provisioning log.
 */
export interface ProgressFn {
  (subStep: string, message: string): Promise<void>;
  /**
   * The operation's own output as it arrives (a chunk of git's stderr, of sandbox-agent's start-up
   * output): it becomes the task's provisioning log (src/taskLogs), cleaned and redacted there.
   * Absent where no task reads it (warm pool members). Never throws, never waits.
   */
  output?: (source: TaskLogSource, text: string) => void;
  /** Declares values secret in this operation (a token it hands to a sandbox): they never appear in its output lines. */
  secret?: (...values: string[]) => void;
}

/** What a provider knows about one sandbox; `details` is provider-private and never shown to clients. */
export interface SandboxHandle {
  /** Our durable id for the sandbox (the `sandboxes.id` row), used as the provider's idempotency key. */
  sandboxKey: string;
  /** The provider's own id of the sandbox. */
  providerSandboxId: string;
  /** Path of the repository checkout inside the sandbox. */
  directory: string;
  /** Base URL of sandbox-agent once started. */
  agentEndpoint?: string;
  details: Record<string, unknown>;
}

/** What the service stores of a sandbox (the `sandboxes` row's columns that make a handle). */
export interface StoredSandbox {
  id: string;
  providerSandboxId: string | null;
  directory: string | null;
  agentEndpoint: string | null;
  details: unknown;
}

/** The handle of a stored sandbox, or null while its provider has not made it yet (no provider id or directory). */
export function handleOfStored(row: StoredSandbox): SandboxHandle | null {
  if (!row.providerSandboxId || !row.directory) return null;
  return {
    sandboxKey: row.id,
    providerSandboxId: row.providerSandboxId,
    directory: row.directory,
    agentEndpoint: row.agentEndpoint ?? undefined,
    details: row.details as Record<string, unknown>,
  };
}

export interface CreateSandboxRequest {
  sandboxKey: string;
  repository: string;
  /** The task's branch; null for a warm pool member (no task yet: the repository's default branch stays checked out). */
  branchName: string | null;
  /**
   * The sandbox is a claimed warm pool member (src/pools/claim.ts): its checkout exists; the
   * repository's branches are fetched into it and the task's branch checked out, inside the sandbox.
   */
  claimed?: boolean;
}

export interface AgentEndpoint {
  endpoint: string;
  details: Record<string, unknown>;
}

/** Session key of the agent session that provisioning opens; the task's first tab shares it. */
export const INITIAL_SESSION_KEY = 'initial';

export interface CreateSessionRequest {
  /** Agent id as the client asked for it (`claude`, `codex`, ...). */
  agent: string;
  /** Idempotency key of the session within the sandbox ({@link INITIAL_SESSION_KEY}, or a tab's id). */
  sessionKey: string;
  /** Model the agent should use (the tab's `model`); the agent's default when absent. */
  model?: string;
}

/**
 * What an agent started now needs to reach the host's egress proxy (src/egress): a fresh token (its
 * hash already stored, so the proxy knows it) and the workspace's egress policy mode.
 */
export interface AgentEgress {
  token: string;
  mode: 'deny' | 'allowlist' | 'allow';
}

export interface EnsureAgentOptions {
  /** Issues the egress token for an agent that is about to start (not called when a running agent is reused). */
  egress?: () => Promise<AgentEgress>;
}

export interface AgentSession {
  sessionId: string;
  /** The agent that really serves the session (may be the offline agent when `agent` cannot run here). */
  agent: string;
  /**
   * True when this is the sandbox's earlier session for the same key, taken up again by a restarted
   * agent (ACP `session/load`): the agent remembers the conversation. False for a new session.
   */
  loaded: boolean;
  details: Record<string, unknown>;
}

/** What {@link SandboxProvider.agentStatus} found. */
export interface AgentStatus {
  /** `running`: sandbox-agent answers; `stopped`: it does not run (never started, exited, killed, or the machine restarted). */
  agent: 'running' | 'stopped';
  /** With a session key and a running agent: whether that session is open in it (`gone` after the agent restarted). */
  session?: 'open' | 'gone';
}

export interface SandboxProvider {
  readonly id: string;
  /**
   * Branch names of `repository` (read with git for the local provider); git's messages go to `progress.output`.
   * @throws ProviderError type `RepositoryNotFound` (not retryable) when it does not exist or access is
   *   refused; `ProviderUnavailable` (retryable) when its host cannot be reached right now.
   */
  listBranches(repository: string, progress?: ProgressFn): Promise<string[]>;
  /** Creates the sandbox with `repository` checked out on `branchName`, or resumes the one `sandboxKey` already has. */
  createSandbox(req: CreateSandboxRequest, progress: ProgressFn): Promise<SandboxHandle>;
  /** Returns the live sandbox for `sandboxKey`, or null when it is gone. */
  resumeSandbox(sandboxKey: string): Promise<SandboxHandle | null>;
  /** Stops everything the sandbox runs and removes it. No error when it is already gone. */
  destroySandbox(handle: SandboxHandle): Promise<void>;
  /**
   * Puts the sandbox to sleep (docs/PRODUCT.md#sandbox-lifecycle): ends sandbox-agent and every other
   * process of the sandbox and releases their memory; its files (repository, uncommitted work, HOME)
   * stay. A later {@link ensureAgent} wakes it. No error when nothing runs.
   */
  stopSandbox(handle: SandboxHandle): Promise<void>;
  /**
   * Whether the sandbox's agent runs and, with `sessionKey`, whether that agent session is open in it.
   * Cheap (a process check and, with a session key, one request to the agent); never starts anything.
   */
  agentStatus(handle: SandboxHandle, sessionKey?: string): Promise<AgentStatus>;
  /**
   * Whether this provider instance holds the sandbox (the local provider: it lies under this machine's
   * sandbox root). Reconcile checks only sandboxes their provider holds.
   */
  holds(handle: SandboxHandle): boolean;
  /** Installs (if missing) and starts sandbox-agent, and waits for `/v1/health`; reuses a healthy one. */
  ensureAgent(handle: SandboxHandle, progress: ProgressFn, opts?: EnsureAgentOptions): Promise<AgentEndpoint>;
  /** Opens an agent session in `handle.directory`; reuses the session an earlier attempt opened for `req.sessionKey`. */
  createSession(handle: SandboxHandle, req: CreateSessionRequest, progress: ProgressFn): Promise<AgentSession>;
  /** Ends the agent session of `sessionKey` (and any half-made one); no error when there is none. */
  endSession(handle: SandboxHandle, sessionKey: string): Promise<void>;
  /**
   * Sends one prompt to the session of `sessionKey`; `onChunk` receives the reply's text chunks in order.
   * @param timeoutMs limit for the whole turn, in ms.
   * @param signal ends the turn early (the agent is asked to cancel); the call then throws `PromptFailed`.
   * @throws ProviderError `SessionNotFound` when the session does not exist (not retryable).
   */
  prompt(handle: SandboxHandle, sessionKey: string, text: string, onChunk: (text: string) => void, timeoutMs: number, signal?: AbortSignal): Promise<{ stopReason: string }>;
}

/** Failure types the workflow treats as final (no retry can fix them): the one list, src/domain/failures.ts. */
export type NonRetryableType = FinalErrorType;

/** An error a provider raises with a stable `type`; `retryable: false` ends the task's provisioning. */
export class ProviderError extends Error {
  constructor(
    readonly type: NonRetryableType | 'ProviderUnavailable' | 'SandboxBroken' | 'SessionNotFound' | 'PromptFailed',
    message: string,
    readonly retryable: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ProviderError';
  }
}

/** Providers by id (`local`, ...). */
export type ProviderRegistry = ReadonlyMap<string, SandboxProvider>;
