/**
 * Minimal ACP-over-HTTP client for a sandbox-agent 0.4.2 server (global fetch, Node 20).
 *
 * Still hand-written (issue 17 asked to move to sandbox-agent's SDK or @agentclientprotocol/sdk; not
 * done yet): the `sandbox-agent` 0.4.2 SDK is ESM-only while this service and its Jest run are
 * CommonJS, and it keeps its sessions in a persist driver (in memory by default) bound to one live
 * connection per process, whose `resumeSession` re-creates a session and replays the transcript as
 * text. Using it here means a Postgres-backed driver shared by every worker and an ESM-capable test
 * run; until then this file stays the one place that speaks ACP.
 *
 * sandbox-agent proxies ACP (JSON-RPC 2.0) to an agent process per "ACP server" id chosen by the client:
 * - `POST /v1/acp/{serverId}?agent=<id>`: one JSON-RPC envelope; the first POST creates the server
 *   (spawns the agent process) and needs `agent`. Requests get their JSON-RPC response as the body.
 * - `GET /v1/acp/{serverId}` (Accept: text/event-stream): every message from the agent, responses
 *   included, in order, as SSE events with increasing ids; on connect it replays its buffer (up to 1024
 *   messages) after `Last-Event-ID`, so a huge Last-Event-ID subscribes to new messages only.
 * - `DELETE /v1/acp/{serverId}`: removes the server at once but the request does not return while the
 *   agent process lives (a lock is held by the task waiting for the process); when the client gives
 *   up, the agent's stdin is closed and an agent that exits on EOF (the offline one does) is gone.
 * - `GET /v1/acp`: `{servers: [{serverId, agent, createdAtMs}]}`, the live ACP servers. sandbox-agent
 *   keeps no list of sessions: those live in the agent; ACP `session/list` asks the agent (the
 *   offline agent supports it; real agents may answer -32601).
 * - Statuses: unknown server id: 404 `session_not_found` on GET (SSE), 400 on a POST without
 *   `agent`; agent not installed: 404 `agent_not_installed`; server bound to another agent: 409;
 *   agent did not answer within SANDBOX_AGENT_ACP_REQUEST_TIMEOUT_MS: 504. JSON-RPC errors from the
 *   agent come back as HTTP 200 with an `error` member.
 *
 * Every call takes `timeoutMs` (ms) and throws {@link AcpError} on failure.
 */
import { randomUUID } from 'node:crypto';
import { agentFetch, type AgentTarget } from './agentHttp';

/** timeout: no answer in time (the operation may still complete server-side: do not retry blindly);
 * connection: could not reach the server / connection dropped; http: non-2xx status; rpc: JSON-RPC error. */
export type AcpErrorKind = 'timeout' | 'connection' | 'http' | 'rpc';

export class AcpError extends Error {
  readonly kind: AcpErrorKind;
  /** HTTP status, for kind 'http'. */
  readonly status?: number;
  /** JSON-RPC error code, for kind 'rpc'. */
  readonly code?: number;

  constructor(kind: AcpErrorKind, message: string, details: { status?: number; code?: number; cause?: unknown } = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'AcpError';
    this.kind = kind;
    this.status = details.status;
    this.code = details.code;
  }

  /**
   * True for failures worth retrying as-is: connection refused/reset, HTTP 502/503. Never for timeouts.
   * For createAcpSession/sendPrompt a connection that dropped after the request went out may still have
   * left the work running (AcpError.message says which step failed); retry those with that in mind.
   */
  get transient(): boolean {
    return this.kind === 'connection' || (this.kind === 'http' && (this.status === 502 || this.status === 503));
  }
}

/** The sandbox-agent server to talk to (./agentHttp.ts). */
export type AcpTarget = AgentTarget;

export interface AcpServerInfo {
  serverId: string;
  agent: string;
  createdAtMs: number;
}

export const ACP_PROTOCOL_VERSION = 1;
const CLIENT_INFO = { name: 'task-provisioning-service', version: '0.1.0' };
/** Larger than any event id: subscribe to new events only, skipping the replay buffer. */
const LIVE_ONLY_EVENT_ID = '18446744073709551615';

/**
 * ACP auth methods this client can use without a person, in order of preference: the agent reads the
 * key from its environment (codex-acp: `OPENAI_API_KEY`, which holds the sandbox's egress token; the
 * egress proxy swaps it for the workspace's key). Agents that advertise none (claude-agent-acp, the
 * offline agent) need no `authenticate`.
 */
const ENV_AUTH_METHODS = ['openai-api-key', 'codex-api-key'];

/**
 * Opens an agent session on ACP server `serverId` (created by the first request, with `agent`):
 * `initialize`; `authenticate` with an environment-key method when the agent requires one
 * ({@link ENV_AUTH_METHODS}); then `session/load` of `loadSessionId` when given and the agent can
 * load sessions (falling back to `session/new` when it refuses), else `session/new {cwd}`. With
 * `model`, the session's model is then set: ACP `session/set_model`, or the `model` config option
 * (`session/set_config_option`) for agents that only offer that; claude-agent-acp also gets it in
 * `session/new`'s `_meta.claudeCode.options` (through sandbox-agent 0.4.2 its `session/set_model`
 * answers without the model being used).
 * @param timeoutMs overall limit for all requests, ms.
 * @returns the session id, and whether it was loaded (the agent remembers the conversation).
 * @throws AcpError (kind 'rpc' with `ModelNotSet` in the message when the agent refused the model).
 */
export async function createAcpSession(
  opts: AcpTarget & { serverId: string; agent: string; cwd: string; timeoutMs: number; loadSessionId?: string; model?: string },
): Promise<{ sessionId: string; loaded: boolean }> {
  const signal = AbortSignal.timeout(opts.timeoutMs);
  const target = { ...opts, signal };
  const init = (await rpcRequest(target, 'initialize', {
    protocolVersion: ACP_PROTOCOL_VERSION,
    clientCapabilities: { fs: { readTextFile: false, writeTextFile: false }, terminal: false },
    clientInfo: CLIENT_INFO,
  })) as { agentCapabilities?: { loadSession?: unknown }; authMethods?: Array<{ id?: unknown }> } | null;
  const methods = (init?.authMethods ?? []).map((m) => m.id).filter((id): id is string => typeof id === 'string');
  const authMethod = ENV_AUTH_METHODS.find((id) => methods.includes(id));
  if (authMethod) await rpcRequest(target, 'authenticate', { methodId: authMethod });
  let opened: { sessionId: string; loaded: boolean } | undefined;
  if (opts.loadSessionId && init?.agentCapabilities?.loadSession === true) {
    try {
      await rpcRequest(target, 'session/load', { sessionId: opts.loadSessionId, cwd: opts.cwd, mcpServers: [] });
      opened = { sessionId: opts.loadSessionId, loaded: true };
    } catch (err) {
      if (!(err instanceof AcpError && err.kind === 'rpc')) throw err; // only the agent's refusal falls back to a new session
    }
  }
  if (!opened) {
    // claude-agent-acp takes the model with the session (its SDK options in `_meta`); others ignore `_meta`.
    const meta = opts.model ? { _meta: { claudeCode: { options: { model: opts.model } } } } : {};
    const result = (await rpcRequest(target, 'session/new', { cwd: opts.cwd, mcpServers: [], ...meta })) as { sessionId?: unknown };
    if (typeof result?.sessionId !== 'string') {
      throw new AcpError('rpc', `session/new returned no sessionId: ${JSON.stringify(result)}`);
    }
    opened = { sessionId: result.sessionId, loaded: false };
  }
  if (opts.model) await setSessionModel(target, opened.sessionId, opts.model);
  return opened;
}

/** Sets the session's model: `session/set_model`, else the `model` config option. @throws AcpError 'rpc' ModelNotSet. */
async function setSessionModel(target: AcpTarget & { serverId: string; signal: AbortSignal }, sessionId: string, model: string): Promise<void> {
  try {
    await rpcRequest(target, 'session/set_model', { sessionId, modelId: model });
    return;
  } catch (err) {
    if (!(err instanceof AcpError && err.kind === 'rpc')) throw err;
  }
  try {
    await rpcRequest(target, 'session/set_config_option', { sessionId, configId: 'model', value: model });
  } catch (err) {
    if (!(err instanceof AcpError && err.kind === 'rpc')) throw err;
    throw new AcpError('rpc', `ModelNotSet: the agent did not accept model "${model}": ${err.message}`, { code: err.code });
  }
}

/**
 * Asks the server to close ACP server `serverId` (`DELETE /v1/acp/{serverId}`), waiting at most
 * `timeoutMs` (ms; keep it short, e.g. 1000). The DELETE does not return while the agent process is
 * alive, so a timeout is the normal outcome and means "requested": the server is already unlisted and
 * the agent gets EOF on stdin once we give up.
 * @returns 'closed' (2xx or 404: an unknown id answers 200 at once, so this includes "was not there")
 *   or 'requested' (timed out).
 * @throws AcpError of kind 'connection' (server unreachable) or 'http' (other statuses).
 */
export async function closeAcpServer(opts: AcpTarget & { serverId: string; timeoutMs: number }): Promise<'closed' | 'requested'> {
  try {
    const res = await agentFetch(opts, acpUrl(opts.baseUrl, opts.serverId), 'application/json', {
      method: 'DELETE',
      signal: AbortSignal.timeout(opts.timeoutMs),
    });
    await res.body?.cancel();
    if (!res.ok && res.status !== 404) throw new AcpError('http', `DELETE ACP server ${opts.serverId}: HTTP ${res.status}`, { status: res.status });
    return 'closed';
  } catch (err) {
    const error = toAcpError(err, `DELETE ACP server ${opts.serverId}`);
    if (error.kind === 'timeout') return 'requested';
    throw error;
  }
}

/**
 * Lists the live ACP servers (`GET /v1/acp`).
 * @throws AcpError
 */
export async function listAcpServers(opts: AcpTarget & { timeoutMs: number }): Promise<AcpServerInfo[]> {
  const body = (await getJson(opts, `${opts.baseUrl}/v1/acp`, 'list ACP servers')) as { servers?: AcpServerInfo[] };
  return body.servers ?? [];
}

/**
 * True if ACP server `serverId` is live on the server (listed by `GET /v1/acp`).
 * @throws AcpError (e.g. 'connection' when the sandbox-agent server itself is gone)
 */
export async function acpServerExists(opts: AcpTarget & { serverId: string; timeoutMs: number }): Promise<boolean> {
  return (await listAcpServers(opts)).some((s) => s.serverId === opts.serverId);
}

/**
 * Asks the agent of ACP server `serverId` for its sessions (ACP `session/list`). Agent-dependent:
 * the offline agent answers; others may throw AcpError kind 'rpc' with code -32601.
 * @returns `[{sessionId, cwd}]` (first page only).
 * @throws AcpError; kind 'http' status 400 if the ACP server does not exist.
 */
export async function listAcpSessions(opts: AcpTarget & { serverId: string; timeoutMs: number }): Promise<Array<{ sessionId: string; cwd?: string }>> {
  const result = (await rpcRequest({ ...opts, signal: AbortSignal.timeout(opts.timeoutMs) }, 'session/list', {})) as {
    sessions?: Array<{ sessionId: string; cwd?: string }>;
  };
  return result?.sessions ?? [];
}

/**
 * Sends one prompt to session `sessionId` and streams the reply.
 *
 * Subscribes to the server's SSE stream (new events only), then POSTs `session/prompt {sessionId,
 * prompt: [{type: 'text', text}]}`, calls `onChunk(text)` for each `agent_message_chunk` text of this
 * session as it arrives, and resolves when the prompt's response has come through the stream (so every
 * chunk has been delivered first). On timeout it sends a best-effort `session/cancel`.
 * @param timeoutMs overall limit in ms.
 * @returns `{stopReason}` as the agent reported it ('end_turn', 'cancelled', 'max_tokens', ...).
 * @throws AcpError: 'timeout' (the agent may still be working: not safe to resend), 'connection'
 *   (includes the stream ending early), 'http', 'rpc'.
 */
export async function sendPrompt(
  opts: AcpTarget & {
    serverId: string;
    sessionId: string;
    text: string;
    onChunk: (text: string) => void;
    timeoutMs: number;
    /** Ends the turn early: `session/cancel` is sent and the call throws AcpError 'connection' (aborted). */
    signal?: AbortSignal;
  },
): Promise<{ stopReason: string }> {
  const stop = new AbortController();
  const deadline = AbortSignal.timeout(opts.timeoutMs);
  const signal = AbortSignal.any([deadline, stop.signal, ...(opts.signal ? [opts.signal] : [])]);
  const requestId = `prompt-${randomUUID()}`;
  try {
    const stream = await agentFetch(opts, acpUrl(opts.baseUrl, opts.serverId), 'text/event-stream', {
      headers: { 'Last-Event-ID': LIVE_ONLY_EVENT_ID },
      signal,
    });
    if (!stream.ok || !stream.body) throw await httpError(stream, `subscribe to ACP server ${opts.serverId}`);

    // The stream carries the prompt's response after all its chunks; the POST's own copy of it only
    // matters when the POST fails (HTTP error, unreachable server).
    const streamed = readPromptStream(stream.body, opts.sessionId, requestId, opts.onChunk);
    const posted = rpcRequest(
      { ...opts, signal },
      'session/prompt',
      {
        sessionId: opts.sessionId,
        prompt: [{ type: 'text', text: opts.text }],
      },
      requestId,
    );
    const result = (await Promise.race([streamed, posted.then(() => streamed)])) as { stopReason?: unknown };
    if (typeof result?.stopReason !== 'string') {
      throw new AcpError('rpc', `session/prompt returned no stopReason: ${JSON.stringify(result)}`);
    }
    return { stopReason: result.stopReason };
  } catch (err) {
    const error = deadline.aborted ? new AcpError('timeout', `session/prompt timed out after ${opts.timeoutMs} ms`) : err;
    if (deadline.aborted || opts.signal?.aborted) void cancelPrompt(opts);
    throw toAcpError(error, 'session/prompt');
  } finally {
    stop.abort();
  }
}

/** Reads SSE events until the response to `requestId`; returns its result or throws its error. */
async function readPromptStream(body: ReadableStream<Uint8Array>, sessionId: string, requestId: string, onChunk: (text: string) => void): Promise<unknown> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) throw new AcpError('connection', 'ACP event stream ended before the prompt finished');
      buffer += decoder.decode(value, { stream: true }).replace(/\r\n?/g, '\n');
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const data = sseData(buffer.slice(0, end));
        buffer = buffer.slice(end + 2);
        if (data === undefined) continue;
        const message = JSON.parse(data) as JsonRpcMessage;
        if (message.id === requestId && message.method === undefined) return rpcResult(message, 'session/prompt');
        const params = message.params as SessionUpdateParams | undefined;
        const update = params?.update;
        if (
          message.method === 'session/update' &&
          params?.sessionId === sessionId &&
          update?.sessionUpdate === 'agent_message_chunk' &&
          update.content?.type === 'text' &&
          typeof update.content.text === 'string'
        ) {
          onChunk(update.content.text);
        }
      }
    }
  } finally {
    reader.releaseLock();
  }
}

/** The joined `data:` lines of one SSE event block, or undefined if it has none. */
function sseData(block: string): string | undefined {
  const lines = block.split('\n').filter((l) => l.startsWith('data:'));
  if (lines.length === 0) return undefined;
  return lines.map((l) => l.slice(l.startsWith('data: ') ? 6 : 5)).join('\n');
}

async function cancelPrompt(opts: AcpTarget & { serverId: string; sessionId: string }): Promise<void> {
  try {
    const res = await agentFetch(opts, acpUrl(opts.baseUrl, opts.serverId), 'application/json', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', method: 'session/cancel', params: { sessionId: opts.sessionId } }),
      signal: AbortSignal.timeout(1_000),
    });
    await res.body?.cancel();
  } catch {
    // best effort
  }
}

interface JsonRpcMessage {
  jsonrpc?: string;
  id?: string | number | null;
  method?: string;
  params?: unknown;
  result?: unknown;
  error?: { code?: number; message?: string; data?: unknown };
}

interface SessionUpdateParams {
  sessionId?: string;
  update?: { sessionUpdate?: string; content?: { type?: string; text?: unknown } };
}

/** POSTs one JSON-RPC request (`agent` adds `?agent=`) and returns its result. */
async function rpcRequest(
  opts: AcpTarget & { serverId: string; agent?: string; signal: AbortSignal },
  method: string,
  params: unknown,
  id: string = `${method}-${randomUUID()}`,
): Promise<unknown> {
  const what = `${method} on ACP server ${opts.serverId}`;
  try {
    const url = acpUrl(opts.baseUrl, opts.serverId, opts.agent);
    const res = await agentFetch(opts, url, 'application/json', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id, method, params }),
      signal: opts.signal,
    });
    if (!res.ok) throw await httpError(res, what);
    return rpcResult((await res.json()) as JsonRpcMessage, what);
  } catch (err) {
    throw toAcpError(err, what);
  }
}

function rpcResult(message: JsonRpcMessage, what: string): unknown {
  if (message.error) {
    throw new AcpError('rpc', `${what}: ${message.error.message ?? 'JSON-RPC error'}`, { code: message.error.code });
  }
  return message.result;
}

async function getJson(opts: AcpTarget & { timeoutMs: number }, url: string, what: string): Promise<unknown> {
  try {
    const res = await agentFetch(opts, url, 'application/json', { signal: AbortSignal.timeout(opts.timeoutMs) });
    if (!res.ok) throw await httpError(res, what);
    return await res.json();
  } catch (err) {
    throw toAcpError(err, what);
  }
}

function acpUrl(baseUrl: string, serverId: string, agent?: string): string {
  const url = `${baseUrl.replace(/\/+$/, '')}/v1/acp/${encodeURIComponent(serverId)}`;
  return agent === undefined ? url : `${url}?agent=${encodeURIComponent(agent)}`;
}

/** AcpError of kind 'http' with the status and the problem+json detail when there is one. */
async function httpError(res: Response, what: string): Promise<AcpError> {
  let detail = '';
  try {
    const text = await res.text();
    try {
      const problem = JSON.parse(text) as { detail?: string; title?: string };
      detail = problem.detail ?? problem.title ?? text;
    } catch {
      detail = text;
    }
  } catch {
    // body unreadable: status alone
  }
  return new AcpError('http', `${what}: HTTP ${res.status}${detail ? ` ${detail.slice(0, 300)}` : ''}`, { status: res.status });
}

/** Maps fetch/abort failures onto AcpError kinds; AcpErrors pass through. */
function toAcpError(err: unknown, what: string): AcpError {
  if (err instanceof AcpError) return err;
  const name = (err as { name?: string } | null)?.name;
  if (name === 'TimeoutError') return new AcpError('timeout', `${what}: timed out`, { cause: err });
  if (name === 'AbortError') return new AcpError('connection', `${what}: aborted`, { cause: err });
  if (err instanceof SyntaxError) return new AcpError('http', `${what}: invalid JSON from server`, { cause: err });
  const cause = (err as { cause?: { code?: string; message?: string } } | null)?.cause;
  const reason = cause?.code ?? cause?.message ?? (err instanceof Error ? err.message : String(err));
  return new AcpError('connection', `${what}: ${reason}`, { cause: err });
}
