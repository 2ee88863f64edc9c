/**
 * How the host reaches one sandbox-agent server over HTTP. A confined sandbox's server listens only
 * on its own network namespace's loopback, without a token, and the host reaches it through a Unix
 * socket in the sandbox's host-only directory (root's, mode 0600; src/confinement/network.ts), so no
 * token exists to appear on a command line and no other host user can connect
 * (docs/SECURITY.md#host-trust). An unconfined server (isolation `none`) listens on the host's
 * loopback with a bearer token.
 */
import { Agent, fetch as undiciFetch } from 'undici';

/** Where a sandbox-agent server answers. */
export interface AgentTarget {
  /** `http://<host>:<port>`: the URL requests are addressed to (through `socketPath` when set). */
  baseUrl: string;
  /** Bearer token the server requires, or null when it is reached through `socketPath` (no token). */
  token: string | null;
  /** Unix socket that carries the connection into the sandbox's network namespace. */
  socketPath?: string;
}

const dispatchers = new Map<string, Agent>();

/** One undici Agent per socket path (kept: a sandbox's socket serves every later request). */
function dispatcherFor(socketPath: string): Agent {
  let agent = dispatchers.get(socketPath);
  if (!agent) {
    agent = new Agent({ connect: { socketPath } });
    dispatchers.set(socketPath, agent);
  }
  return agent;
}

/** Closes the connections kept for `socketPath` (when its sandbox is gone). */
export async function forgetAgentSocket(socketPath: string): Promise<void> {
  const agent = dispatchers.get(socketPath);
  dispatchers.delete(socketPath);
  await agent?.close().catch(() => undefined);
}

/**
 * `fetch` of `url` (on `target.baseUrl`) through the target's socket when it has one, with its
 * bearer token (if any) and `Accept: accept` added to `init.headers`.
 */
export async function agentFetch(
  target: AgentTarget,
  url: string,
  accept: string,
  init: { method?: string; headers?: Record<string, string>; body?: string; signal?: AbortSignal } = {},
): Promise<Response> {
  const headers: Record<string, string> = { Accept: accept, ...(target.token ? { Authorization: `Bearer ${target.token}` } : {}), ...init.headers };
  if (!target.socketPath) return fetch(url, { ...init, headers });
  // undici's own fetch, so the dispatcher is of the same undici; its Response is the same web API.
  return (await undiciFetch(url, { ...init, headers, dispatcher: dispatcherFor(target.socketPath) })) as unknown as Response;
}
